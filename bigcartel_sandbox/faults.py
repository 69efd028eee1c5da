"""Fault switches: make ``/v1`` answers fail the way a busy API or a flaky network would.

Random faults come from a seeded generator, so a run is repeatable; ``fail_next`` and
``drop_next`` queue exact faults for tests that must not depend on chance. Faults are applied by a
WSGI middleware in front of the app, before any header or credential check, as an overloaded
front end would answer before the application sees the request.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from bigcartel_sandbox.documents import JSONAPI
from bigcartel_sandbox.errors import error_document

DROP = 0
_SETTINGS = ("error_rate", "rate_limit_rate", "drop_rate", "delay_seconds", "retry_after")


class DroppedConnection(ConnectionError):
    """Raised through the WSGI server to close the connection without any answer."""


@dataclass(frozen=True)
class Fault:
    """What to answer instead of the real response; status ``DROP`` closes the connection."""

    status: int
    retry_after: int | None = None


class Faults:
    """Thread-safe fault switches; all off by default.

    ``error_rate``, ``rate_limit_rate`` and ``drop_rate`` are probabilities per request (their sum
    at most 1) of a 500/502/503, of a 429 with ``Retry-After: retry_after``, and of a dropped
    connection. ``delay_seconds`` slows every answer.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._queue: deque[Fault] = deque()
        self.error_rate = 0.0
        self.rate_limit_rate = 0.0
        self.drop_rate = 0.0
        self.delay_seconds = 0.0
        self.retry_after = 1
        self.error_statuses: tuple[int, ...] = (500, 502, 503)

    def fail_next(self, n: int, status: int = 503, retry_after: int | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After`` when given)."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure status is 4xx or 5xx, not {status}")
        with self._lock:
            self._queue.extend([Fault(status, retry_after)] * n)

    def drop_next(self, n: int) -> None:
        """Close the connection of the next ``n`` requests without answering."""
        with self._lock:
            self._queue.extend([Fault(DROP)] * n)

    def configure(self, **settings: Any) -> None:
        """Set several switches at once, validated (used by the control API)."""
        unknown = sorted(set(settings).difference(_SETTINGS))
        if unknown:
            raise ValueError(f"unknown fault settings {', '.join(unknown)}")
        for name, value in settings.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        rates = {name: settings.get(name, getattr(self, name)) for name in _SETTINGS[:3]}
        if sum(rates.values()) > 1:
            raise ValueError("error_rate + rate_limit_rate + drop_rate must not exceed 1")
        with self._lock:
            for name, value in settings.items():
                setattr(self, name, int(value) if name == "retry_after" else float(value))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.error_rate = self.rate_limit_rate = self.drop_rate = self.delay_seconds = 0.0
            self.retry_after = 1

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return {name: getattr(self, name) for name in _SETTINGS} | {"queued": len(self._queue)}

    def draw(self) -> Fault | None:
        """The fault for the next request, if any: queued faults first, then chance."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if not (self.drop_rate or self.rate_limit_rate or self.error_rate):
                return None
            roll = self._rng.random()
            if roll < self.drop_rate:
                return Fault(DROP)
            roll -= self.drop_rate
            if roll < self.rate_limit_rate:
                return Fault(429, self.retry_after)
            roll -= self.rate_limit_rate
            if roll < self.error_rate:
                return Fault(self._rng.choice(self.error_statuses))
            return None


class FaultMiddleware:
    """Applies ``Faults`` to requests under ``/v1``; other paths pass straight through."""

    def __init__(self, app: Any, faults: Faults) -> None:
        self._app = app
        self._faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not (path == "/v1" or path.startswith("/v1/")):
            return self._app(environ, start_response)
        if self._faults.delay_seconds > 0:
            time.sleep(self._faults.delay_seconds)
        fault = self._faults.draw()
        if fault is None:
            return self._app(environ, start_response)
        if fault.status == DROP:
            raise DroppedConnection("sandbox fault: connection dropped")
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        body = error_document(fault.status, "Injected by the sandbox's fault switches.")
        response = Response(json.dumps(body), fault.status, headers, content_type=JSONAPI)
        return response(environ, start_response)
