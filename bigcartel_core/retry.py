"""How long to wait before retrying a request: ``Retry-After`` first, else capped full jitter."""

from __future__ import annotations

import datetime as dt
import random
import typing as t
from collections.abc import Generator
from email.utils import parsedate_to_datetime

import requests


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Seconds the server asked us to wait, from a ``Retry-After`` of seconds or an HTTP date."""
    if response is None:
        return None
    header = response.headers.get("Retry-After")
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def wait_times(
    factor: float, cap: float, rng: random.Random | None = None
) -> Generator[float, t.Any, None]:
    """A python-backoff wait generator that is sent each failure's exception.

    Honours ``Retry-After`` (capped, so a hostile header cannot park the tap for hours) and
    otherwise waits a uniformly random time up to ``factor * 2**attempt`` ("full jitter"), which
    spreads the retries of many shops hitting the same outage.
    """
    rng = rng or random.Random()
    attempt = 0
    exception = yield  # type: ignore[misc]
    while True:
        requested = retry_after_seconds(getattr(exception, "response", None))
        if requested is not None:
            delay = min(requested, cap)
        else:
            delay = rng.uniform(0, min(cap, factor * 2**attempt))
        attempt += 1
        exception = yield delay
