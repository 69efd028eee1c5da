"""The in-process server: concurrency under latency, the lost-answer switch, log, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from shipstation_sandbox import ShipStationSandbox

OrderFactory = Callable[..., dict[str, Any]]
AUTH = ("k", "s")
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_latency_does_not_serialize_concurrent_requests() -> None:
    latency, clients = 0.2, 8
    with ShipStationSandbox(*AUTH, latency_seconds=latency) as sandbox:

        def call(_: int) -> int:
            return requests.get(f"{sandbox.url}/orders", auth=AUTH, timeout=10).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            statuses = list(pool.map(call, range(clients)))
        elapsed = time.monotonic() - started

    assert statuses == [200] * clients
    assert latency <= elapsed < 1.0


def test_lost_answer_stores_the_order_but_the_client_gets_none(make_order: OrderFactory) -> None:
    with ShipStationSandbox(*AUTH) as sandbox, requests.Session() as client:
        sandbox.store.timeout_next_create()
        url = f"{sandbox.url}/orders/createorder"

        with pytest.raises(requests.ConnectionError):
            client.post(url, json=make_order(), auth=AUTH, timeout=10)
        [stored] = sandbox.store.orders()
        retried = client.post(url, json=make_order(), auth=AUTH, timeout=10)

        assert stored["orderKey"] == "bigcartel-ABCD-1001"
        assert retried.status_code == 200
        assert retried.json()["orderId"] == stored["orderId"]
        assert len(sandbox.store.orders()) == 1
        assert [entry["status"] for entry in sandbox.requests] == [None, 200]


def test_held_answer_outlasts_the_client_timeout(make_order: OrderFactory) -> None:
    sandbox = ShipStationSandbox(*AUTH, timeout_hang_seconds=60).start()
    try:
        sandbox.store.timeout_next_create()
        with pytest.raises(requests.Timeout):
            requests.post(
                f"{sandbox.url}/orders/createorder", json=make_order(), auth=AUTH, timeout=0.3
            )
        assert [order["orderKey"] for order in sandbox.store.orders()] == ["bigcartel-ABCD-1001"]
    finally:
        started = time.monotonic()
        sandbox.stop()
    assert time.monotonic() - started < 5


def test_timeouts_count_down_and_skip_refused_calls(make_order: OrderFactory) -> None:
    with ShipStationSandbox(*AUTH) as sandbox:
        sandbox.store.timeout_next_create(2)
        url = f"{sandbox.url}/orders/createorder"

        invalid = requests.post(url, json={}, auth=AUTH, timeout=10)
        for number in ("1", "2"):
            with pytest.raises(requests.ConnectionError):
                requests.post(url, json=make_order(orderKey=number), auth=AUTH, timeout=10)
        answered = requests.post(url, json=make_order(orderKey="3"), auth=AUTH, timeout=10)

        assert invalid.status_code == 400
        assert answered.status_code == 200
        assert [order["orderKey"] for order in sandbox.store.orders()] == ["1", "2", "3"]


def test_timeout_switch_over_http(make_order: OrderFactory) -> None:
    with ShipStationSandbox(*AUTH) as sandbox:
        switched = requests.post(f"{sandbox.url}/_sandbox/timeout_next_create", json={}, timeout=10)
        assert switched.status_code == 204
        with pytest.raises(requests.ConnectionError):
            requests.post(
                f"{sandbox.url}/orders/createorder", json=make_order(), auth=AUTH, timeout=10
            )
        assert len(sandbox.store.orders()) == 1
        refused = requests.post(
            f"{sandbox.url}/_sandbox/timeout_next_create", json={"n": -1}, timeout=10
        )
        assert refused.status_code == 400


def test_request_log_records_api_calls_only(
    sandbox: ShipStationSandbox, api: requests.Session
) -> None:
    api.get("/orders", params={"orderNumber": "1001", "page": "1"})
    api.get("/_sandbox/orders")
    api.get("/shipments")

    assert sandbox.requests == [
        {
            "method": "GET",
            "path": "/orders",
            "query": {"orderNumber": "1001", "page": "1"},
            "status": 200,
            "body": None,
        },
        {"method": "GET", "path": "/shipments", "query": {}, "status": 200, "body": None},
    ]
    sandbox.clear_requests()
    assert sandbox.requests == []


def test_url_needs_a_running_sandbox() -> None:
    sandbox = ShipStationSandbox(*AUTH)
    with pytest.raises(RuntimeError):
        _ = sandbox.url
    with sandbox:
        with pytest.raises(RuntimeError):
            sandbox.start()
        assert sandbox.url.startswith("http://127.0.0.1:")


def test_cli_prints_its_url_and_serves_until_terminated() -> None:
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
        "--rate-limit",
        "40",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            answer = requests.get(f"{url}/orders", auth=AUTH, timeout=10)
            assert answer.status_code == 200
            assert answer.headers["X-Rate-Limit-Limit"] == "40"
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=10)
    assert returncode == 0
