"""Fault switches: injected errors, rate limits, dropped connections and delays."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
from sandbox_helpers import Api

from bigcartel_sandbox import Sandbox


def test_fail_next_answers_the_queued_statuses(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.fail_next(1, status=503)
    sandbox.faults.fail_next(1, status=429, retry_after=7)
    first, second, third = (api.get("/orders") for _ in range(3))
    assert first.status_code == 503 and "Retry-After" not in first.headers
    assert first.json()["errors"][0]["status"] == "503"
    assert second.status_code == 429 and second.headers["Retry-After"] == "7"
    assert third.status_code == 200
    assert [r["status"] for r in sandbox.requests] == [503, 429, 200]


def test_drop_next_closes_the_connection_without_an_answer(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        api.get("/orders")
    assert api.get("/orders").status_code == 200
    assert [r["status"] for r in sandbox.requests] == [0, 200]


def test_error_rate_gives_server_errors(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.error_rate = 1.0
    statuses = Counter(api.get("").status_code for _ in range(30))
    assert set(statuses) <= {500, 502, 503} and len(statuses) > 1
    sandbox.faults.error_rate = 0.0
    assert api.get("").status_code == 200


def test_rate_limit_rate_gives_429_with_retry_after(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.rate_limit_rate = 1.0
    sandbox.faults.retry_after = 3
    response = api.get("/products")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


def test_partial_rates_mix_faults_and_answers(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.configure(error_rate=0.3, rate_limit_rate=0.3)
    statuses = Counter(api.get("").status_code for _ in range(60))
    assert statuses[200] and statuses[429] and statuses[200] < 60
    with pytest.raises(ValueError):
        sandbox.faults.configure(drop_rate=0.5)


def test_drop_rate_drops_connections(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.drop_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        api.get("")


def test_delay_slows_answers(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.delay_seconds = 0.3
    started = time.monotonic()
    assert api.get("").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_faults_only_touch_the_v1_api(sandbox: Sandbox) -> None:
    sandbox.faults.error_rate = 1.0
    response = requests.get(f"{sandbox.url}/_sandbox/shops")
    assert response.status_code == 200
    authorize = requests.get(
        f"{sandbox.url}/oauth/authorize",
        params={"client_id": "sandbox-client-id", "redirect_uri": "https://a.example/cb"},
        allow_redirects=False,
    )
    assert authorize.status_code == 302
