"""The stand-in Kaggle server: the real ``kaggle`` client, unpatched, talking to 127.0.0.1.

It answers the calls kaggle-kit makes, in the wire format of kaggle 2.2.x /
kagglesdk (``POST /api/v1/<service>/<Method>``, camelCase JSON; see
``shared/kaggle-api.md``): competition downloads (``DownloadDataFiles``),
dataset downloads (``GetDatasetMetadata``, ``DownloadDataset``),
``ListDataFiles``, the three-step submission upload (``StartSubmissionUpload``
→ ``PUT`` → ``CreateSubmission``), ``ListSubmissions``, ``GetSubmissionLimits``
and ``IntrospectToken``. Every API call needs HTTP Basic auth with the server's
username/key (or its access token as ``Bearer``); anything else gets 401, as on
Kaggle.

Like the real service, it answers on several hosts (one process, told apart by
the request's host):

- ``localhost``: the API (``KAGGLE_API_ENVIRONMENT=LOCALHOST`` points the client there).
- ``STORAGE_HOST``: the storage a download redirects to, cross-host, with a signed
  URL that expires (``url_lifetime`` seconds) and must be fetched *without* the
  API's credentials (a request that carries them is refused), as Kaggle's
  signed Google Cloud Storage URLs are. It honours ``Range`` (206), answers 416
  to a range past the end and honours ``If-Range`` (a changed object comes back
  whole, 200). Submission uploads (``createUrl``) go there too.
- ``GALAXY_ZOO_HOST``: the Galaxy Zoo data site's stand-in (``add_site_file``),
  serving ``gz2_hart16.csv.gz`` as the real site does
  (https://gz2hart.s3.amazonaws.com/gz2_hart16.csv.gz, linked from data.galaxyzoo.org).

The client is pointed here in *proxy mode*: ``KAGGLE_API_ENVIRONMENT=LOCALHOST``
makes it call ``http://localhost/api/...``, and ``http_proxy`` routes that (and
the storage and site hosts) to this server. ``KAGGLE_API_ENVIRONMENT`` is read
once, when ``kaggle`` is first imported, so it must be set before that; the
proxy address can change freely.

Tests inject the failures the real service shows::

    with StandinKaggle() as server:
        server.add_competition("histopathologic-cancer-detection", zip_folder(folder))
        server.fail("DownloadDataFiles", 403, message="You must accept this competition's rules ...")
        server.fail("DownloadDataFiles", 429, times=9, nested=True)  # {"error": {"code": 429, ...}}
        server.fail("file", 500, times=2)          # the storage GET fails twice, then works
        server.drop_connection()                   # the next storage GET stops half-way
        server.stall("file")                       # the next storage GET stops sending, socket open
        server.fail("upload", 500)                 # the submission PUT fails
        server.unusable_upload_url()               # the PUT fails in the client, which prints why
        server.listing_page_size = 50              # ListSubmissions ignores pageSize (kaggle-cli#899)
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
import hmac
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
from urllib.parse import parse_qs, urlencode, urlsplit

from kaggle_kit.errors import KaggleApiError
from kaggle_kit.kaggle_api import patched_environ
from kaggle_kit.standin.archives import zip_folder

DEMO_USERNAME = "kit-standin"
DEMO_KEY = "0123456789abcdef0123456789abcdef"
DEMO_TOKEN = "KGAT_standin0123456789abcdef01234567"
API_PREFIX = "/api/v1/"
FILES_PREFIX = "/files/"
UPLOAD_PREFIX = "/upload/"
# Reserved names (RFC 2606): they never resolve, so only the proxy route reaches them.
STORAGE_HOST = "storage.standin.invalid"
GALAXY_ZOO_HOST = "gz2hart.standin.invalid"
HART16_URL = f"http://{GALAXY_ZOO_HOST}/gz2_hart16.csv.gz"
# Variables that decide which credentials, proxy and data sources the client and kit use.
CLIENT_VARIABLES = (
    "KAGGLE_API_ENVIRONMENT", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN",
    "http_proxy", "HTTP_PROXY", "NO_PROXY", "no_proxy", "KIT_GZ2_HART16_URL",
)
# google.rpc status names, as Kaggle's nested error bodies carry them (kaggle-cli#931).
RPC_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
              429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
STALL_LIMIT = 30.0  # seconds a stalled answer holds its socket before giving up on the client

Scorer = Callable[[str, bytes], "tuple[str, str]"]


@dataclass
class _Fault:
    target: str  # an API method ("DownloadDataFiles"), "file" (storage GET), "upload" (PUT) or "site"
    status: int
    remaining: int
    message: str
    retry_after: str | None = None
    nested: bool = False


class StandinKaggle:
    """A threaded HTTP server on 127.0.0.1 (a free port) speaking the Kaggle API.

    Use it as a context manager; ``requests`` lists what was called, ``submissions``
    what was submitted.
    """

    def __init__(self, *, username: str = DEMO_USERNAME, key: str = DEMO_KEY, token: str = DEMO_TOKEN,
                 daily_submissions: int = 5, scorer: Scorer | None = None, url_lifetime: float = 600.0):
        self.username, self.key, self.token = username, key, token
        self.daily_submissions = daily_submissions
        self.scorer = scorer
        self.url_lifetime = url_lifetime
        self.listing_page_size: int | None = None  # set: ListSubmissions ignores the asked pageSize
        self.requests: list[str] = []
        self.submissions: list[dict] = []
        self._competitions: dict[str, bytes] = {}
        self._datasets: dict[str, bytes] = {}
        self._site_files: dict[tuple[str, str], bytes] = {}
        self._uploads: dict[str, dict] = {}
        self._faults: list[_Fault] = []
        self._drops = 0
        self._stalls: dict[str, int] = {}
        self._unusable_upload_urls = 0
        self._signing_key = os.urandom(16)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._released = threading.Event()
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

    def add_site_file(self, url: str, data: bytes | str | os.PathLike) -> None:
        """Serve ``data`` at ``url`` (e.g. ``HART16_URL``), a plain public file with no auth."""
        parts = urlsplit(url)
        self._site_files[(parts.hostname or "", parts.path)] = data if isinstance(data, bytes) else Path(data).read_bytes()

    # ---- faults -----------------------------------------------------------------------------
    def fail(self, target: str, status: int, times: int = 1, message: str | None = None,
             retry_after: str | None = None, nested: bool = False) -> None:
        """Answer the next ``times`` calls of ``target`` with HTTP ``status``.

        ``target``: an API method ("DownloadDataFiles", "CreateSubmission", "IntrospectToken"...),
        "file" for the storage download, "upload" for the submission PUT, "site" for a
        site file. ``nested``: the body is ``{"error": {"code", "message", "status"}}``, as
        Kaggle's rate limiter answers (kaggle-cli#931), instead of ``{"code", "message"}``.
        """
        text = message or {401: "Unauthenticated", 403: "Permission denied", 404: "Not found",
                           429: "Too many requests"}.get(status, "Internal error")
        with self._lock:
            self._faults.append(_Fault(target, status, times, text, retry_after, nested))

    def drop_connection(self, times: int = 1) -> None:
        """Close the connection half-way through the next ``times`` storage downloads."""
        with self._lock:
            self._drops += times

    def stall(self, target: str = "file", times: int = 1) -> None:
        """The next ``times`` calls of ``target`` stop answering with the socket left open.

        "file" / "site": the headers and half the body are sent, then nothing (a transfer
        that stalls); "upload" or an API method: the request is read and never answered.
        """
        with self._lock:
            self._stalls[target] = self._stalls.get(target, 0) + times

    def unusable_upload_url(self, times: int = 1) -> None:
        """The next ``times`` uploads get a ``createUrl`` the client cannot send to (a ``gs://`` URL
        with a signature): its PUT fails before any byte leaves, and the client prints why."""
        with self._lock:
            self._unusable_upload_urls += times

    def clear_faults(self) -> None:
        """Forget every injected failure that has not happened yet."""
        with self._lock:
            self._faults.clear()
            self._drops = 0
            self._stalls.clear()
            self._unusable_upload_urls = 0

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

    def _take_stall(self, target: str) -> bool:
        with self._lock:
            if self._stalls.get(target, 0) > 0:
                self._stalls[target] -= 1
                return True
        return False

    def release_stalls(self) -> None:
        """End every stall now: the held answers go on (a test's way to let a waiting client finish)."""
        self._released.set()

    def _hold(self) -> bool:
        """Keep a stalled answer's socket open until the server stops or ``STALL_LIMIT`` passes (the client
        has given up: True), or until ``release_stalls`` (False: answer after all)."""
        deadline = time.monotonic() + STALL_LIMIT
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._released.wait(0.05):
                return False
        return True

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> "StandinKaggle":
        handler = type("Handler", (_Handler,), {"standin": self})
        self._stopping.clear()
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="standin-kaggle",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
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
        """Variables that point the real kaggle client (and kit's Hart table fetch) here.

        ``None`` means: unset it. ``credentials``: "key" (KAGGLE_USERNAME/KAGGLE_KEY),
        "token" (KAGGLE_API_TOKEN), or "none" (leave the credential variables unset).
        """
        env: dict[str, str | None] = {name: None for name in CLIENT_VARIABLES}
        env.update(KAGGLE_API_ENVIRONMENT="LOCALHOST", http_proxy=self.url, HTTP_PROXY=self.url,
                   KIT_GZ2_HART16_URL=HART16_URL)
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

    def signed_url(self, path: str) -> str:
        """A storage URL for ``path`` that works until ``url_lifetime`` seconds from now."""
        expires = str(int(time.time() + self.url_lifetime))
        query = urlencode({"Expires": expires, "Signature": self._signature(path, expires)})
        return f"http://{STORAGE_HOST}{path}?{query}"

    def signature_problem(self, path: str, query: str) -> str | None:
        """Why a storage request's signature does not hold, or None when it does."""
        values = parse_qs(query)
        expires, signature = values.get("Expires", [""])[0], values.get("Signature", [""])[0]
        if not hmac.compare_digest(signature, self._signature(path, expires)):
            return "SignatureDoesNotMatch"
        if not expires.isdigit() or int(expires) < time.time():
            return "Request has expired"
        return None

    def _signature(self, path: str, expires: str) -> str:
        return hmac.new(self._signing_key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def start_upload(self, body: dict) -> dict:
        token = uuid.uuid4().hex
        with self._lock:
            self._uploads[token] = {"fileName": body.get("fileName", ""), "data": None,
                                    "competition": body.get("competitionName", "")}
            unusable = self._unusable_upload_urls > 0
            self._unusable_upload_urls -= unusable
        if unusable:
            return {"token": token, "createUrl": f"gs://kaggle-submissions/{token}?X-Goog-Signature={token}"}
        return {"token": token, "createUrl": f"http://{STORAGE_HOST}{UPLOAD_PREFIX}{token}"}

    def receive_upload(self, token: str, data: bytes) -> bool:
        with self._lock:
            if token not in self._uploads:
                return False
            self._uploads[token]["data"] = data
            return True

    def create_submission(self, body: dict) -> tuple[int, dict]:
        """(HTTP status, answer): a new submission, or the refusal Kaggle gives."""
        with self._lock:
            upload = self._uploads.get(body.get("blobFileTokens", ""))
            if upload is None or upload["data"] is None:
                return 400, {"code": 400, "message": "Unknown or incomplete upload token"}
            competition = body.get("competitionName", "")
            if self._count_today(competition) >= self.daily_submissions:
                return 400, {"code": 400, "message": f"Your team has used its {self.daily_submissions} "
                                                     "submissions for today; the count resets at 00:00 UTC"}
            ref = 1000 + len(self.submissions)
            public, private = self.scorer(competition, upload["data"]) if self.scorer else ("", "")
            self.submissions.append({
                "ref": ref, "competition": competition, "fileName": upload["fileName"],
                "date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "description": body.get("submissionDescription", ""),
                "status": "COMPLETE" if self.scorer else "PENDING",
                "publicScore": public, "privateScore": private, "content": upload["data"],
            })
        return 200, {"message": "Successfully submitted to " + competition, "ref": ref}

    def list_submissions(self, competition: str, page: int, page_size: int) -> list[dict]:
        """One page, newest first. With ``listing_page_size`` set the asked size is ignored for the
        page's length but not for its start, so pages overlap (kaggle-cli#899)."""
        with self._lock:
            mine = [s for s in reversed(self.submissions) if s["competition"] == competition]
        start = (max(page, 1) - 1) * page_size
        length = self.listing_page_size or page_size
        return [{k: v for k, v in s.items() if k not in ("competition", "content")}
                for s in mine[start:start + length]]

    def submission_limits(self, competition: str) -> dict:
        with self._lock:
            count = self._count_today(competition)
        return {"numToday": count, "numTotal": count,
                "numAllowedNow": max(self.daily_submissions - count, 0)}

    def _count_today(self, competition: str) -> int:
        return sum(1 for s in self.submissions if s["competition"] == competition)


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

    # In proxy mode the request line carries an absolute URL: its host says which service is meant.
    def _target(self) -> tuple[str, str, str]:
        parts = urlsplit(self.path)
        host = parts.hostname or (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host, parts.path, parts.query

    def do_POST(self):
        host, path, _ = self._target()
        body = self._read_json()
        if not path.startswith(API_PREFIX) or path.count("/") != 4:
            return self._error(404, "No such endpoint")
        method = path.rsplit("/", 1)[1]
        self.standin.requests.append(f"POST {method}")
        if self.standin._take_stall(method) and self.standin._hold():
            self.close_connection = True
            return None
        if method == "IntrospectToken":
            return self._introspect(body)
        if not self.standin.authorised(self.headers.get("Authorization")):
            return self._error(401, "Unauthenticated")
        fault = self.standin._take_fault(method)
        if fault is not None:
            return self._fault(fault)
        route = getattr(self, f"_api_{method}", None)
        if route is None:
            return self._error(404, f"No such method {method}")
        return route(body)

    def do_GET(self):
        host, path, query = self._target()
        self.standin.requests.append(f"GET {path}")
        if host == STORAGE_HOST:
            return self._storage_get(path, query)
        data = self.standin._site_files.get((host, path))
        if data is None:
            return self._error(404, "No such file")
        fault = self.standin._take_fault("site")
        if fault is not None:
            return self._fault(fault)
        self._send_file(data, "application/gzip", stall_target="site")

    def do_PUT(self):
        _, path, _ = self._target()
        self.standin.requests.append("PUT upload")
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.standin._take_stall("upload") and self.standin._hold():
            self.close_connection = True
            return None
        fault = self.standin._take_fault("upload")
        if fault is not None:
            return self._fault(fault)
        if not path.startswith(UPLOAD_PREFIX) or not self.standin.receive_upload(path[len(UPLOAD_PREFIX):], data):
            return self._error(404, "Unknown upload")
        self._json(200, {})

    # ---- storage ----------------------------------------------------------------------------
    def _storage_get(self, path: str, query: str):
        if self.headers.get("Authorization"):
            # A signed URL is its own credential: Kaggle's API key must not travel to storage.
            return self._xml_error(400, "InvalidArgument", "Multiple authentication methods: a signed URL "
                                                           "takes no Authorization header")
        problem = self.standin.signature_problem(path, query)
        if problem is not None:
            return self._xml_error(403, "AccessDenied", problem)
        kind, _, rest = path[len(FILES_PREFIX):].partition("/") if path.startswith(FILES_PREFIX) else ("", "", "")
        archive = self.standin.archive_for(kind, rest[: -len(".zip")]) if rest.endswith(".zip") else None
        if archive is None:
            return self._xml_error(404, "NoSuchKey", "The specified key does not exist.")
        fault = self.standin._take_fault("file")
        if fault is not None:
            return self._fault(fault)
        self._send_file(archive, "application/zip", stall_target="file")

    def _send_file(self, data: bytes, content_type: str, *, stall_target: str):
        etag = '"' + hashlib.sha1(data).hexdigest() + '"'
        start = _range_start(self.headers.get("Range"))
        if start is not None and not _if_range_holds(self.headers.get("If-Range"), etag, self.standin._last_modified):
            start = None  # the object changed since the partial copy was made: send it whole
        if start is not None and start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = start or 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.standin._last_modified)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        body = data[start:]
        if self.standin._take_stall(stall_target):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if self.standin._hold():
                self.close_connection = True
                return None
            body = body[len(body) // 2:]
        if self.standin._take_drop():
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    # ---- API methods ------------------------------------------------------------------------
    def _introspect(self, body):
        fault = self.standin._take_fault("IntrospectToken")
        if fault is not None:
            return self._fault(fault)
        active = body.get("token") == self.standin.token
        return self._json(200, {"active": active, "username": self.standin.username if active else ""})

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
        self._json(200, self.standin.start_upload(body))

    def _api_CreateSubmission(self, body):
        status, answer = self.standin.create_submission(body)
        self._json(status, answer)

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
        self.send_header("Location", self.standin.signed_url(f"{FILES_PREFIX}{kind}/{ref}.zip"))
        self.send_header("Content-Length", "0")
        self.end_headers()

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

    def _fault(self, fault: _Fault):
        if fault.nested:
            status_name = RPC_STATUS.get(fault.status, "UNKNOWN")
            body = {"error": {"code": fault.status, "message": fault.message, "status": status_name}}
            return self._json(fault.status, body, fault.retry_after)
        return self._error(fault.status, fault.message, fault.retry_after)

    def _xml_error(self, status: int, code: str, message: str):
        data = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        self.send_response(status)
        self.send_header("Content-Type", "application/xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(data.encode())))
        self.end_headers()
        self.wfile.write(data.encode())


def _range_start(header: str | None) -> int | None:
    """The first byte asked for by ``Range: bytes=N-``; None when absent or unusable."""
    if not header or not header.startswith("bytes=") or not header.endswith("-"):
        return None
    value = header[len("bytes="):-1]
    return int(value) if value.isdigit() else None


def _if_range_holds(header: str | None, etag: str, last_modified: str) -> bool:
    """RFC 9110 §13.1.5: a range applies only if ``If-Range`` (when sent) names the current object."""
    return header is None or header in (etag, last_modified)


def _archive_bytes(archive: bytes | str | os.PathLike) -> bytes:
    if isinstance(archive, bytes):
        return archive
    path = Path(archive)
    return zip_folder(path) if path.is_dir() else path.read_bytes()


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
                  scorer: Scorer | None = None,
                  site_files: Mapping[str, bytes | str | os.PathLike] | None = None) -> Iterator[StandinKaggle]:
    """Serve these archives (zip bytes, zip files or folders) and point this process's kaggle client here.

    For ``kit demo``: no network and no Kaggle account. ``site_files`` maps URLs (e.g.
    ``HART16_URL``) to files the Galaxy Zoo data site's stand-in serves. Sets the
    client's environment (stand-in access token, proxy) for the block and restores it.

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
        for url, data in (site_files or {}).items():
            server.add_site_file(url, data)
        with patched_environ(server.client_env(credentials="token")):
            yield server
