"""Retrying network calls: backoff after failures, patience with rate limits, a deadline for answers.

Kaggle's rate limit on downloads can last 30 minutes and more, and its
``Retry-After`` header is not to be trusted (kaggle-cli#931, #938), so HTTP 429
is waited out separately from other failures: delays from 30 s doubling to 10
minutes (``Retry-After`` counts only when it asks for longer), for up to
``rate_limit_wait`` seconds in all, with a countdown on stderr; then one line
saying when to try again.

>>> policy = RetryPolicy.from_env()
>>> with_retries(lambda: fetch_once(), policy)
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator, Mapping, TextIO, TypeVar

from kaggle_kit.errors import KaggleApiError, KitError

T = TypeVar("T")
RATE_LIMIT_FACTOR = 15  # the first wait after a 429 is this many base delays (30 s by default)
RATE_LIMIT_MAX_DELAY = 600.0
RATE_LIMIT_ADVICE = 1800.0  # how long to suggest waiting before a re-run once patience runs out


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``attempts`` and ``base_delay`` (doubling, up to ``max_delay``) apply to 5xx answers and
    cut transfers; ``rate_limit_wait`` is the total time to sit through 429s; a transfer
    that sends nothing for ``read_timeout`` seconds counts as cut.
    """

    attempts: int = 4
    base_delay: float = 2.0
    max_delay: float = 60.0
    rate_limit_wait: float = 1800.0
    read_timeout: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], datetime] = field(default=datetime.now, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RetryPolicy":
        """Defaults, overridden by ``KIT_KAGGLE_RETRIES`` (attempts), ``KIT_KAGGLE_BACKOFF``,
        ``KIT_KAGGLE_RATE_LIMIT_WAIT`` and ``KIT_KAGGLE_READ_TIMEOUT`` (seconds)."""
        env = os.environ if env is None else env
        try:
            attempts = int(env.get("KIT_KAGGLE_RETRIES", cls.attempts))
            base_delay = float(env.get("KIT_KAGGLE_BACKOFF", cls.base_delay))
            rate_limit_wait = float(env.get("KIT_KAGGLE_RATE_LIMIT_WAIT", cls.rate_limit_wait))
            read_timeout = float(env.get("KIT_KAGGLE_READ_TIMEOUT", cls.read_timeout))
        except ValueError:
            raise KaggleApiError("KIT_KAGGLE_RETRIES must be an integer, and KIT_KAGGLE_BACKOFF, "
                                 "KIT_KAGGLE_RATE_LIMIT_WAIT and KIT_KAGGLE_READ_TIMEOUT numbers of seconds") from None
        return cls(attempts=max(attempts, 1), base_delay=max(base_delay, 0.0),
                   rate_limit_wait=max(rate_limit_wait, 0.0), read_timeout=max(read_timeout, 0.1))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wanted = retry_after if retry_after is not None else self.base_delay * 2 ** (attempt - 1)
        return min(wanted, self.max_delay)

    def rate_limit_delay(self, wait: int, retry_after: float | None = None) -> float:
        """The ``wait``-th pause after a 429: ours, or the server's when it asks for longer."""
        ours = self.base_delay * RATE_LIMIT_FACTOR * 2 ** (wait - 1)
        return min(max(ours, retry_after or 0.0), RATE_LIMIT_MAX_DELAY)


class Retryable(Exception):
    """A failure worth another attempt; carries the error to raise if attempts run out."""

    def __init__(self, error: KitError, retry_after: float | None = None):
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


class RateLimited(Exception):
    """HTTP 429 from ``service`` during ``what``; ``detail`` is the server's own text."""

    def __init__(self, service: str, what: str, detail: str, retry_after: float | None = None,
                 error_type: type[KitError] = KaggleApiError):
        super().__init__(f"{service} rate-limited {what}")
        self.service, self.what, self.detail = service, what, detail
        self.retry_after, self.error_type = retry_after, error_type

    def final_error(self, attempts: int, waited: float, retry_at: datetime) -> KitError:
        return self.error_type(
            f"{self.service} kept rate-limiting {self.what} (HTTP 429: {self.detail}; {attempts} attempts over "
            f"{duration(waited)}): such limits can last 30 minutes or more; re-run after {retry_at:%H:%M}"
        )


class NoAnswer(Exception):
    """A call that did not return within its deadline."""


def with_retries(call: Callable[[], T], policy: RetryPolicy, *, stream: TextIO | None = None) -> T:
    """``call()`` until it returns; ``Retryable`` failures get ``policy.attempts`` tries, 429s
    (``RateLimited``) are waited out for up to ``policy.rate_limit_wait`` seconds."""
    attempts = failures = rate_waits = 0
    waited = 0.0
    while True:
        attempts += 1
        try:
            return call()
        except RateLimited as limited:
            rate_waits += 1
            pause = policy.rate_limit_delay(rate_waits, limited.retry_after)
            if waited + pause > policy.rate_limit_wait:
                retry_at = policy.clock() + timedelta(seconds=max(2 * pause, RATE_LIMIT_ADVICE))
                raise limited.final_error(attempts, waited, retry_at) from None
            countdown(pause, f"{limited.service} is rate-limiting {limited.what} (HTTP 429)", policy.sleep,
                      stream or sys.stderr)
            waited += pause
        except Retryable as failure:
            failures += 1
            if failures >= policy.attempts:
                raise failure.error from None
            policy.sleep(policy.delay(failures, failure.retry_after))


def countdown(seconds: float, reason: str, sleep: Callable[[float], None], stream: TextIO) -> None:
    """Wait ``seconds``, showing the time left on a terminal (one line elsewhere)."""
    if not _is_terminal(stream):
        stream.write(f"{reason}: waiting {clock_time(seconds)} before retrying\n")
        stream.flush()
        sleep(seconds)
        return
    left = seconds
    while left > 0:
        stream.write(f"\r{reason}: retrying in {clock_time(left)} ")
        stream.flush()
        step = min(1.0, left)
        sleep(step)
        left -= step
    stream.write("\r\033[K")
    stream.flush()


def within(call: Callable[[], T], seconds: float) -> T:
    """``call()``, or ``NoAnswer`` once ``seconds`` pass without it returning.

    For client calls that open their own connections without a timeout: the call runs
    in a daemon thread, which is abandoned (it ends when its socket does) on timeout.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as is (SystemExit too)
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="kit-deadline", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise NoAnswer(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (causes, contexts, urllib3 reasons, arguments)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        yield item
        pending.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])


def is_unreachable(exc: BaseException) -> bool:
    """True for refused connections, unknown hosts and unusable proxies (not for transfers cut short)."""
    names = {"NewConnectionError", "NameResolutionError", "ProxyError", "ConnectionRefusedError",
             "ConnectTimeoutError", "ConnectTimeout"}
    return any(type(item).__name__ in names for item in exception_chain(exc))


def is_stalled(exc: BaseException) -> bool:
    """True for a read that timed out: a transfer that stopped sending, its socket still open."""
    names = {"ReadTimeout", "ReadTimeoutError"}
    return any(type(item).__name__ in names or isinstance(item, TimeoutError) for item in exception_chain(exc))


def clock_time(seconds: float) -> str:
    """``75`` → ``1:15``."""
    whole = max(math.ceil(seconds), 0)
    return f"{whole // 60}:{whole % 60:02d}"


def duration(seconds: float) -> str:
    """``42`` → ``42 s``; ``930`` → ``15 min``."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
