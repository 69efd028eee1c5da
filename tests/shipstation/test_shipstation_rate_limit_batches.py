"""ShipStation's default budget (40 a minute) on createorders, on a moved clock; the CLI switch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from shipstation_sandbox import ShipStationSandbox
from shipstation_sandbox.rate_limit import DEFAULT_RATE_LIMIT

OrderFactory = Callable[..., dict[str, Any]]
AUTH = ("k", "s")
REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[ShipStationSandbox]:
    with ShipStationSandbox(*AUTH, rate_limit=DEFAULT_RATE_LIMIT, rate_limit_clock=clock) as sb:
        yield sb


@pytest.fixture
def client(limited: ShipStationSandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = AUTH
        yield session


def rate_headers(response: requests.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-Rate-Limit-Limit"]),
        int(response.headers["X-Rate-Limit-Remaining"]),
        int(response.headers["X-Rate-Limit-Reset"]),
    )


def test_default_limit_is_40_a_minute() -> None:
    assert DEFAULT_RATE_LIMIT == 40


def test_createorders_spends_one_request_and_is_refused_past_the_budget(
    limited: ShipStationSandbox,
    client: requests.Session,
    clock: FakeClock,
    make_order: OrderFactory,
) -> None:
    url = f"{limited.url}/orders/createorders"
    answers = []
    for number in range(DEFAULT_RATE_LIMIT):
        orders = [make_order(orderKey=f"{number}-{i}") for i in range(3)]
        answers.append(client.post(url, json=orders, timeout=10))
        clock.now += 0.5

    refused = client.post(url, json=[make_order(orderKey="late")], timeout=10)

    assert [a.status_code for a in answers] == [200] * DEFAULT_RATE_LIMIT
    # A batch of three orders is one request: the budget drops by one per batch.
    assert [rate_headers(a)[:2] for a in answers] == [
        (40, 40 - n) for n in range(1, DEFAULT_RATE_LIMIT + 1)
    ]
    assert rate_headers(answers[0])[2] == 60
    assert refused.status_code == 429
    assert rate_headers(refused) == (40, 0, 40)
    assert len(limited.store.orders()) == 3 * DEFAULT_RATE_LIMIT
    assert "late" not in {o["orderKey"] for o in limited.store.orders()}

    clock.now += 40
    again = client.post(url, json=[make_order(orderKey="late")], timeout=10)
    assert again.status_code == 200
    assert rate_headers(again) == (40, 39, 60)
    assert "late" in {o["orderKey"] for o in limited.store.orders()}


def test_rate_headers_on_every_kind_of_answer(
    limited: ShipStationSandbox, client: requests.Session, make_order: OrderFactory
) -> None:
    answers = [
        client.post(f"{limited.url}/orders/createorders", json=[make_order()], timeout=10),
        client.post(f"{limited.url}/orders/createorders", json=[], timeout=10),
        client.post(f"{limited.url}/orders/createorder", json=make_order(), timeout=10),
        client.get(f"{limited.url}/shipments", timeout=10),
        client.post(f"{limited.url}/shipments/voidlabel", json={"shipmentId": 1}, timeout=10),
        client.get(f"{limited.url}/no/such/route", timeout=10),
    ]
    assert [a.status_code for a in answers] == [200, 400, 200, 200, 400, 404]
    assert [rate_headers(a)[1] for a in answers] == [39, 38, 37, 36, 35, 34]


def test_a_shortened_window_resets_sooner(clock: FakeClock, make_order: OrderFactory) -> None:
    with ShipStationSandbox(
        *AUTH, rate_limit=2, rate_limit_window_seconds=1.5, rate_limit_clock=clock
    ) as sandbox:
        url = f"{sandbox.url}/orders/createorders"
        statuses = [
            requests.post(url, json=[make_order()], auth=AUTH, timeout=10).status_code
            for _ in range(3)
        ]
        clock.now += 1.5
        fresh = requests.post(url, json=[make_order()], auth=AUTH, timeout=10)
    assert statuses == [200, 200, 429]
    assert fresh.status_code == 200
    assert rate_headers(fresh) == (2, 1, 2)


def run_cli(*options: str) -> requests.Response:
    command = [
        sys.executable,
        "-m",
        "shipstation_sandbox",
        "--port",
        "0",
        "--api-key",
        "k",
        "--api-secret",
        "s",
        "--quiet",
        *options,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            return requests.get(f"{url}/orders", auth=AUTH, timeout=10)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)


def test_cli_rate_limit_alone_is_shipstations_default() -> None:
    answer = run_cli("--rate-limit", "--rate-limit-window", "2.5")
    assert answer.status_code == 200
    assert rate_headers(answer) == (40, 39, 3)


def test_cli_without_rate_limit_has_none() -> None:
    answer = run_cli()
    assert answer.status_code == 200
    assert "X-Rate-Limit-Limit" not in answer.headers
