"""The server: rate limit, the lost-answer fault, the request log, latency and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from v2_helpers import API_KEY, ApiSession, ShipmentFactory, assert_error_body

from shipstation_sandbox.v2 import DEFAULT_RATE_LIMIT, ShipStationV2Sandbox
from shipstation_sandbox.v2.__main__ import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limiter_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(limiter_clock: FakeClock) -> Iterator[ShipStationV2Sandbox]:
    with ShipStationV2Sandbox(
        API_KEY, rate_limit=LIMIT, rate_limit_window_seconds=60, rate_limit_clock=limiter_clock
    ) as running:
        yield running


@pytest.fixture
def client(limited: ShipStationV2Sandbox) -> Iterator[ApiSession]:
    with ApiSession(limited.url, API_KEY) as session:
        yield session


def test_past_the_budget_429_with_retry_after(
    client: ApiSession, limiter_clock: FakeClock, limited: ShipStationV2Sandbox
) -> None:
    answers = [client.get("/v2/shipments") for _ in range(LIMIT)]
    limiter_clock.now += 20.5
    refused = client.get("/v2/shipments")

    assert [a.status_code for a in answers] == [200] * LIMIT
    error = assert_error_body(refused, 429, "rate_limit_exceeded")
    assert error["error_source"] == "ShipStation"
    assert refused.headers["Retry-After"] == "40"
    # No V2 page mentions X-Rate-Limit-* headers.
    assert not [h for r in [*answers, refused] for h in r.headers if h.lower().startswith("x-rate")]

    limiter_clock.now += 39.5
    assert client.get("/v2/shipments").status_code == 200


def test_refused_create_stores_nothing(
    client: ApiSession, limited: ShipStationV2Sandbox, make_shipment: ShipmentFactory
) -> None:
    for _ in range(LIMIT):
        client.get("/v2/labels")
    response = client.post("/v2/shipments", json={"shipments": [make_shipment()]})
    assert response.status_code == 429
    assert limited.store.shipments() == []


def test_retry_after_is_at_least_one_second(client: ApiSession, limiter_clock: FakeClock) -> None:
    for _ in range(LIMIT):
        client.get("/v2/shipments")
    limiter_clock.now += 59.9
    assert client.get("/v2/shipments").headers["Retry-After"] == "1"


def test_control_routes_and_refused_keys_spend_no_budget(limited: ShipStationV2Sandbox) -> None:
    for _ in range(LIMIT + 1):
        assert requests.get(f"{limited.url}/_sandbox/shipments", timeout=10).status_code == 200
        assert requests.get(f"{limited.url}/v2/shipments", timeout=10).status_code == 401
    with ApiSession(limited.url, API_KEY) as session:
        assert [session.get("/v2/shipments").status_code for _ in range(LIMIT + 1)] == [
            200,
            200,
            200,
            429,
        ]


def test_without_a_limit_nothing_is_refused(api: ApiSession) -> None:
    assert {api.get("/v2/shipments").status_code for _ in range(30)} == {200}


def test_cli_rate_limit_alone_is_the_documented_200() -> None:
    assert DEFAULT_RATE_LIMIT == 200
    assert build_parser().parse_args(["--api-key", "k", "--rate-limit"]).rate_limit == 200
    assert build_parser().parse_args(["--api-key", "k", "--rate-limit", "7"]).rate_limit == 7
    assert build_parser().parse_args(["--api-key", "k"]).rate_limit is None


def test_lost_answer_stores_the_batch_but_the_client_gets_none(
    make_shipment: ShipmentFactory,
) -> None:
    with ShipStationV2Sandbox(API_KEY) as sandbox, ApiSession(sandbox.url, API_KEY) as api:
        sandbox.store.timeout_next_create()
        batch = {"shipments": [make_shipment(), make_shipment(external_shipment_id="two")]}

        with pytest.raises(requests.ConnectionError):
            api.post("/v2/shipments", json=batch)
        stored = sandbox.store.shipments()
        # The retry finds both external ids taken: the client must look them up to reconcile.
        retried = api.post("/v2/shipments", json=batch)
        found = api.get("/v2/shipments/external_shipment_id/bigcartel-ABCD-1001")

    assert [s["external_shipment_id"] for s in stored] == ["bigcartel-ABCD-1001", "two"]
    assert retried.status_code == 400
    assert all("already exists" in e["errors"][0] for e in retried.json()["shipments"])
    assert found.json()["shipment_id"] == stored[0]["shipment_id"]
    assert [entry["status"] for entry in sandbox.requests] == [None, 400, 200]


def test_timeouts_count_down_and_skip_calls_that_create_nothing(
    make_shipment: ShipmentFactory,
) -> None:
    with ShipStationV2Sandbox(API_KEY) as sandbox, ApiSession(sandbox.url, API_KEY) as api:
        sandbox.store.timeout_next_create(2)
        invalid = api.post("/v2/shipments", json={"shipments": [{}]})
        for key in ("1", "2"):
            with pytest.raises(requests.ConnectionError):
                api.post(
                    "/v2/shipments", json={"shipments": [make_shipment(external_shipment_id=key)]}
                )
        answered = api.post(
            "/v2/shipments", json={"shipments": [make_shipment(external_shipment_id="3")]}
        )
        assert invalid.status_code == 400
        assert answered.status_code == 200
        assert sandbox.store.pending_create_timeouts == 0
        assert [s["external_shipment_id"] for s in sandbox.store.shipments()] == ["1", "2", "3"]


def test_held_answer_outlasts_the_client_timeout(make_shipment: ShipmentFactory) -> None:
    sandbox = ShipStationV2Sandbox(API_KEY, timeout_hang_seconds=60).start()
    try:
        sandbox.store.timeout_next_create()
        with pytest.raises(requests.Timeout):
            requests.post(
                f"{sandbox.url}/v2/shipments",
                json={"shipments": [make_shipment()]},
                headers={"api-key": API_KEY},
                timeout=0.3,
            )
        assert len(sandbox.store.shipments()) == 1
    finally:
        started = time.monotonic()
        sandbox.stop()
    assert time.monotonic() - started < 5


def test_timeout_switch_over_http(make_shipment: ShipmentFactory) -> None:
    with ShipStationV2Sandbox(API_KEY) as sandbox:
        switched = requests.post(f"{sandbox.url}/_sandbox/timeout_next_create", json={}, timeout=10)
        assert switched.status_code == 204
        with pytest.raises(requests.ConnectionError):
            requests.post(
                f"{sandbox.url}/v2/shipments",
                json={"shipments": [make_shipment()]},
                headers={"api-key": API_KEY},
                timeout=10,
            )
        assert len(sandbox.store.shipments()) == 1
        refused = requests.post(
            f"{sandbox.url}/_sandbox/timeout_next_create", json={"n": -1}, timeout=10
        )
        assert refused.status_code == 400


def test_request_log_and_counts_per_route(
    sandbox: ShipStationV2Sandbox, api: ApiSession, make_shipment: ShipmentFactory
) -> None:
    body = {"shipments": [make_shipment()]}
    api.post("/v2/shipments", json=body)
    api.post("/v2/shipments", json=body)
    api.get("/v2/shipments/se-100000001")
    api.get("/v2/shipments/se-100000002")
    api.get("/v2/shipments", params={"page": "1"})
    api.get("/_sandbox/shipments")
    api.put("/v2/shipments/se-100000001/cancel")

    log = sandbox.requests
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/v2/shipments", 200),
        ("POST", "/v2/shipments", 400),
        ("GET", "/v2/shipments/se-100000001", 200),
        ("GET", "/v2/shipments/se-100000002", 404),
        ("GET", "/v2/shipments", 200),
        ("PUT", "/v2/shipments/se-100000001/cancel", 204),
    ]
    assert log[0]["body"] == body
    assert log[4]["query"] == {"page": "1"}
    assert sandbox.request_counts() == {
        "POST /v2/shipments": 2,
        "GET /v2/shipments/<shipment_id>": 2,
        "GET /v2/shipments": 1,
        "PUT /v2/shipments/<shipment_id>/cancel": 1,
    }
    sandbox.clear_requests()
    assert sandbox.requests == []


def test_latency_does_not_serialize_concurrent_requests() -> None:
    latency, clients = 0.2, 8
    with ShipStationV2Sandbox(API_KEY, latency_seconds=latency) as sandbox:

        def call(_: int) -> int:
            return requests.get(
                f"{sandbox.url}/v2/shipments", headers={"api-key": API_KEY}, timeout=10
            ).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            statuses = list(pool.map(call, range(clients)))
        elapsed = time.monotonic() - started

    assert statuses == [200] * clients
    assert latency <= elapsed < 1.0


def test_url_needs_a_running_sandbox() -> None:
    sandbox = ShipStationV2Sandbox(API_KEY)
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
        "shipstation_sandbox.v2",
        "--port",
        "0",
        "--api-key",
        "k",
        "--rate-limit",
        "2",
        "--rate-limit-window",
        "600",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            statuses = [
                requests.get(
                    f"{url}/v2/shipments", headers={"api-key": "k"}, timeout=10
                ).status_code
                for _ in range(3)
            ]
            assert statuses == [200, 200, 429]
            assert requests.get(f"{url}/v2/shipments", timeout=10).status_code == 401
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=10)
    assert returncode == 0
