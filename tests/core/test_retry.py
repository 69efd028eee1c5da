"""Waits between retries: Retry-After honoured and capped, otherwise jittered growth."""

from __future__ import annotations

import datetime as dt
import random

import requests

from bigcartel_core.retry import retry_after_seconds, wait_times


def _response(headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.headers.update(headers)
    return response


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_seconds(_response({"Retry-After": "7"})) == 7.0
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    parsed = retry_after_seconds(
        _response({"Retry-After": future.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    )
    assert parsed is not None and 25 <= parsed <= 30
    assert retry_after_seconds(_response({})) is None
    assert retry_after_seconds(None) is None


class _Failure(Exception):
    def __init__(self, response: requests.Response | None) -> None:
        self.response = response


def test_wait_times_honour_retry_after_and_otherwise_grow_with_jitter() -> None:
    waits = wait_times(factor=1.0, cap=10.0, rng=random.Random(0))
    next(waits)
    assert waits.send(_Failure(_response({"Retry-After": "3"}))) == 3.0
    assert waits.send(_Failure(_response({"Retry-After": "3600"}))) == 10.0
    bounds = [waits.send(_Failure(None)) for _ in range(6)]
    assert all(0 <= wait <= 10.0 for wait in bounds)
    assert max(bounds[3:]) > 1.0
