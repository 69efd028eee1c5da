"""Run the sandbox in-process on a free port, for tests and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable

from shipstation_sandbox.app import create_app
from shipstation_sandbox.rate_limit import DEFAULT_WINDOW_SECONDS, FixedWindowRateLimiter
from shipstation_sandbox.serving import ThreadedSandbox
from shipstation_sandbox.store import ShipStationStore


class ShipStationSandbox(ThreadedSandbox):
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

    thread_name = "shipstation-sandbox"

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
        rate_limiter = (
            FixedWindowRateLimiter(rate_limit, rate_limit_window_seconds, rate_limit_clock)
            if rate_limit is not None
            else None
        )
        super().__init__(
            lambda request_log, stopping: create_app(
                self.store,
                api_key=api_key,
                api_secret=api_secret,
                latency_seconds=latency_seconds,
                rate_limiter=rate_limiter,
                request_log=request_log,
                timeout_hang_seconds=timeout_hang_seconds,
                stopping=stopping,
            ),
            host,
            port,
            log_requests,
        )
