"""The stand-in Kaggle server: the real ``kaggle`` client, unpatched, talking to 127.0.0.1.

It answers the calls kaggle-kit makes, in the wire format of kaggle 2.2.x /
kagglesdk (``POST /api/v1/<service>/<Method>``, camelCase JSON; see
``shared/kaggle-api.md``): competition downloads (``DownloadDataFiles`` → 302 →
zip, with ``Range`` resume), dataset downloads (``GetDatasetMetadata``,
``DownloadDataset``), ``ListDataFiles``, the three-step submission upload
(``StartSubmissionUpload`` → ``PUT`` → ``CreateSubmission``),
``ListSubmissions``, ``GetSubmissionLimits`` and ``IntrospectToken``. Every
API call needs HTTP Basic auth with the server's username/key (or its access
token as ``Bearer``); anything else gets 401, as on Kaggle.

The client is pointed here in *proxy mode*: ``KAGGLE_API_ENVIRONMENT=LOCALHOST``
makes it call ``http://localhost/api/...``, and ``http_proxy`` routes that to
this server. ``KAGGLE_API_ENVIRONMENT`` is read once, when ``kaggle`` is first
imported, so it must be set before that; the proxy address can change freely.

Tests inject failures::

    with StandinKaggle() as server:
        server.add_competition("histopathologic-cancer-detection", zip_folder(folder))
        server.fail("DownloadDataFiles", 403)      # rules not accepted, once
        server.fail("file", 500, times=2)          # the zip GET fails twice, then works
        server.drop_connection()                   # the next zip GET stops half-way
        server.fail("upload", 500)                 # the submission PUT fails
        env = server.client_env()                  # {name: value or None (= unset)}

``kit demo`` downloads its generated competitions with no network and no
account through :func:`serve_locally`, which starts a server and sets this
process's environment for the client until the block ends::

    with serve_locally(competitions={slug: archive}, datasets={"owner/name": archive}):
        download(get_competition(slug), workspace)
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import io
import json
import os
import socket
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, Mapping
from urllib.parse import urlsplit

from kaggle_kit.errors import KaggleApiError
from kaggle_kit.standin.archives import zip_folder

DEMO_USERNAME = "kit-standin"
DEMO_KEY = "0123456789abcdef0123456789abcdef"
DEMO_TOKEN = "KGAT_standin0123456789abcdef01234567"
API_PREFIX = "/api/v1/"
FILES_PREFIX = "/files/"
UPLOAD_PREFIX = "/upload/"
# Variables that decide which credentials and proxy the kaggle client uses.
CLIENT_VARIABLES = (
    "KAGGLE_API_ENVIRONMENT", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN",
    "http_proxy", "HTTP_PROXY", "NO_PROXY", "no_proxy",
)

Scorer = Callable[[str, bytes], "tuple[str, str]"]


@dataclass
class _Fault:
    target: str  # an API method name ("DownloadDataFiles"), "file" (zip GET) or "upload" (PUT)
    status: int
    remaining: int
    message: str
    retry_after: str | None = None


class StandinKaggle:
    """A threaded HTTP server on 127.0.0.1 (a free port) speaking the Kaggle API.

    Use it as a context manager; ``requests`` lists what was called, ``submissions``
    what was submitted.
    """

    def __init__(self, *, username: str = DEMO_USERNAME, key: str = DEMO_KEY, token: str = DEMO_TOKEN,
                 daily_submissions: int = 5, scorer: Scorer | None = None):
        self.username, self.key, self.token = username, key, token
        self.daily_submissions = daily_submissions
        self.scorer = scorer
        self.requests: list[str] = []
        self.submissions: list[dict] = []
        self._competitions: dict[str, bytes] = {}
        self._datasets: dict[str, bytes] = {}
        self._uploads: dict[str, dict] = {}
        self._faults: list[_Fault] = []
        self._drops = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._last_modified = email.utils.formatdate(time.time() - 3600, usegmt=True)

    # ---- content ----------------------------------------------------------------------------
    def add_competition(self, slug: str, archive: bytes | str | os.PathLike) -> None:
        """Serve ``archive`` (zip bytes, a zip file, or a folder to zip) as the competition's files."""
        self._competitions[slug] = _archive_bytes(archive)

    def add_dataset(self, ref: str, archive: bytes | str | os.PathLike) -> None:
        """Serve ``archive`` as the dataset ``owner/slug``."""
        self._datasets[ref] = _archive_bytes(archive)

    # ---- faults -----------------------------------------------------------------------------
    def fail(self, target: str, status: int, times: int = 1, message: str | None = None,
             retry_after: str | None = None) -> None:
        """Answer the next ``times`` calls of ``target`` with HTTP ``status``.

        ``target``: an API method ("DownloadDataFiles", "CreateSubmission"...), "file" for
        the zip download, "upload" for the submission PUT.
        """
        text = message or {401: "Unauthenticated", 403: "Permission denied", 404: "Not found",
                           429: "Too many requests"}.get(status, "Internal error")
        with self._lock:
            self._faults.append(_Fault(target, status, times, text, retry_after))

    def drop_connection(self, times: int = 1) -> None:
        """Close the connection half-way through the next ``times`` zip downloads."""
        with self._lock:
            self._drops += times

    def clear_faults(self) -> None:
        """Forget every injected failure that has not happened yet."""
        with self._lock:
            self._faults.clear()
            self._drops = 0

    def _take_fault(self, target: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.target == target and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    def _take_drop(self) -> bool:
        with self._lock:
            if self._drops > 0:
                self._drops -= 1
                return True
        return False

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> "StandinKaggle":
        handler = type("Handler", (_Handler,), {"standin": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="standin-kaggle",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "StandinKaggle":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the stand-in Kaggle server is not running; use it in a with block")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def client_env(self, *, credentials: str = "key") -> dict[str, str | None]:
        """Variables that point the real kaggle client here (``None`` means: unset it).

        ``credentials``: "key" (KAGGLE_USERNAME/KAGGLE_KEY), "token" (KAGGLE_API_TOKEN),
        or "none" (leave the credential variables unset).
        """
        env: dict[str, str | None] = {name: None for name in CLIENT_VARIABLES}
        env.update(KAGGLE_API_ENVIRONMENT="LOCALHOST", http_proxy=self.url, HTTP_PROXY=self.url)
        if credentials == "key":
            env.update(KAGGLE_USERNAME=self.username, KAGGLE_KEY=self.key)
        elif credentials == "token":
            env.update(KAGGLE_API_TOKEN=self.token)
        return env

    # ---- request handling (called from the handler threads) ---------------------------------
    def authorised(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return value == self.token
        if scheme == "Basic":
            expected = base64.b64encode(f"{self.username}:{self.key}".encode()).decode()
            return value == expected
        return False

    def archive_for(self, kind: str, ref: str) -> bytes | None:
        return (self._competitions if kind == "competitions" else self._datasets).get(ref)

    def start_upload(self, body: dict, host: str) -> dict:
        token = uuid.uuid4().hex
        with self._lock:
            self._uploads[token] = {"fileName": body.get("fileName", ""), "data": None,
                                    "competition": body.get("competitionName", "")}
        return {"token": token, "createUrl": f"http://{host}{UPLOAD_PREFIX}{token}"}

    def receive_upload(self, token: str, data: bytes) -> bool:
        with self._lock:
            if token not in self._uploads:
                return False
            self._uploads[token]["data"] = data
            return True

    def create_submission(self, body: dict) -> dict | None:
        with self._lock:
            upload = self._uploads.get(body.get("blobFileTokens", ""))
            if upload is None or upload["data"] is None:
                return None
            ref = 1000 + len(self.submissions)
            competition = body.get("competitionName", "")
            public, private = self.scorer(competition, upload["data"]) if self.scorer else ("", "")
            self.submissions.append({
                "ref": ref, "competition": competition, "fileName": upload["fileName"],
                "date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "description": body.get("submissionDescription", ""),
                "status": "COMPLETE" if self.scorer else "PENDING",
                "publicScore": public, "privateScore": private, "content": upload["data"],
            })
        return {"message": "Successfully submitted to " + competition, "ref": ref}

    def list_submissions(self, competition: str, page: int, page_size: int) -> list[dict]:
        with self._lock:
            mine = [s for s in reversed(self.submissions) if s["competition"] == competition]
        start = (max(page, 1) - 1) * page_size
        return [{k: v for k, v in s.items() if k not in ("competition", "content")}
                for s in mine[start:start + page_size]]

    def submission_limits(self, competition: str) -> dict:
        with self._lock:
            count = sum(1 for s in self.submissions if s["competition"] == competition)
        return {"numToday": count, "numTotal": count,
                "numAllowedNow": max(self.daily_submissions - count, 0)}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that hang up (a dropped download, a test's closed socket) are expected, not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    standin: StandinKaggle
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds: a client that stops sending mid-request does not hold a thread forever

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # quiet: tests read ``standin.requests`` instead (never the headers: they hold the key)

    # In proxy mode the request line carries an absolute URL: keep only its path.
    def _path(self) -> str:
        return urlsplit(self.path).path

    def do_POST(self):
        path = self._path()
        body = self._read_json()
        if not path.startswith(API_PREFIX) or path.count("/") != 4:
            return self._error(404, "No such endpoint")
        method = path.rsplit("/", 1)[1]
        self.standin.requests.append(f"POST {method}")
        if method == "IntrospectToken":
            active = body.get("token") == self.standin.token
            return self._json(200, {"active": active, "username": self.standin.username if active else ""})
        if not self.standin.authorised(self.headers.get("Authorization")):
            return self._error(401, "Unauthenticated")
        fault = self.standin._take_fault(method)
        if fault is not None:
            return self._error(fault.status, fault.message, fault.retry_after)
        route = getattr(self, f"_api_{method}", None)
        if route is None:
            return self._error(404, f"No such method {method}")
        return route(body)

    def do_GET(self):
        path = self._path()
        self.standin.requests.append(f"GET {path}")
        if not path.startswith(FILES_PREFIX) or not path.endswith(".zip"):
            return self._error(404, "No such file")
        kind, _, rest = path[len(FILES_PREFIX):].partition("/")
        archive = self.standin.archive_for(kind, rest[: -len(".zip")])
        if archive is None:
            return self._error(404, "No such file")
        fault = self.standin._take_fault("file")
        if fault is not None:
            return self._error(fault.status, fault.message, fault.retry_after)
        self._send_file(archive)

    def do_PUT(self):
        path = self._path()
        self.standin.requests.append("PUT upload")
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.standin._take_fault("upload")
        if fault is not None:
            return self._error(fault.status, fault.message)
        if not path.startswith(UPLOAD_PREFIX) or not self.standin.receive_upload(path[len(UPLOAD_PREFIX):], data):
            return self._error(404, "Unknown upload")
        self._json(200, {})

    # ---- API methods ------------------------------------------------------------------------
    def _api_DownloadDataFiles(self, body):
        return self._redirect_to_archive("competitions", body.get("competitionName", ""), "Competition not found")

    def _api_DownloadDataset(self, body):
        ref = f"{body.get('ownerSlug', '')}/{body.get('datasetSlug', '')}"
        return self._redirect_to_archive("datasets", ref, "Dataset not found")

    def _api_GetDatasetMetadata(self, body):
        ref = f"{body.get('ownerSlug', '')}/{body.get('datasetSlug', '')}"
        if self.standin.archive_for("datasets", ref) is None:
            return self._error(404, "Dataset not found")
        self._json(200, {"info": {"datasetSlug": body.get("datasetSlug"), "ownerUser": body.get("ownerSlug"),
                                  "licenses": [{"name": "CC0-1.0"}]}})

    def _api_ListDataFiles(self, body):
        archive = self.standin.archive_for("competitions", body.get("competitionName", ""))
        if archive is None:
            return self._error(404, "Competition not found")
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            files = [{"name": info.filename, "totalBytes": info.file_size,
                      "creationDate": "2019-01-01T00:00:00.000Z"} for info in opened.infolist() if not info.is_dir()]
        self._json(200, {"files": files, "nextPageToken": ""})

    def _api_StartSubmissionUpload(self, body):
        if self.standin.archive_for("competitions", body.get("competitionName", "")) is None:
            return self._error(404, "Competition not found")
        self._json(200, self.standin.start_upload(body, self.headers.get("Host", "localhost")))

    def _api_CreateSubmission(self, body):
        answer = self.standin.create_submission(body)
        if answer is None:
            return self._error(400, "Unknown or incomplete upload token")
        self._json(200, answer)

    def _api_ListSubmissions(self, body):
        competition = body.get("competitionName", "")
        if self.standin.archive_for("competitions", competition) is None:
            return self._error(404, "Competition not found")
        page, size = int(body.get("page") or 1), int(body.get("pageSize") or 20)
        self._json(200, {"submissions": self.standin.list_submissions(competition, page, size), "nextPageToken": ""})

    def _api_GetSubmissionLimits(self, body):
        self._json(200, self.standin.submission_limits(body.get("competitionName", "")))

    # ---- responses --------------------------------------------------------------------------
    def _redirect_to_archive(self, kind: str, ref: str, missing: str):
        if self.standin.archive_for(kind, ref) is None:
            return self._error(404, missing)
        self.send_response(302)
        self.send_header("Location", f"{FILES_PREFIX}{kind}/{ref}.zip")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_file(self, archive: bytes):
        start = _range_start(self.headers.get("Range"), len(archive))
        status = 206 if start else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(archive) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"' + hashlib.sha1(archive).hexdigest() + '"')
        self.send_header("Last-Modified", self.standin._last_modified)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(archive) - 1}/{len(archive)}")
        self.end_headers()
        body = archive[start:]
        if self.standin._take_drop():
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            value = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def _json(self, status: int, payload: dict, retry_after: str | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, retry_after: str | None = None):
        self._json(status, {"code": status, "message": message}, retry_after)


def _range_start(header: str | None, size: int) -> int:
    """The first byte asked for by ``Range: bytes=N-`` (0 when absent or unusable)."""
    if not header or not header.startswith("bytes=") or not header.endswith("-"):
        return 0
    try:
        start = int(header[len("bytes="):-1])
    except ValueError:
        return 0
    return start if 0 < start < size else 0


def _archive_bytes(archive: bytes | str | os.PathLike) -> bytes:
    if isinstance(archive, bytes):
        return archive
    path = Path(archive)
    return zip_folder(path) if path.is_dir() else path.read_bytes()


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for ``None``, unset) environment variables for the block; restore them after."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def client_mode_error() -> str | None:
    """Why this process's kaggle client cannot be pointed at a stand-in, or None if it can."""
    module = sys.modules.get("kaggle.api.kaggle_api_extended")
    if module is not None and "--local" not in module.KaggleApi.args:
        return ("the kaggle client was imported before KAGGLE_API_ENVIRONMENT=LOCALHOST was set, so it "
                "can only reach the real Kaggle; run the command in a fresh process")
    return None


@contextlib.contextmanager
def serve_locally(competitions: Mapping[str, bytes | str | os.PathLike] | None = None,
                  datasets: Mapping[str, bytes | str | os.PathLike] | None = None,
                  scorer: Scorer | None = None) -> Iterator[StandinKaggle]:
    """Serve these archives (zip bytes, zip files or folders) and point this process's kaggle client here.

    For ``kit demo``: no network and no Kaggle account. Sets the client's environment
    (stand-in access token, proxy) for the block and restores it afterwards.

    >>> with serve_locally(competitions={"histopathologic-cancer-detection": folder}) as server:
    ...     download(get_competition("histopathologic-cancer-detection"), workspace)
    """
    problem = client_mode_error()
    if problem is not None:
        raise KaggleApiError(problem)
    with StandinKaggle(scorer=scorer) as server:
        for slug, archive in (competitions or {}).items():
            server.add_competition(slug, archive)
        for ref, archive in (datasets or {}).items():
            server.add_dataset(ref, archive)
        with patched_environ(server.client_env(credentials="token")):
            yield server
