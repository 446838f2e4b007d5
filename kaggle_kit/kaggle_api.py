"""The Kaggle API through the official ``kaggle`` client, with kaggle-kit's errors and retries.

``import kaggle`` authenticates at import and calls ``exit(1)`` without
credentials, so credentials are checked here first and the client is imported
only inside the functions that call it. Its own printing is swallowed (its
progress bars, on stderr, are kept); its ``SystemExit`` never escapes. Every
HTTP failure becomes one line naming the fix; 429, 5xx and dropped transfers
are retried with exponential backoff (``RetryPolicy``; ``KIT_KAGGLE_RETRIES``,
``KIT_KAGGLE_BACKOFF``). The key never appears in a message: every text that
leaves this module is scrubbed of the secrets in use.

>>> zip_path = download_competition_zip("histopathologic-cancer-detection", Path("data/dl"))
>>> submit_file("histopathologic-cancer-detection", Path("sub.csv"), "kit-resnet 96px").remaining_today
4
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import json
import os
import stat
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, TypeVar

from kaggle_kit.errors import ConfigError, CredentialsError, KaggleApiError, KitError, SubmissionError

T = TypeVar("T")
TOKEN_PAGE = "https://www.kaggle.com/settings"
UPLOAD_FAILED = "Could not submit to competition"  # KaggleApi.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE
SUBMISSION_FIELDS = ("ref", "fileName", "date", "description", "status", "publicScore", "privateScore")
SUBMISSION_PAGE_SIZE = 20
MAX_SUBMISSION_PAGES = 50


class KaggleKeyPermissionWarning(UserWarning):
    """kaggle.json can be read by other users of this machine."""


# ---- credentials -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    """Where the client will find credentials; the secret values are kept only to scrub them."""

    kind: str  # "token", "key" or "oauth"
    source: str  # e.g. "KAGGLE_USERNAME/KAGGLE_KEY" or "/home/me/.kaggle/kaggle.json"
    config_file: Path  # the kaggle.json the client must read (it fixed its own path at import)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def kaggle_config_dir(env: Mapping[str, str]) -> Path:
    """Where the client looks for kaggle.json: $KAGGLE_CONFIG_DIR, ~/.kaggle, else $XDG_CONFIG_HOME/kaggle."""
    if env.get("KAGGLE_CONFIG_DIR"):
        return Path(env["KAGGLE_CONFIG_DIR"])
    home = Path(env.get("HOME") or Path.home())
    legacy = home / ".kaggle"
    if legacy.exists() or not sys.platform.startswith("linux"):
        return legacy
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"


def find_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials the client will use, in its own order; ``CredentialsError`` if there are none.

    Warns (``KaggleKeyPermissionWarning``) when kaggle.json is readable by group or others.
    """
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    config_file = kaggle_config_dir(env) / "kaggle.json"
    file_values, file_problem = _read_kaggle_json(config_file)
    username = env.get("KAGGLE_USERNAME") or file_values.get("username", "")
    key = env.get("KAGGLE_KEY") or file_values.get("key", "")
    basic = base64.b64encode(f"{username}:{key}".encode()).decode() if key else ""

    token, token_source = _access_token(env, home)
    if token:
        return Credentials("token", token_source, config_file, (token, key, basic))
    if username and key:
        source = "KAGGLE_USERNAME/KAGGLE_KEY" if env.get("KAGGLE_KEY") else str(config_file)
        return Credentials("key", source, config_file, (key, basic))
    oauth = home / ".kaggle" / "credentials.json"
    if oauth.is_file():
        return Credentials("oauth", str(oauth), config_file)
    if file_problem:
        raise CredentialsError(file_problem)
    raise CredentialsError(
        f"no Kaggle credentials found: put kaggle.json in {config_file.parent}, or set KAGGLE_USERNAME and "
        f"KAGGLE_KEY, or set KAGGLE_API_TOKEN; create a token at {TOKEN_PAGE}"
    )


def _read_kaggle_json(path: Path) -> tuple[dict[str, str], str]:
    """(username and key, "") from kaggle.json; ({}, what is wrong) when it is unusable; ({}, "") when absent.

    Like the client, an unusable file is not fatal while other credentials exist.
    """
    if not path.is_file():
        return {}, ""
    if path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.warn(
            f"{path} is readable by other users of this machine; make it private: chmod 600 {path}",
            KaggleKeyPermissionWarning,
            stacklevel=3,
        )
    try:
        values = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        values = None
    if not isinstance(values, dict) or not values.get("username") or not values.get("key"):
        return {}, (f'{path} does not hold Kaggle credentials ({{"username": ..., "key": ...}}): '
                    f"download a new kaggle.json from {TOKEN_PAGE}")
    return {"username": str(values["username"]), "key": str(values["key"])}, ""


def _access_token(env: Mapping[str, str], home: Path) -> tuple[str, str]:
    """(token, where it came from), as the client reads it: KAGGLE_API_TOKEN (value or file), then ~/.kaggle."""
    value = env.get("KAGGLE_API_TOKEN", "")
    if value:
        if Path(value).is_file():
            return Path(value).read_text(encoding="utf-8").strip(), f"KAGGLE_API_TOKEN ({value})"
        return value, "KAGGLE_API_TOKEN"
    for name in ("access_token", "access_token.txt"):
        path = home / ".kaggle" / name
        if path.is_file():
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return token, str(path)
    return "", ""


# ---- retries ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry 429, 5xx and dropped transfers."""

    attempts: int = 4
    base_delay: float = 2.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RetryPolicy":
        """Defaults, overridden by ``KIT_KAGGLE_RETRIES`` (attempts) and ``KIT_KAGGLE_BACKOFF`` (seconds)."""
        env = os.environ if env is None else env
        try:
            attempts = int(env.get("KIT_KAGGLE_RETRIES", cls.attempts))
            base_delay = float(env.get("KIT_KAGGLE_BACKOFF", cls.base_delay))
        except ValueError:
            raise KaggleApiError("KIT_KAGGLE_RETRIES must be an integer and KIT_KAGGLE_BACKOFF a number of seconds")
        return cls(attempts=max(attempts, 1), base_delay=max(base_delay, 0.0))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wanted = retry_after if retry_after is not None else self.base_delay * 2 ** (attempt - 1)
        return min(wanted, self.max_delay)


@dataclass(frozen=True)
class _Target:
    """What a call is about, for the messages: ``the download of competition 'x'``."""

    kind: str  # "competition" or "dataset"
    ref: str
    action: str  # "download", "submission", "submission list"
    path: Path | None = None  # the file being written, if any

    def __str__(self) -> str:
        return f"the {self.action} of {self.kind} '{self.ref}'"


class _Retryable(Exception):
    """A failure worth another attempt; carries the error to raise if attempts run out."""

    def __init__(self, error: KitError, retry_after: float | None = None):
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


def _with_retries(call: Callable[[], T], policy: RetryPolicy) -> T:
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except _Retryable as failure:
            if attempt == policy.attempts:
                raise failure.error from None
            policy.sleep(policy.delay(attempt, failure.retry_after))
    raise AssertionError("unreachable: the last attempt returns or raises")


# ---- the client ------------------------------------------------------------------------------

@contextlib.contextmanager
def _client(credentials: Credentials) -> Iterator["object"]:
    """An authenticated ``KaggleApi``; its printing swallowed, its ``SystemExit`` turned into an error."""
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            # The class fixed its kaggle.json path when first imported; follow today's environment.
            api.config_dir, api.config = str(credentials.config_file.parent), str(credentials.config_file)
            api.authenticate()
        except SystemExit:  # authenticate() calls exit(1) when no credential works
            raise CredentialsError(
                f"Kaggle rejected the credentials from {credentials.source}: they are invalid or expired; "
                f"create a new token at {TOKEN_PAGE}"
            ) from None
        yield api


def _classify(exc: BaseException, target: _Target, credentials: Credentials, attempts: int) -> KitError | _Retryable:
    """One failure of the client → the error to raise, or a ``_Retryable`` wrapping it."""
    import requests
    import urllib3

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _http_error(exc.response, target, credentials, attempts)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = exc.filename or target.path or "the download folder"
        return KaggleApiError(f"no space left on device while writing {where} during {target}: "
                              "free disk space or point --data-dir at a bigger disk")
    if isinstance(exc, OSError) and exc.filename and not isinstance(exc, requests.RequestException):
        return KaggleApiError(f"cannot write {exc.filename} during {target} ({exc.strerror}): check the "
                              "folder's permissions, or point --data-dir elsewhere")
    if isinstance(exc, requests.ConnectionError) and _unreachable(exc):
        return KaggleApiError(
            f"cannot reach Kaggle for {target} ({type(exc).__name__}): check the network connection, "
            "or set HTTPS_PROXY/HTTP_PROXY if you are behind a proxy"
        )
    if isinstance(exc, (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError)):
        # A transfer cut short (reset, timeout, size mismatch): the partial zip is resumed next time.
        return _Retryable(KaggleApiError(
            f"the connection to Kaggle kept dropping during {target} ({_attempts(attempts)}, last: "
            f"{type(exc).__name__}): re-run the same command to resume"
        ))
    raise exc


def _http_error(response, target: _Target, credentials: Credentials, attempts: int) -> KitError | _Retryable:
    status = response.status_code
    ref, kind = target.ref, target.kind
    if status == 401:
        return CredentialsError(
            f"Kaggle rejected the credentials from {credentials.source} (HTTP 401): the key is wrong or "
            f"expired; create a new token at {TOKEN_PAGE}"
        )
    if status == 403 and kind == "competition":
        return KaggleApiError(
            f"Kaggle refused {target} (HTTP 403): accept the competition's rules at "
            f"https://www.kaggle.com/c/{ref}/rules, then re-run"
        )
    if status == 403:
        return KaggleApiError(f"Kaggle refused {target} (HTTP 403): the dataset is private or its terms "
                              f"must be accepted at https://www.kaggle.com/datasets/{ref}")
    if status == 404 and kind == "competition":
        return KaggleApiError(f"competition '{ref}' not found on Kaggle (HTTP 404) during {target}: "
                              "check the slug (it is the last part of the competition's URL)")
    if status == 404:
        return KaggleApiError(f"dataset '{ref}' not found on Kaggle (HTTP 404): check the name, "
                              "or pass the right one with --dataset owner/slug")
    if status == 429:
        return _Retryable(KaggleApiError(
            f"Kaggle kept rate-limiting {target} (HTTP 429, {_attempts(attempts)}): wait a few minutes and re-run"
        ), _retry_after(response))
    if status >= 500:
        return _Retryable(KaggleApiError(
            f"Kaggle answered HTTP {status} to {target} ({_attempts(attempts)}): the service is having "
            "trouble; re-run later"
        ))
    return KaggleApiError(f"Kaggle answered HTTP {status} to {target}: {_server_message(response)}")


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _retry_after(response) -> float | None:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None


def _server_message(response) -> str:
    try:
        return str(response.json().get("message", "")) or response.reason
    except ValueError:
        return response.reason or "no details"


def _unreachable(exc: BaseException) -> bool:
    """True for refused connections, unknown hosts and unusable proxies (not for transfers cut short)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if type(item).__name__ in ("NewConnectionError", "NameResolutionError", "ProxyError", "ConnectionRefusedError"):
            return True
        pending.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])
    return False


def _run(target: _Target, credentials: Credentials, policy: RetryPolicy | None, call: Callable[[], T],
         may_retry: Callable[[BaseException], bool] = lambda exc: True) -> T:
    """``call()`` with retries; every failure becomes a one-line KitError with the secrets scrubbed."""
    policy = policy or RetryPolicy.from_env()

    def attempt() -> T:
        try:
            return call()
        except KitError:
            raise
        except Exception as exc:  # the client raises many types; each is classified, unknown ones re-raised
            outcome = _classify(exc, target, credentials, policy.attempts)
            if isinstance(outcome, _Retryable) and not may_retry(exc):
                outcome = _classify(exc, target, credentials, 1).error
            raise outcome from None

    try:
        return _with_retries(attempt, policy)
    except KitError as error:
        raise type(error)(credentials.scrub(str(error))) from None


# ---- downloads -------------------------------------------------------------------------------

def download_competition_zip(ref: str, dest_dir: Path, *, progress: bool = True,
                             retry: RetryPolicy | None = None) -> Path:
    """Fetch a competition's files as ``dest_dir/<ref>.zip`` (resuming a partial one); return its path."""
    credentials = find_credentials()
    from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFilesRequest

    request = ApiDownloadDataFilesRequest()
    request.competition_name = ref
    outfile = dest_dir / f"{ref}.zip"
    return _download_zip(_Target("competition", ref, "download", outfile), credentials, progress, retry,
                         lambda kaggle: kaggle.competitions.competition_api_client.download_data_files(request))


def split_dataset_ref(ref: str) -> tuple[str, str]:
    """``"owner/slug"`` → ``("owner", "slug")``; ``ConfigError`` for anything else."""
    owner, _, slug = ref.partition("/")
    if not owner or not slug or "/" in slug:
        raise ConfigError(f"dataset reference '{ref}' is not owner/slug: "
                          "pass e.g. --dataset jaimetrickz/galaxy-zoo-2-images")
    return owner, slug


def download_dataset_zip(ref: str, dest_dir: Path, *, progress: bool = True,
                         retry: RetryPolicy | None = None) -> Path:
    """Fetch a dataset (``owner/slug``) as ``dest_dir/<slug>.zip`` (resuming a partial one); return its path."""
    owner, slug = split_dataset_ref(ref)
    credentials = find_credentials()
    from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

    request = ApiDownloadDatasetRequest()
    request.owner_slug, request.dataset_slug = owner, slug
    outfile = dest_dir / f"{slug}.zip"
    return _download_zip(_Target("dataset", ref, "download", outfile), credentials, progress, retry,
                         lambda kaggle: kaggle.datasets.dataset_api_client.download_dataset(request))


def _download_zip(target: _Target, credentials: Credentials, progress: bool, retry: RetryPolicy | None,
                  ask: Callable[[object], object]) -> Path:
    outfile = target.path
    outfile.parent.mkdir(parents=True, exist_ok=True)
    with _client(credentials) as api:

        def fetch() -> Path:
            with api.build_kaggle_client() as kaggle:
                response = ask(kaggle)  # POST ... → 302 → the zip, streamed
                # The client resumes a partial file only when its marker proves it is the same object;
                # its own retries are off (max_retries=0): ours, with a shorter backoff, take over.
                api.download_file(response, str(outfile), kaggle.http_client(), quiet=not progress,
                                  resume=True, max_retries=0)
            return outfile

        return _run(target, credentials, retry, fetch)


# ---- submissions -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmitResult:
    """What Kaggle said to an upload. ``remaining_today`` is None when Kaggle did not say."""

    competition: str
    file_name: str
    message: str
    ref: int | None
    remaining_today: int | None


def submit_file(competition_ref: str, path: Path, message: str, *, retry: RetryPolicy | None = None) -> SubmitResult:
    """Upload ``path`` to a competition (start upload → PUT → create submission); never reports a failed PUT as success.

    Only 429 is retried: after a 5xx the submission may exist, so re-sending could count twice.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path} not found: write the submission first (kit submit)")
    credentials = find_credentials()
    target = _Target("competition", competition_ref, "submission")
    with _client(credentials) as api:

        def send():
            response = api.competition_submit(str(path), message, competition_ref, quiet=True)
            if response.message == UPLOAD_FAILED:
                raise SubmissionError(
                    f"the upload of {path.name} to competition '{competition_ref}' failed (Kaggle's storage "
                    "refused the file), so nothing was submitted: re-run the upload"
                )
            return response

        response = _run(target, credentials, retry, send, may_retry=_rate_limited)
        remaining = _remaining_today(api, competition_ref)
    return SubmitResult(competition_ref, path.name, response.message, response.ref or None, remaining)


def _rate_limited(exc: BaseException) -> bool:
    return getattr(getattr(exc, "response", None), "status_code", None) == 429


def _remaining_today(api, competition_ref: str) -> int | None:
    import requests

    try:
        return int(api.competition_get_submission_limits(competition_ref).num_allowed_now)
    except (requests.RequestException, ValueError, TypeError):
        return None  # a limits-endpoint blip must not turn a successful submission into a failure


def list_submissions(competition_ref: str, *, retry: RetryPolicy | None = None) -> list[dict]:
    """Past submissions, newest first, as dicts with the keys of ``SUBMISSION_FIELDS``."""
    credentials = find_credentials()
    target = _Target("competition", competition_ref, "submission list")
    rows: list[dict] = []
    with _client(credentials) as api:
        for page in range(1, MAX_SUBMISSION_PAGES + 1):
            batch = _run(target, credentials, retry, lambda page=page: api.competition_submissions(
                competition_ref, page_number=page, page_size=SUBMISSION_PAGE_SIZE) or [])
            rows.extend(_submission_row(item) for item in batch if item is not None)
            if len(batch) < SUBMISSION_PAGE_SIZE:
                break
    return rows


def _submission_row(item) -> dict:
    date = item.date.strftime("%Y-%m-%d %H:%M:%S") if item.date else ""
    return {
        "ref": item.ref,
        "fileName": item.file_name or "",
        "date": date,
        "description": item.description or "",
        "status": getattr(item.status, "name", str(item.status)),
        "publicScore": item.public_score or "",
        "privateScore": item.private_score or "",
    }


def kaggle_competition_ref(competition) -> str:
    """The Kaggle competition a kit competition submits to; ``SubmissionError`` for locally scored ones."""
    if competition.source_kind != "competition":
        raise SubmissionError(f"{competition.slug} has no Kaggle leaderboard (it is scored locally): "
                              f"see kit leaderboard {competition.slug}")
    return competition.source_ref


def submissions_table(rows: list[dict], competition_ref: str, fmt: str = "table") -> str:
    """``list_submissions`` rows as ``fmt`` (an aligned table, newest first; JSON or CSV with ``SUBMISSION_FIELDS``)."""
    from kaggle_kit.tables import column, render

    if not rows and fmt == "table":
        return f"No submissions yet to {competition_ref}."
    titles = {"publicScore": "public", "privateScore": "private", "fileName": "file"}
    shown = ("ref", "date", "status", "publicScore", "privateScore", "fileName", "description")
    return render(rows, fmt, keys=SUBMISSION_FIELDS, columns=[column(key, titles.get(key), str) for key in shown])
