"""Run the sandbox in-process on a free port, for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from shipstation_sandbox.app import create_app
from shipstation_sandbox.rate_limit import DEFAULT_WINDOW_SECONDS, FixedWindowRateLimiter
from shipstation_sandbox.request_log import RequestLog
from shipstation_sandbox.store import ShipStationStore

# How often the serving loop checks for stop(); socketserver's 0.5 s default would make every
# test that starts a sandbox half a second slower.
SHUTDOWN_POLL_SECONDS = 0.05


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log line per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log: the sandbox keeps its own request log."""


class ShipStationSandbox:
    """A local ShipStation API v1 on a daemon thread; use it as a context manager.

    ``rate_limit`` is the number of requests per ``rate_limit_window_seconds``; with None there
    is no limit and no ``X-Rate-Limit-*`` headers. ShipStation's own limit is
    ``rate_limit.DEFAULT_RATE_LIMIT`` (40) a minute; a shorter window speeds up benchmarks, and
    ``rate_limit_clock`` (seconds, monotonic) lets a test move time instead of waiting. The
    sandbox has one key and secret, so its one budget is the per-key+secret budget of the docs.
    ``latency_seconds`` delays every API answer without serializing concurrent requests.
    ``timeout_hang_seconds`` is how long a create call (a createorder, or a whole createorders
    batch) picked by ``store.timeout_next_create`` holds its connection before dropping it.
    """

    def __init__(
        self,
        api_key: str = "key",
        api_secret: str = "secret",
        *,
        latency_seconds: float = 0.0,
        rate_limit: int | None = None,
        rate_limit_window_seconds: float = DEFAULT_WINDOW_SECONDS,
        rate_limit_clock: Callable[[], float] = time.monotonic,
        timeout_hang_seconds: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        log_requests: bool = False,
    ) -> None:
        self.store = ShipStationStore()
        self._request_log = RequestLog()
        self._stopping = threading.Event()
        rate_limiter = (
            FixedWindowRateLimiter(rate_limit, rate_limit_window_seconds, rate_limit_clock)
            if rate_limit is not None
            else None
        )
        self.app = create_app(
            self.store,
            api_key=api_key,
            api_secret=api_secret,
            latency_seconds=latency_seconds,
            rate_limiter=rate_limiter,
            request_log=self._request_log,
            timeout_hang_seconds=timeout_hang_seconds,
            stopping=self._stopping,
        )
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
        """API calls answered so far: ``{method, path, query, status}`` each."""
        return self._request_log.entries()

    def clear_requests(self) -> None:
        """Forget the request log, e.g. after setting up a test's orders."""
        self._request_log.clear()

    def start(self) -> ShipStationSandbox:
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
            name="shipstation-sandbox",
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

    def __enter__(self) -> ShipStationSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
