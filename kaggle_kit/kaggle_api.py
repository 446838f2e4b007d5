"""The Kaggle API through the official ``kaggle`` client, with kaggle-kit's errors and retries.

``import kaggle`` authenticates at import and calls ``exit(1)`` without
credentials, so credentials are checked here first (their presence and their
shape: a token with a trailing ``\\r`` or one too long to be tested as a path
would crash the client) and the client is imported only inside the functions
that call it. Its own printing is swallowed (its progress bars, on stderr, are
kept); its ``SystemExit`` never escapes. Authentication, which makes a network
call with an access token, goes through the same retries and messages as every
other call. Every HTTP failure becomes one line naming the fix, with Kaggle's
own words where it gives some; 5xx and cut or stalled transfers are retried with
exponential backoff, 429 is waited out for minutes (``kaggle_kit.retry``). No
credential ever appears in a message: every text that leaves this module is
scrubbed of the secrets in use, in any spelling.

>>> zip_path = download_competition_zip("histopathologic-cancer-detection", Path("data/dl"))
>>> submit_file("histopathologic-cancer-detection", Path("sub.csv"), "kit-resnet 96px").remaining_today
4
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import stat
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping, TypeVar
from urllib.parse import urlsplit

from kaggle_kit.errors import ConfigError, CredentialsError, KaggleApiError, KitError, SubmissionError
from kaggle_kit.retry import (
    NoAnswer, RateLimited, Retryable, RetryPolicy, is_stalled, is_unreachable, with_retries, within,
)
from kaggle_kit.secrets import Scrubber, basic_credentials, shape_problem, too_long_for_a_path

__all__ = [
    "Credentials", "KaggleKeyPermissionWarning", "RetryPolicy", "SubmitResult", "download_competition_zip",
    "download_dataset_zip", "find_credentials", "kaggle_competition_ref", "list_submissions", "split_dataset_ref",
    "submissions_table", "submit_file",
]

T = TypeVar("T")
TOKEN_PAGE = "https://www.kaggle.com/settings"
UPLOAD_FAILED = "Could not submit to competition"  # KaggleApi.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE
SUBMISSION_FIELDS = ("ref", "fileName", "date", "description", "status", "publicScore", "privateScore")
SUBMISSION_PAGE_SIZE = 20
MAX_SUBMISSION_PAGES = 50
HEADER_LINE = re.compile(r"^\s*[A-Za-z][\w-]*: ")  # "Authorization: Bearer ..." in a verbose request dump
URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+")
XML_MESSAGE = re.compile(r"<Message>([^<]{1,300})</Message>")
UPLOAD_MIN_RATE = 50_000  # bytes per second an upload is given before it counts as stalled


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
        return Scrubber(self.secrets)(text)


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
    """The credentials the client will use, in its own order; ``CredentialsError`` if there are none
    or one is malformed (the message names where it came from, never its value).

    Warns (``KaggleKeyPermissionWarning``) when kaggle.json is readable by group or others.
    """
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        problem = shape_problem(name, env[name]) if env.get(name) else None
        if problem:
            raise CredentialsError(problem)
    config_file = kaggle_config_dir(env) / "kaggle.json"
    file_values, file_problem = _read_kaggle_json(config_file)
    username = env.get("KAGGLE_USERNAME") or file_values.get("username", "")
    key = env.get("KAGGLE_KEY") or file_values.get("key", "")
    basic = basic_credentials(username, key) if key else ""

    token, token_source = _access_token(env, home)
    if token:
        return Credentials("token", token_source, config_file, (token, env.get("KAGGLE_API_TOKEN", ""), key, basic))
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
    for name in ("username", "key"):
        problem = shape_problem(f'the "{name}" in {path}', str(values[name]))
        if problem:
            return {}, problem
    return {"username": str(values["username"]), "key": str(values["key"])}, ""


def _access_token(env: Mapping[str, str], home: Path) -> tuple[str, str]:
    """(token, where it came from), as the client reads it: KAGGLE_API_TOKEN (value or file), then ~/.kaggle.

    A value the client cannot use (a line break, or too long to be tested as a file path,
    which makes the client fail with an error quoting it) is a ``CredentialsError``.
    """
    value = env.get("KAGGLE_API_TOKEN", "")
    if value:
        problem = shape_problem("KAGGLE_API_TOKEN", value)
        if problem:
            raise CredentialsError(problem)
        if too_long_for_a_path(value):
            raise CredentialsError(
                f"KAGGLE_API_TOKEN is {len(value)} characters long; the kaggle client first tests it as a file "
                "path, which fails for a value that long: save the token in ~/.kaggle/access_token "
                "(chmod 600) and unset KAGGLE_API_TOKEN"
            )
        if Path(value).is_file():
            return _token_file(Path(value)), f"KAGGLE_API_TOKEN ({value})"
        return value, "KAGGLE_API_TOKEN"
    for name in ("access_token", "access_token.txt"):
        path = home / ".kaggle" / name
        if path.is_file():
            token = _token_file(path)
            if token:
                return token, str(path)
    return "", ""


def _token_file(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()  # the client strips it too
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise CredentialsError(f"cannot read the access token file {path} ({reason}): "
                               f"save the token from {TOKEN_PAGE} there as plain text") from None
    problem = shape_problem(f"the access token in {path}", token)
    if problem:
        raise CredentialsError(problem)
    return token


# ---- what a call is about ------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    """What a call is about, for the messages: ``the download of competition 'x'``."""

    kind: str  # "competition" or "dataset"
    ref: str
    action: str  # "download", "submission", "submission list"
    path: Path | None = None  # the file being written, if any

    def __str__(self) -> str:
        return f"the {self.action} of {self.kind} '{self.ref}'"


# ---- the client ------------------------------------------------------------------------------

@contextlib.contextmanager
def _client(credentials: Credentials, target: _Target, policy: RetryPolicy) -> Iterator["object"]:
    """An authenticated ``KaggleApi``; its printing swallowed, its ``SystemExit`` turned into an error.

    With an access token, authenticating is a network call (``IntrospectToken``): it gets
    the same retries and messages as any other call, and a deadline.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        api = _new_api(credentials, target)

        def authenticate() -> None:
            try:
                api.authenticate()
            except SystemExit:  # authenticate() calls exit(1) when no credential works
                raise CredentialsError(
                    f"Kaggle rejected the credentials from {credentials.source}: they are invalid or expired; "
                    f"create a new token at {TOKEN_PAGE}"
                ) from None

        _run(target, credentials, policy, lambda: within(authenticate, policy.read_timeout))
        yield api


def _new_api(credentials: Credentials, target: _Target):
    api = _import_client(target)()
    # The class fixed its kaggle.json path when first imported; follow today's environment.
    api.config_dir, api.config = str(credentials.config_file.parent), str(credentials.config_file)
    return api


# What ``import kaggle`` reads to sign in at import; hidden while it is imported (see ``_import_client``).
IMPORT_TIME_CREDENTIALS = ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_KERNEL_RUN_TYPE",
                           "XDG_CONFIG_HOME")


def _import_client(target: _Target):
    """The client's ``KaggleApi`` class, imported so that its import-time sign-in stays off the network
    and out of HOME.

    ``import kaggle`` authenticates at import: with an access token that is an
    ``IntrospectToken`` call without a timeout (a stalled server would hang the import),
    and it creates its settings folder under HOME (failing on a read-only HOME). So it is
    imported with no credentials in sight and a private, empty settings folder; kit signs
    in afterwards (``_client``) with retries and a deadline. The client's code is untouched.
    """
    module = sys.modules.get("kaggle.api.kaggle_api_extended")
    if module is not None:
        return module.KaggleApi
    try:
        with tempfile.TemporaryDirectory(prefix="kit-kaggle-import-") as quiet:
            hidden: dict[str, str | None] = {name: None for name in IMPORT_TIME_CREDENTIALS}
            with patched_environ({**hidden, "HOME": quiet, "KAGGLE_CONFIG_DIR": quiet}):
                from kaggle.api.kaggle_api_extended import KaggleApi
    except OSError as exc:
        raise KaggleApiError(f"cannot load the kaggle client for {target} ({exc.strerror or exc}): check that "
                             "the temporary folder (TMPDIR) is writable") from None
    return KaggleApi


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


def _classify(exc: BaseException, target: _Target, credentials: Credentials, policy: RetryPolicy,
              attempts: int) -> KitError | Retryable | RateLimited:
    """One failure of the client → the error to raise, or a ``Retryable``/``RateLimited`` wrapping it."""
    import requests
    import urllib3

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _http_error(exc.response, target, credentials, attempts)
    if isinstance(exc, NoAnswer) or is_stalled(exc):
        return Retryable(KaggleApiError(
            f"Kaggle stopped answering during {target} (nothing for {policy.read_timeout:g} s, "
            f"{_attempts(attempts)}): check the network connection, then re-run the same command to resume"
        ))
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = exc.filename or target.path or "the download folder"
        return KaggleApiError(f"no space left on device while writing {where} during {target}: "
                              "free disk space or point --data-dir at a bigger disk")
    if isinstance(exc, OSError) and exc.filename and not isinstance(exc, requests.RequestException):
        return KaggleApiError(f"cannot write {exc.filename} during {target} ({exc.strerror}): check the "
                              "folder's permissions, or point --data-dir elsewhere")
    if isinstance(exc, requests.ConnectionError) and is_unreachable(exc):
        return KaggleApiError(
            f"cannot reach Kaggle for {target} ({type(exc).__name__}): check the network connection, "
            "or set HTTPS_PROXY/HTTP_PROXY if you are behind a proxy"
        )
    if isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL)):
        return KaggleApiError(f"the kaggle client could not build its request for {target} "
                              f"({type(exc).__name__}): check the Kaggle credentials and proxy settings")
    if isinstance(exc, (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError)):
        # A transfer cut short (reset, size mismatch): the partial zip is resumed next time.
        return Retryable(KaggleApiError(
            f"the connection to Kaggle kept dropping during {target} ({_attempts(attempts)}, last: "
            f"{type(exc).__name__}): re-run the same command to resume"
        ))
    # Anything else the client raises: one line, never a traceback that could quote a header.
    return KaggleApiError(f"the kaggle client failed during {target} ({type(exc).__name__}: "
                          f"{credentials.scrub(str(exc))[:300]}): re-run; if it persists, upgrade kaggle")


def _http_error(response, target: _Target, credentials: Credentials, attempts: int) -> KitError | Retryable | RateLimited:
    status = response.status_code
    ref, kind = target.ref, target.kind
    said = server_message(response)
    if _from_storage(response) and status not in (401, 429) and status < 500:
        # The signed link a download redirects to was refused (expired, say): a new call gets a new link.
        return Retryable(KaggleApiError(
            f"Kaggle's storage answered HTTP {status} ({said}) to {target} ({_attempts(attempts)}): re-run later"
        ))
    if status == 401:
        return CredentialsError(
            f"Kaggle rejected the credentials from {credentials.source} (HTTP 401): the key is wrong or "
            f"expired; create a new token at {TOKEN_PAGE}"
        )
    if status == 403:
        return KaggleApiError(f"Kaggle refused {target} (HTTP 403: {said}): {_refusal_fix(said, kind, ref)}")
    if status == 404 and kind == "competition":
        return KaggleApiError(f"competition '{ref}' not found on Kaggle (HTTP 404) during {target}: "
                              "check the slug (it is the last part of the competition's URL)")
    if status == 404:
        return KaggleApiError(f"dataset '{ref}' not found on Kaggle (HTTP 404): check the name, "
                              "or pass the right one with --dataset owner/slug")
    if status == 429:
        return RateLimited("Kaggle", str(target), said, _retry_after(response))
    if status >= 500:
        return Retryable(KaggleApiError(
            f"Kaggle answered HTTP {status} to {target} ({_attempts(attempts)}): the service is having "
            "trouble; re-run later"
        ))
    return KaggleApiError(f"Kaggle answered HTTP {status} to {target}: {said}")


def _refusal_fix(said: str, kind: str, ref: str) -> str:
    """What to do about a 403, read from Kaggle's own words (kaggle-cli#152, #555, #488; mle-bench#14)."""
    text = said.lower()
    if kind == "dataset":
        return f"the dataset is private or its terms must be accepted at https://www.kaggle.com/datasets/{ref}"
    if "entrant" in text:
        return (f"the competition does not accept new entrants now; its data and late submissions open once it "
                f"completes (https://www.kaggle.com/c/{ref}/rules)")
    if "phone" in text or "verif" in text:
        return f"verify your Kaggle account (phone number) at {TOKEN_PAGE}, then re-run"
    if "late" in text or "deadline" in text or "closed" in text:
        return (f"the competition is closed to submissions; if it offers late submissions, join them on "
                f"https://www.kaggle.com/c/{ref}, then re-run")
    if "rule" in text or "participate" in text or said in ("", "Forbidden", "Permission denied"):
        return f"accept the competition's rules at https://www.kaggle.com/c/{ref}/rules, then re-run"
    return f"check your access on https://www.kaggle.com/c/{ref} (rules accepted, account verified), then re-run"


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _retry_after(response) -> float | None:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None


def _from_storage(response) -> bool:
    """True for an answer of the storage a download redirects to; the API's paths hold ``/v1/``."""
    return "/v1/" not in urlsplit(getattr(response, "url", "") or "").path


def server_message(response) -> str:
    """Kaggle's own words in an error answer: ``{"message"}``, ``{"error": {"message"}}`` (kaggle-cli#931),
    or a storage error's ``<Message>``."""
    try:
        body = response.json()
    except ValueError:
        found = XML_MESSAGE.search(response.text or "")
        return found.group(1).strip()[:300] if found else (response.reason or "no details")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    message = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(message).split())[:300] if message else (response.reason or "no details")


def _run(target: _Target, credentials: Credentials, policy: RetryPolicy, call: Callable[[], T],
         may_retry: Callable[[BaseException], bool] = lambda exc: True) -> T:
    """``call()`` with retries; every failure becomes a one-line KitError with the secrets scrubbed."""

    def attempt() -> T:
        try:
            return call()
        except KitError:
            raise
        except Exception as exc:  # the client raises many types; each becomes one line
            outcome = _classify(exc, target, credentials, policy, policy.attempts)
            if isinstance(outcome, (Retryable, RateLimited)) and not may_retry(exc):
                outcome = _classify(exc, target, credentials, policy, 1)
                if isinstance(outcome, Retryable):
                    outcome = outcome.error
                elif isinstance(outcome, RateLimited):
                    outcome = outcome.final_error(1, 0.0, policy.clock() + timedelta(minutes=30))
            raise outcome from None

    try:
        return with_retries(attempt, policy)
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
    policy = retry or RetryPolicy.from_env()
    outfile.parent.mkdir(parents=True, exist_ok=True)
    with _client(credentials, target, policy) as api:

        def fetch() -> Path:
            with api.build_kaggle_client() as kaggle:
                _patient_session(kaggle, policy.read_timeout)
                response = ask(kaggle)  # POST ... → 302 → the zip on storage, streamed
                # The client resumes a partial file only when its marker proves it is the same object;
                # its own retries are off (max_retries=0): ours, with a shorter backoff, take over.
                api.download_file(response, str(outfile), kaggle.http_client(), quiet=not progress,
                                  resume=True, max_retries=0, timeout=policy.read_timeout)
            return outfile

        return _run(target, credentials, policy, fetch)


def _patient_session(kaggle, read_timeout: float) -> None:
    """Give the client's session a read timeout: its first, streamed response has none, so a
    transfer that stops sending would wait forever. (Mounting an adapter is requests' own API.)"""
    import requests
    from requests.adapters import HTTPAdapter

    class PatientAdapter(HTTPAdapter):
        def send(self, request, stream=False, timeout=None, **kwargs):
            if timeout is None or timeout == (None, None):
                timeout = (read_timeout, read_timeout)
            return super().send(request, stream=stream, timeout=timeout, **kwargs)

    session = getattr(kaggle.http_client(), "_session", None)
    if isinstance(session, requests.Session):
        for scheme in ("http://", "https://"):
            session.mount(scheme, PatientAdapter())


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

    Refuses before uploading when Kaggle says no submission is left today. Only 429 is
    retried: after a 5xx the submission may exist, so re-sending could count twice.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path} not found: write the submission first (kit submit)")
    credentials = find_credentials()
    policy = retry or RetryPolicy.from_env()
    target = _Target("competition", competition_ref, "submission")
    with _client(credentials, target, policy) as api:
        if _remaining_today(api, competition_ref, policy.read_timeout) == 0:
            raise SubmissionError(
                f"no submissions left today for competition '{competition_ref}' (Kaggle's daily limit is used up), "
                f"so {path.name} was not uploaded: re-run after Kaggle resets the count at 00:00 UTC "
                f"({_next_utc_midnight():%H:%M} your time)"
            )

        def send():
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                try:
                    response = within(lambda: api.competition_submit(str(path), message, competition_ref, quiet=True),
                                      policy.read_timeout + path.stat().st_size / UPLOAD_MIN_RATE)
                except NoAnswer:
                    # The client's upload has no timeout of its own; the abandoned call may still finish.
                    raise SubmissionError(
                        f"Kaggle stopped answering the upload of {path.name} to competition '{competition_ref}' "
                        f"(nothing for {policy.read_timeout:g} s): it may still arrive; check `kit submissions` "
                        "before uploading again"
                    ) from None
            if response.message == UPLOAD_FAILED:
                # The client prints why before returning that message (kaggle-cli#621).
                reason = _printed_reason(printed.getvalue(), credentials) or "Kaggle's storage refused the file"
                raise SubmissionError(
                    f"the upload of {path.name} to competition '{competition_ref}' failed ({reason}), "
                    "so nothing was submitted: re-run the upload"
                )
            return response

        response = _run(target, credentials, policy, send, may_retry=_rate_limited)
        remaining = _remaining_today(api, competition_ref, policy.read_timeout)
    return SubmitResult(competition_ref, path.name, response.message, response.ref or None, remaining)


def _printed_reason(printed: str, credentials: Credentials) -> str:
    """The last line the client printed, scrubbed; none of its request dumps (VERBOSE=1 prints headers),
    and URLs without their query (an upload URL's signature is a credential)."""
    lines = [line.strip() for line in printed.splitlines() if line.strip() and not HEADER_LINE.match(line)]
    if not lines:
        return ""
    return credentials.scrub(URL.sub(_link_only, lines[-1]))[:300]


def _link_only(match: re.Match) -> str:
    """A URL cut to its scheme and host: an upload link's path and query are its credentials."""
    parts = urlsplit(match.group(0))
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def _next_utc_midnight() -> datetime:
    now = datetime.now(timezone.utc)
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0).astimezone()


def _rate_limited(exc: BaseException) -> bool:
    return getattr(getattr(exc, "response", None), "status_code", None) == 429


def _remaining_today(api, competition_ref: str, read_timeout: float) -> int | None:
    import requests

    try:
        limits = within(lambda: api.competition_get_submission_limits(competition_ref), read_timeout)
        return int(limits.num_allowed_now)
    except (requests.RequestException, NoAnswer, ValueError, TypeError):
        return None  # a limits-endpoint blip must not block or fail a submission


def list_submissions(competition_ref: str, *, retry: RetryPolicy | None = None) -> list[dict]:
    """Past submissions, newest first, as dicts with the keys of ``SUBMISSION_FIELDS``.

    Pages are joined by each submission's ``ref``: the server may ignore ``pageSize``
    (kaggle-cli#899), so pages can overlap; a page with nothing new ends the listing.
    """
    credentials = find_credentials()
    policy = retry or RetryPolicy.from_env()
    target = _Target("competition", competition_ref, "submission list")
    rows: dict[object, dict] = {}
    with _client(credentials, target, policy) as api:
        for page in range(1, MAX_SUBMISSION_PAGES + 1):
            batch = _run(target, credentials, policy, lambda page=page: within(lambda: api.competition_submissions(
                competition_ref, page_number=page, page_size=SUBMISSION_PAGE_SIZE), policy.read_timeout) or [])
            new = [item for item in batch if item is not None and item.ref not in rows]
            rows.update((item.ref, _submission_row(item)) for item in new)
            if len(batch) < SUBMISSION_PAGE_SIZE or not new:
                break
    return list(rows.values())


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
