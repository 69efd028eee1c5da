"""One way to talk HTTP to Big Cartel: the headers it requires and one bounded retry policy.

:func:`new_session` gives a ``requests`` session that sends ``Accept`` (JSON:API by default),
``Content-Type: application/vnd.api+json`` with JSON bodies, and the User-Agent Big Cartel asks for
(:func:`user_agent`: program, version and contact). Its urllib3 retry (:class:`BigCartelRetry`)
follows :class:`RetryPolicy`:

- 429 and 5xx answers, read time-outs and dropped connections are retried for idempotent methods
  (GET, HEAD, OPTIONS, PUT, PATCH, DELETE);
- a POST is retried only when it cannot have taken effect: a 429 (the server refused it) or a
  connection that failed before the request was sent. A POST whose answer was lost is left to
  the caller, which can look before sending again (the write-back reads the order back);
- each wait is :func:`bigcartel_core.retry.retry_delay`: ``Retry-After`` when present, else
  full jitter, both capped at ``max_wait``; at most ``max_retries`` retries, after which the last
  answer is returned (or the connection error raised) for the caller to report.

The tap's streams keep singer-sdk's own request path and share the policy's timing
(:meth:`RetryPolicy.wait_times`).
"""

from __future__ import annotations

import logging
import random
import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from bigcartel_core.jsonapi import JSONAPI
from bigcartel_core.retry import parse_retry_after, retry_delay, wait_times
from bigcartel_core.version import package_version, project_contact

if t.TYPE_CHECKING:
    from urllib3.response import BaseHTTPResponse

logger = logging.getLogger(__name__)

#: Answers worth another try: rate limited, or the server (or a proxy before it) failed.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Methods that may be sent again after their answer was lost.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


def user_agent(program: str, configured: str | None = None) -> str:
    """The User-Agent Big Cartel asks for: the app's name, version and a contact.

    ``configured`` (a plugin's ``user_agent`` setting, where an operator puts their own contact)
    wins when set. Otherwise ``program/version``, followed by ``(+URL)`` when the distribution's
    metadata declares a project URL (:func:`bigcartel_core.version.project_contact`), and by
    nothing when it does not: no placeholder contact.
    """
    if configured:
        return configured
    contact = project_contact()
    name = f"{program}/{package_version()}"
    return f"{name} (+{contact})" if contact else name


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``sleep`` and ``rng`` are there for tests."""

    max_retries: int = 5
    backoff_factor: float = 0.5
    #: The longest single wait, for backoff and ``Retry-After`` alike.
    max_wait: float = 60.0
    statuses: frozenset[int] = RETRY_STATUSES
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rng: random.Random | None = field(default=None, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry number ``attempt + 1``."""
        return retry_delay(attempt, self.backoff_factor, self.max_wait, retry_after, self.rng)

    def wait_times(self) -> t.Generator[float, t.Any, None]:
        """The same timing as a python-backoff wait generator, for singer-sdk's request loop."""
        return wait_times(self.backoff_factor, self.max_wait, self.rng)

    def retry(self) -> BigCartelRetry:
        """The urllib3 ``Retry`` that applies this policy inside a session."""
        return BigCartelRetry(
            total=self.max_retries,
            status_forcelist=self.statuses,
            allowed_methods=IDEMPOTENT_METHODS,
            raise_on_status=False,
            policy=self,
        )


class BigCartelRetry(Retry):
    """urllib3's ``Retry`` with this project's timing and its one exception for POST.

    urllib3 counts the retries, tells connect errors from read errors and keeps read errors of
    non-idempotent methods final; this subclass only changes how long to wait (capped
    ``Retry-After``, else full jitter, through the policy's ``sleep``) and lets a 429 be retried
    whatever the method, since the server did not act on it.
    """

    def __init__(self, *args: t.Any, policy: RetryPolicy | None = None, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy or RetryPolicy()

    def new(self, **kw: t.Any) -> BigCartelRetry:
        kw.setdefault("policy", self.policy)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and 429 in self.status_forcelist:
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        requested = parse_retry_after(response.headers.get("Retry-After"))
        return None if requested is None else min(requested, self.policy.max_wait)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        attempt = max(len(self.history) - 1, 0)
        requested = self.get_retry_after(response) if response is not None else None
        wait = self.policy.delay(attempt, requested)
        if self.history:
            last = self.history[-1]
            why = str(last.status) if last.status else type(last.error).__name__
            logger.warning(
                "Big Cartel: %s %s failed (%s); retry %d of %d in %.2fs",
                last.method,
                urlsplit(last.url or "").path,
                why,
                len(self.history),
                self.policy.max_retries,
                wait,
            )
        self.policy.sleep(wait)


class BigCartelSession(requests.Session):
    """A session with a default time-out and the JSON:API Content-Type on JSON bodies."""

    def __init__(self, timeout: float, content_type: str | None) -> None:
        super().__init__()
        self.timeout = timeout
        self.content_type = content_type

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, **kwargs: t.Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if kwargs.get("json") is not None and self.content_type:
            kwargs["headers"] = {"Content-Type": self.content_type, **(kwargs.get("headers") or {})}
        return super().request(method, url, **kwargs)


def new_session(
    user_agent: str,
    *,
    timeout: float = 30.0,
    policy: RetryPolicy | None = None,
    accept: str = JSONAPI,
    content_type: str | None = JSONAPI,
) -> BigCartelSession:
    """A session for Big Cartel: its headers, a time-out, and :class:`RetryPolicy`'s retries.

    The OAuth endpoints speak plain JSON and forms: pass ``accept="application/json"``.
    """
    session = BigCartelSession(timeout, content_type)
    session.headers.update({"Accept": accept, "User-Agent": user_agent})
    adapter = HTTPAdapter(max_retries=(policy or RetryPolicy()).retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
