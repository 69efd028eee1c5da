"""ShipStation's request budget: a fixed window per account, reported on every answer."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# ShipStation V1: 40 requests a minute per API key and secret (a third-party copy of the
# ShipStation text; the V1 requirements page documents only the X-Rate-Limit-* headers).
DEFAULT_RATE_LIMIT = 40
DEFAULT_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RateDecision:
    """Whether one request fits the budget, and the numbers ShipStation reports about it."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """The ``X-Rate-Limit-*`` headers ShipStation sends with every answer."""
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset_seconds),
        }


class FixedWindowRateLimiter:
    """Allow ``limit`` requests per window of ``window_seconds``; refuse the rest until it ends.

    The clock is injectable so tests can move time instead of waiting for it.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self._limit = limit
        self._window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0

    def acquire(self) -> RateDecision:
        """Count one request if the window has room, and report the budget either way."""
        # Not settled by the docs: whether the window is aligned to the wall-clock minute or
        # starts with the first request, and whether refused requests count. Here it starts
        # with the first request after the previous window ended, and refusals are free.
        with self._lock:
            now = self._clock()
            if self._window_start is None or now - self._window_start >= self._window_seconds:
                self._window_start = now
                self._used = 0
            allowed = self._used < self._limit
            if allowed:
                self._used += 1
            reset = math.ceil(self._window_seconds - (now - self._window_start))
            return RateDecision(
                allowed=allowed,
                limit=self._limit,
                remaining=self._limit - self._used,
                reset_seconds=max(reset, 0),
            )
