"""Run the V2 sandbox in-process on a free port, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from shipstation_sandbox.rate_limit import FixedWindowRateLimiter
from shipstation_sandbox.request_log import RequestLog
from shipstation_sandbox.v2 import dates
from shipstation_sandbox.v2.app import create_app
from shipstation_sandbox.v2.store import ShipStationV2Store

# The documented default budget of a V2 account (notes A2), used when the limit is switched on
# without a number.
DEFAULT_RATE_LIMIT = 200
SHUTDOWN_POLL_SECONDS = 0.05


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log line per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log: the sandbox keeps its own request log."""


class ShipStationV2Sandbox:
    """A local ShipStation API V2 on a daemon thread; use it as a context manager.

    ``rate_limit`` is the number of requests per ``rate_limit_window_seconds`` (None: no limit;
    ``DEFAULT_RATE_LIMIT`` is the documented 200 a minute); ``rate_limit_clock`` replaces the
    limiter's monotonic clock so tests can move time. ``latency_seconds`` delays every API
    answer without serializing concurrent requests. ``timeout_hang_seconds`` is how long a
    create picked by ``store.timeout_next_create`` holds its connection before dropping it.
    ``clock`` gives the store's timestamps (aware datetimes).
    """

    def __init__(
        self,
        api_key: str = "key",
        *,
        latency_seconds: float = 0.0,
        rate_limit: int | None = None,
        rate_limit_window_seconds: float = 60.0,
        rate_limit_clock: Callable[[], float] | None = None,
        timeout_hang_seconds: float = 0.0,
        clock: Callable[[], datetime] = dates.utc_now,
        host: str = "127.0.0.1",
        port: int = 0,
        log_requests: bool = False,
    ) -> None:
        self.store = ShipStationV2Store(clock=clock)
        self._request_log = RequestLog()
        self._stopping = threading.Event()
        rate_limiter = None
        if rate_limit is not None:
            rate_limiter = (
                FixedWindowRateLimiter(rate_limit, rate_limit_window_seconds, rate_limit_clock)
                if rate_limit_clock is not None
                else FixedWindowRateLimiter(rate_limit, rate_limit_window_seconds)
            )
        self.app = create_app(
            self.store,
            api_key=api_key,
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
        """Base URL of the running sandbox, e.g. ``http://127.0.0.1:54321`` (paths add /v2)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() or use it in a with")
        return f"http://{self._host}:{self._server.server_port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """API calls answered so far: ``{method, path, query, status, body}`` each.

        ``status`` is None for a dropped connection; ``body`` is the JSON of a POST or PUT.
        """
        return self._request_log.entries()

    def request_counts(self) -> Counter[str]:
        """API calls so far per route, keyed ``"POST /v2/shipments"``,
        ``"GET /v2/shipments/<shipment_id>"`` ..., so a benchmark can count create requests."""
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
        """Forget the request log, e.g. after setting up a test's shipments."""
        self._request_log.clear()

    def start(self) -> ShipStationV2Sandbox:
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
            name="shipstation-v2-sandbox",
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

    def __enter__(self) -> ShipStationV2Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
