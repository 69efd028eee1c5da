"""Talking HTTP to ShipStation: sessions, credentials, retries, the shared rate budget, errors.

One ``requests.Session`` per thread, as a Session is not documented as thread-safe. urllib3's
``Retry`` retries only what cannot store anything twice: connections that failed before sending,
5xx answers and read timeouts of GETs, and 503 (not taken) of the POSTs named as safe for it.
The rate budget is shared by all threads: when an answer says it is spent, every thread waits
for the reset, and a 429 is retried after that wait.

What differs between ShipStation's APIs is passed in: the :class:`Credentials` (v1: Basic auth
with key and secret, :func:`basic_credentials`; V2: an ``api-key`` header,
:func:`api_key_credentials`), the :data:`RateSignal` that reads an answer's rate headers (v1:
:func:`x_rate_limit_signal`; V2: :func:`retry_after_signal`) and the :data:`ErrorReader` that
finds the API's words in an error body (v1: :func:`asp_net_message`).
"""

from __future__ import annotations

import decimal
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.util.retry import Retry

from bigcartel_core.errors import redact
from target_fulfillment.backends.base import AmbiguousSubmitError, BackendError

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
# ShipStation's window is a minute, so a reset never needs longer; the cap guards against a
# malformed header parking the run.
DEFAULT_RATE_LIMIT_MAX_WAIT = 60.0
BACKOFF_MAX = 30.0

#: Seconds every thread should pause after this answer (``math.inf``: as long as allowed), or
#: None while the budget lasts. Each API says so in its own headers.
RateSignal = Callable[[requests.Response], float | None]
#: The API's own words in a JSON error body ("" when it has none).
ErrorReader = Callable[[Mapping[str, Any]], str]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class Credentials:
    """How requests prove the account, what to keep out of messages, and the settings to name."""

    auth: AuthBase
    secrets: tuple[str, ...]
    settings: tuple[str, ...]


def basic_credentials(api_key: str, api_secret: str) -> Credentials:
    """API v1's credentials: HTTP Basic with the account's key and secret."""
    return Credentials(
        HTTPBasicAuth(api_key, api_secret),
        (api_key, api_secret),
        ("shipstation_api_key", "shipstation_api_secret"),
    )


class ApiKeyAuth(AuthBase):
    """A key in a request header, as V2's ``api-key``; its repr never shows the key."""

    def __init__(self, header: str, key: str) -> None:
        self._header = header
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self._header] = self._key
        return request

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self._header!r})"


def api_key_credentials(api_key: str, setting: str) -> Credentials:
    """API V2's credentials: one key in the ``api-key`` header, named by ``setting``."""
    return Credentials(ApiKeyAuth("api-key", api_key), (api_key,), (setting,))


def x_rate_limit_signal(response: requests.Response) -> float | None:
    """API v1: spent at ``X-Rate-Limit-Remaining: 0`` or a 429, until ``X-Rate-Limit-Reset``."""
    remaining = _number(response.headers.get("X-Rate-Limit-Remaining"))
    if response.status_code != 429 and remaining != 0:
        return None
    reset = _number(response.headers.get("X-Rate-Limit-Reset"))
    return math.inf if reset is None else reset


def retry_after_signal(response: requests.Response) -> float | None:
    """API V2: spent only at a 429, for ``Retry-After`` seconds (no X-Rate-Limit-* headers).

    A missing or unreadable Retry-After (an HTTP date, which the docs do not mention) waits as
    long as allowed.
    """
    if response.status_code != 429:
        return None
    seconds = _number(response.headers.get("Retry-After"))
    return math.inf if seconds is None else seconds


class _RateBudget:
    """The account's request budget as the last answer reported it, shared by every thread."""

    def __init__(
        self,
        signal: RateSignal,
        max_wait: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self._signal = signal
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._resume_at = 0.0  # clock() before which no request is sent

    def wait(self) -> None:
        with self._lock:
            delay = self._resume_at - self._clock()
        if delay > 0:
            self._sleep(delay)

    def update(self, response: requests.Response) -> None:
        """Pause every thread until the window resets once an answer says the budget is spent."""
        requested = self._signal(response)
        if requested is None:
            return
        pause = min(max(requested, 0.0), self._max_wait)
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + pause)
        logger.info("ShipStation's rate budget is spent; pausing requests for %.1f s", pause)


class ShipStationClient:
    """Requests to one ShipStation API, each within the rate budget and with safe retries."""

    def __init__(
        self,
        api_url: str,
        credentials: Credentials,
        *,
        user_agent: str,
        rate_signal: RateSignal,
        posts_retried_on_503: Collection[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = 1.0,
        rate_limit_max_wait: float = DEFAULT_RATE_LIMIT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        error_reader: ErrorReader | None = None,
    ) -> None:
        """``sleep`` and ``clock`` (monotonic seconds) pace the rate budget; tests pass both."""
        self.api_url = api_url.rstrip("/")
        self._error_reader = error_reader or asp_net_message
        self._credentials = credentials
        self._user_agent = user_agent
        self._posts_retried_on_503 = tuple(posts_retried_on_503)
        self._timeout = timeout
        self._max_retries = max_retries
        self._read_retry = _retry(max_retries, backoff_factor, "GET", {500, 502, 503, 504})
        # A POST that was sent is never retried after a lost answer (read=False), nor after a
        # 5xx that may follow a stored order; 503 says the service did not take it.
        self._post_retry = _retry(max_retries, backoff_factor, "POST", {503}, read=False)
        self._budget = _RateBudget(rate_signal, rate_limit_max_wait, sleep, clock)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """The JSON object a GET answers; BackendError for anything else."""
        action = f"GET {path}"
        try:
            response = self.send("GET", path, params=params)
        except requests.RequestException as error:
            raise BackendError(self.redact(f"ShipStation {action} failed: {error}")) from error
        if not response.ok:
            raise BackendError(self.failure(response, action))
        try:
            # Decimal keeps amounts exact when an order is sent back (cancel).
            document = response.json(parse_float=decimal.Decimal)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise BackendError(f"ShipStation {action} answered something other than an object")
        return document

    def post(self, path: str, body: bytes, action: str) -> requests.Response:
        """POST once that may store something: the answer, unless it may or may not have.

        BackendError when the request never left; AmbiguousSubmitError when it left and no
        answer or a 5xx came back. A 4xx answer is returned for the caller to read.
        """
        try:
            response = self.send("POST", path, body=body)
        except requests.RequestException as error:
            message = self.redact(f"ShipStation {action} failed: {error}")
            if never_sent(error):
                raise BackendError(message) from error
            raise AmbiguousSubmitError(f"{message}; the order may exist") from error
        if response.status_code >= 500:
            raise AmbiguousSubmitError(f"{self.failure(response, action)}; the order may exist")
        return response

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> requests.Response:
        """One call within the rate budget; a 429 is retried, other failures are the caller's."""
        attempts = 0
        while True:
            self._budget.wait()
            response = self.session().request(
                method,
                self.api_url + path,
                params=params,
                data=body,
                headers={"Content-Type": "application/json"} if body is not None else None,
                timeout=self._timeout,
            )
            self._budget.update(response)
            if response.status_code != 429 or attempts == self._max_retries:
                return response
            attempts += 1
            logger.warning(
                "ShipStation answered 429 to %s %s; retry %d of %d",
                method,
                path,
                attempts,
                self._max_retries,
            )

    def session(self) -> requests.Session:
        """This thread's session, made on first use."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self._credentials.auth
            session.headers.update({"Accept": "application/json", "User-Agent": self._user_agent})
            session.mount("http://", HTTPAdapter(max_retries=self._read_retry))
            session.mount("https://", HTTPAdapter(max_retries=self._read_retry))
            # requests picks the adapter with the longest matching prefix.
            for path in self._posts_retried_on_503:
                session.mount(self.api_url + path, HTTPAdapter(max_retries=self._post_retry))
            with self._sessions_lock:
                self._sessions.append(session)
            self._local.session = session
        return session

    def close(self) -> None:
        """Close every thread's session."""
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def failure(self, response: requests.Response, action: str) -> str:
        """A refused answer in words: the settings to check for a 401, else the API's detail."""
        if response.status_code == 401:
            names = " and ".join(f"`{name}`" for name in self._credentials.settings)
            noun = "settings" if len(self._credentials.settings) > 1 else "setting"
            return f"ShipStation refused the API credentials (401): check the {noun} {names}"
        detail = _detail(response, self._error_reader)
        return self.redact(f"ShipStation {action} answered {response.status_code}: {detail}")

    def redact(self, text: str) -> str:
        """The text without the credentials: error messages end up in logs."""
        return redact(text, self._credentials.secrets)


def _retry(
    max_retries: int,
    backoff_factor: float,
    method: str,
    statuses: set[int],
    *,
    read: int | bool | None = None,
) -> Retry:
    """urllib3's retry of one method, with urllib3's own exponential backoff.

    Not ``bigcartel_core.http.RetryPolicy``: it retries idempotent methods only (no 503 of a
    POST), lets urllib3 retry a 429 that has ``Retry-After`` behind the shared budget's back,
    and logs its retries as Big Cartel's.
    """
    return Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries if read is None else read,
        status=max_retries,
        other=0,
        allowed_methods=frozenset({method}),
        status_forcelist=frozenset(statuses),
        backoff_factor=backoff_factor,
        backoff_max=BACKOFF_MAX,
        # 429 is left to _RateBudget; an uncapped Retry-After on a 503 could park the run.
        respect_retry_after_header=False,
        raise_on_status=False,
    )


def never_sent(error: requests.RequestException) -> bool:
    """Whether the request failed before reaching ShipStation, so nothing can have been stored.

    urllib3 gives up connecting with a MaxRetryError whose reason is a ConnectTimeoutError
    (NewConnectionError, for a refused connection, is one too). Anything else may have been sent.
    """
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _detail(response: requests.Response, reader: ErrorReader) -> str:
    """The API's own words, as ``reader`` finds them in a JSON body; else the body's start."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return response.text[:300].strip() or response.reason
    return reader(document) or response.text[:300].strip()


def asp_net_message(document: Mapping[str, Any]) -> str:
    """API v1's words: ``Message`` and the per-field ``ModelState`` of an ASP.NET answer."""
    message = str(document.get("Message") or "")
    model_state = document.get("ModelState")
    if isinstance(model_state, dict):
        fields = "; ".join(
            f"{field}: {' '.join(map(str, problems)) if isinstance(problems, list) else problems}"
            for field, problems in model_state.items()
        )
        message = f"{message} ({fields})" if message else fields
    return message
