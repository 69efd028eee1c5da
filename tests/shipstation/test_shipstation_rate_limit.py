"""The rate limit: X-Rate-Limit-* headers on every answer, 429 past the budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from shipstation_sandbox import ShipStationSandbox
from shipstation_sandbox.rate_limit import FixedWindowRateLimiter

OrderFactory = Callable[..., dict[str, Any]]
LIMIT = 3


@pytest.fixture
def limited() -> Iterator[ShipStationSandbox]:
    with ShipStationSandbox("k", "s", rate_limit=LIMIT) as running:
        yield running


@pytest.fixture
def client(limited: ShipStationSandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = ("k", "s")
        yield session


def rate_headers(response: requests.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-Rate-Limit-Limit"]),
        int(response.headers["X-Rate-Limit-Remaining"]),
        int(response.headers["X-Rate-Limit-Reset"]),
    )


def test_headers_count_down_then_429(limited: ShipStationSandbox, client: requests.Session) -> None:
    answers = [client.get(f"{limited.url}/orders", timeout=10) for _ in range(LIMIT + 1)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    headers = [rate_headers(a) for a in answers]
    assert [(limit, remaining) for limit, remaining, _ in headers] == [
        (3, 2),
        (3, 1),
        (3, 0),
        (3, 0),
    ]
    assert all(0 <= reset <= 60 for _, _, reset in headers)


def test_refused_request_changes_nothing(
    limited: ShipStationSandbox, client: requests.Session, make_order: OrderFactory
) -> None:
    for _ in range(LIMIT):
        client.get(f"{limited.url}/orders", timeout=10)
    response = client.post(f"{limited.url}/orders/createorder", json=make_order(), timeout=10)
    assert response.status_code == 429
    assert limited.store.orders() == []


def test_control_routes_and_refused_logins_spend_no_budget(limited: ShipStationSandbox) -> None:
    for _ in range(LIMIT + 1):
        assert requests.get(f"{limited.url}/_sandbox/orders", timeout=10).status_code == 200
        assert requests.get(f"{limited.url}/orders", timeout=10).status_code == 401
    response = requests.get(f"{limited.url}/orders", auth=("k", "s"), timeout=10)
    assert response.status_code == 200
    assert rate_headers(response)[1] == LIMIT - 1


def test_without_limit_there_are_no_headers(api: requests.Session) -> None:
    responses = [api.get("/orders") for _ in range(50)]
    assert {r.status_code for r in responses} == {200}
    assert "X-Rate-Limit-Remaining" not in responses[-1].headers


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_resets_after_its_length() -> None:
    clock = FakeClock()
    limiter = FixedWindowRateLimiter(2, window_seconds=60, clock=clock)

    assert limiter.acquire().remaining == 1
    clock.now += 20.5
    second = limiter.acquire()
    third = limiter.acquire()
    clock.now += 39.5
    fresh = limiter.acquire()

    assert (second.allowed, second.remaining, second.reset_seconds) == (True, 0, 40)
    assert (third.allowed, third.remaining) == (False, 0)
    assert (fresh.allowed, fresh.remaining, fresh.reset_seconds) == (True, 1, 60)


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (1, 0.0)])
def test_limiter_rejects_nonsense_settings(limit: int, window: float) -> None:
    with pytest.raises(ValueError):
        FixedWindowRateLimiter(limit, window_seconds=window)
