"""The log of requests the sandbox answered, for tests and benchmarks to inspect."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from bigcartel_sandbox.faults import DroppedConnection

# The WSGI environ key under which the server puts the request headers as received; WSGI itself
# only keeps upper-cased names.
RAW_HEADERS = "bigcartel_sandbox.raw_headers"
CONTROL_PREFIX = "/_sandbox/"


class RequestLog:
    """Thread-safe list of ``{"method", "path", "query", "headers", "status"}`` entries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RequestLogMiddleware:
    """Logs each request with the status it got; a dropped connection is logged as status 0.

    The entry is written when the answer starts, before any byte reaches the client, so a test
    that has its response can rely on finding the entry. Requests to the control API are not
    logged, so benchmarks that read statistics through it count only the client's traffic.
    """

    def __init__(self, app: Any, log: RequestLog) -> None:
        self._app = app
        self._log = log

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return self._app(environ, start_response)
        logged = False

        def logging_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal logged
            if not logged:
                logged = True
                self._log.append(_entry(environ, int(status.split(" ", 1)[0])))
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, logging_start_response)
        except DroppedConnection:
            self._log.append(_entry(environ, 0))
            raise


def _entry(environ: dict[str, Any], status: int) -> dict[str, Any]:
    raw = environ.get(RAW_HEADERS)
    if raw is None:
        raw = [
            (key[5:].replace("_", "-").title(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
    return {
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "query": dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)),
        "headers": dict(raw),
        "status": status,
    }
