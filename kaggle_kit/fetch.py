"""A public file over HTTP(S), the way kit downloads Kaggle's archives: resumable, verified, retried.

For files that do not come from Kaggle (the Hart et al. 2016 table from the
Galaxy Zoo data site). The bytes go to ``<dest>.partial`` with a small marker
``<dest>.partial.json`` recording the object's identity (``ETag`` or
``Last-Modified``) and size; an interrupted fetch resumes with ``Range`` and
``If-Range``, so a changed object is fetched whole, never spliced. Every read
has a timeout (a stalled transfer is cut and resumed); 5xx and cut transfers are
retried, 429 is waited out (``kaggle_kit.retry``). The file is renamed to
``dest`` only once ``verify`` accepts it. Proxies come from the environment.

>>> fetch_url("https://gz2hart.s3.amazonaws.com/gz2_hart16.csv.gz", Path("data/x/download/gz2_hart16.csv.gz"),
...           what="the Hart et al. 2016 table", verify=check, hint="pass it with --labels PATH")
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from kaggle_kit.errors import DataError, KitError
from kaggle_kit.retry import RateLimited, Retryable, RetryPolicy, is_stalled, is_unreachable, with_retries
from kaggle_kit.secrets import redact_url

CHUNK = 1 << 20


def fetch_url(url: str, dest: Path, *, what: str, verify: Callable[[Path], None], hint: str,
              retry: RetryPolicy | None = None, progress: bool = True) -> Path:
    """``dest``, fetched from ``url`` (or resumed, or reused when already complete and valid).

    ``verify(path)`` raises ``DataError`` for a file that is not what was wanted; ``hint``
    ends every error message (what to do by hand instead).
    """
    policy = retry or RetryPolicy.from_env()
    shown = redact_url(url)  # a signed URL's query, or user:password, is a credential
    partial, marker = dest.with_name(dest.name + ".partial"), dest.with_name(dest.name + ".partial.json")
    if dest.is_file():
        try:
            verify(dest)
            return dest
        except DataError:
            dest.unlink()  # left by an older, unverifiable fetch: fetch it again
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {dest.parent} to fetch {what} ({exc.strerror}): point --data-dir at a "
                        "writable folder") from None

    def attempt() -> None:
        try:
            _transfer(url, partial, marker, policy.read_timeout, progress, what, shown)
        except (KitError, Retryable, RateLimited):
            raise
        except Exception as exc:  # requests raises many types; each becomes one line
            raise _classify(exc, what, shown, hint, policy) from None

    with_retries(attempt, policy)
    try:
        verify(partial)
    except DataError as exc:
        _remove(partial, marker)
        raise DataError(f"{what} fetched from {shown} is damaged ({exc}); re-run to fetch it again, or {hint}") from None
    os.replace(partial, dest)
    marker.unlink(missing_ok=True)
    return dest


def _transfer(url: str, partial: Path, marker: Path, read_timeout: float, progress: bool, what: str,
              shown: str) -> None:
    """One attempt: resume ``partial`` if its marker says how, else start it; raise on any failure."""
    import requests
    from tqdm.auto import tqdm

    known = _read_marker(marker) if partial.is_file() else {}
    have = partial.stat().st_size if known else 0
    headers = {"Accept-Encoding": "identity"}  # the bytes as stored: sizes and ranges must count the same thing
    if have:
        headers["Range"] = f"bytes={have}-"
        if known.get("validator"):
            headers["If-Range"] = known["validator"]
    with requests.get(url, headers=headers, stream=True, timeout=(read_timeout, read_timeout)) as response:
        if response.status_code == 416:  # the part is no prefix of the object (it shrank): start again
            _remove(partial, marker)
            raise Retryable(DataError(f"{shown} refused to resume the partial {what}: re-run to fetch it whole"))
        response.raise_for_status()
        resumed = response.status_code == 206
        size = int(response.headers.get("Content-Length") or 0) + (have if resumed else 0) or None
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if not resumed:
            have = 0
            marker.write_text(json.dumps({"validator": validator, "size": size}), encoding="utf-8")
        with open(partial, "ab" if resumed else "wb") as out, tqdm(
            total=size, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=what,
            disable=not progress, leave=False,
        ) as bar:
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    if size is not None and partial.stat().st_size != size:
        raise Retryable(DataError(f"the transfer of {what} from {shown} ended early ({partial.stat().st_size} of "
                                  f"{size} bytes): re-run to resume it"))


def _classify(exc: BaseException, what: str, shown: str, hint: str, policy: RetryPolicy) -> KitError | Retryable | RateLimited:
    import requests

    host = urlsplit(shown).hostname or shown
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 429:
            retry_after = exc.response.headers.get("Retry-After", "")
            return RateLimited(host, f"the fetch of {what}", exc.response.reason or "Too Many Requests",
                               float(retry_after) if retry_after.isdigit() else None, DataError)
        if status >= 500:
            return Retryable(DataError(f"{host} answered HTTP {status} to the fetch of {what} ({policy.attempts} "
                                       f"attempts): re-run later, or {hint}"))
        return DataError(f"{host} answered HTTP {status} ({exc.response.reason}) to the fetch of {what} from {shown}: "
                         f"{hint}")
    if isinstance(exc, OSError) and getattr(exc, "filename", None) and not isinstance(exc, requests.RequestException):
        return DataError(f"cannot write {exc.filename} while fetching {what} ({exc.strerror}): free disk space or "
                         "point --data-dir at a writable folder")
    if isinstance(exc, requests.ConnectionError) and is_unreachable(exc):
        return DataError(f"cannot reach {host} to fetch {what} ({type(exc).__name__}): check the network "
                         f"connection (HTTPS_PROXY/HTTP_PROXY behind a proxy), or {hint}")
    if is_stalled(exc):
        return Retryable(DataError(f"{host} stopped sending {what} (nothing for {policy.read_timeout:g} s, "
                                   f"{policy.attempts} attempts): re-run to resume, or {hint}"))
    if isinstance(exc, (requests.RequestException, OSError, ValueError)):
        return Retryable(DataError(f"the connection to {host} kept dropping while fetching {what} "
                                   f"({policy.attempts} attempts, last: {type(exc).__name__}): re-run to resume, "
                                   f"or {hint}"))
    return DataError(f"fetching {what} from {shown} failed ({type(exc).__name__}): {hint}")


def _read_marker(marker: Path) -> dict:
    try:
        value = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
