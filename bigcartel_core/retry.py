"""How long to wait before retrying a request: ``Retry-After`` first, else capped full jitter.

One timing for every Big Cartel client: the stream's python-backoff generator
(:func:`wait_times`), the HTTP session's urllib3 retry (:mod:`bigcartel_core.http`) and the
write-back's read-back loop all ask :func:`retry_delay`.
"""

from __future__ import annotations

import datetime as dt
import random
import typing as t
from collections.abc import Generator
from email.utils import parsedate_to_datetime

import requests


def parse_retry_after(header: str | None) -> float | None:
    """Seconds a ``Retry-After`` value asks for (seconds or an HTTP date); None if unusable."""
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


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Seconds the server asked us to wait, from a ``Retry-After`` of seconds or an HTTP date."""
    if response is None:
        return None
    return parse_retry_after(response.headers.get("Retry-After"))


def retry_delay(
    attempt: int,
    factor: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """The wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    ``Retry-After`` wins, capped so a hostile header cannot park a run for hours; otherwise a
    uniformly random time up to ``factor * 2**attempt`` ("full jitter", also capped), which
    spreads the retries of many shops hitting the same outage.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    return (rng or random).uniform(0, min(cap, factor * 2**attempt))


def wait_times(
    factor: float, cap: float, rng: random.Random | None = None
) -> Generator[float, t.Any, None]:
    """A python-backoff wait generator that is sent each failure's exception.

    Each wait is :func:`retry_delay` of the failure's response.
    """
    rng = rng or random.Random()
    attempt = 0
    exception = yield  # type: ignore[misc]
    while True:
        requested = retry_after_seconds(getattr(exception, "response", None))
        delay = retry_delay(attempt, factor, cap, requested, rng)
        attempt += 1
        exception = yield delay
