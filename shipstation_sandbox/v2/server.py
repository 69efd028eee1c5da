"""Run the V2 sandbox in-process on a free port, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shipstation_sandbox.rate_limit import FixedWindowRateLimiter
from shipstation_sandbox.serving import ThreadedSandbox
from shipstation_sandbox.v2 import dates
from shipstation_sandbox.v2.app import create_app
from shipstation_sandbox.v2.store import ShipStationV2Store

# The documented default budget of a V2 account (notes A2), used when the limit is switched on
# without a number.
DEFAULT_RATE_LIMIT = 200


class ShipStationV2Sandbox(ThreadedSandbox):
    """A local ShipStation API V2 on a daemon thread; use it as a context manager.

    ``rate_limit`` is the number of requests per ``rate_limit_window_seconds`` (None: no limit;
    ``DEFAULT_RATE_LIMIT`` is the documented 200 a minute); ``rate_limit_clock`` replaces the
    limiter's monotonic clock so tests can move time. ``latency_seconds`` delays every API
    answer without serializing concurrent requests. ``timeout_hang_seconds`` is how long a
    create picked by ``store.timeout_next_create`` holds its connection before dropping it.
    ``clock`` gives the store's timestamps (aware datetimes).
    """

    thread_name = "shipstation-v2-sandbox"

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
        rate_limiter = None
        if rate_limit is not None:
            rate_limiter = (
                FixedWindowRateLimiter(rate_limit, rate_limit_window_seconds, rate_limit_clock)
                if rate_limit_clock is not None
                else FixedWindowRateLimiter(rate_limit, rate_limit_window_seconds)
            )
        super().__init__(
            lambda request_log, stopping: create_app(
                self.store,
                api_key=api_key,
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
