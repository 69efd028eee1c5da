"""Serving a sandbox's WSGI app in-process on a daemon thread, for tests and benchmarks.

The V1 and V2 sandboxes differ in their store and routes only; this holds what they share:
the port, the thread, the request log and a clean stop.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from shipstation_sandbox.request_log import RequestLog

# How often the serving loop checks for stop(); socketserver's 0.5 s default would make every
# test that starts a sandbox half a second slower.
SHUTDOWN_POLL_SECONDS = 0.05

SandboxT = TypeVar("SandboxT", bound="ThreadedSandbox")


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log line per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log: the sandbox keeps its own request log."""


class ThreadedSandbox:
    """An app served on a daemon thread, one thread per connection; a context manager.

    ``build_app`` gets the request log to fill and the event set on stop (so held and delayed
    requests end at once).
    """

    thread_name = "sandbox"

    def __init__(
        self,
        build_app: Callable[[RequestLog, threading.Event], Flask],
        host: str,
        port: int,
        log_requests: bool,
    ) -> None:
        self._request_log = RequestLog()
        self._stopping = threading.Event()
        self.app = build_app(self._request_log, self._stopping)
        self._host = host
        self._port = port
        self._handler = WSGIRequestHandler if log_requests else _QuietRequestHandler
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running sandbox, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() or use it in a with")
        return f"http://{self._host}:{self._server.server_port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """API calls answered so far: ``{method, path, query, status, ...}`` each; ``status``
        is None for a dropped connection."""
        return self._request_log.entries()

    def request_counts(self) -> Counter[str]:
        """API calls so far per route, keyed like ``"POST /v2/shipments"`` or
        ``"GET /orders/<int:order_id>"``, so a benchmark can count create requests."""
        adapter = self.app.url_map.bind("sandbox")
        counts: Counter[str] = Counter()
        for entry in self._request_log.entries():
            try:
                rule, _ = adapter.match(entry["path"], method=entry["method"], return_rule=True)
                route = rule.rule
            except HTTPException:
                route = entry["path"]
            counts[f"{entry['method']} {route}"] += 1
        return counts

    def clear_requests(self) -> None:
        """Forget the request log, e.g. after setting up a test's orders."""
        self._request_log.clear()

    def start(self: SandboxT) -> SandboxT:
        """Bind the port and serve on a daemon thread, one thread per connection."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping.clear()
        self._server = make_server(
            self._host, self._port, self.app, threaded=True, request_handler=self._handler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held and delayed requests are released at once."""
        if self._server is None or self._thread is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self: SandboxT) -> SandboxT:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
