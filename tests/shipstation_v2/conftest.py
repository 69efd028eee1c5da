"""Fixtures: a fresh in-process V2 sandbox per test and an HTTP session that talks to it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from v2_helpers import API_KEY, BASE_SHIPMENT, ApiSession, ManualClock, ShipmentFactory

from shipstation_sandbox.v2 import ShipStationV2Sandbox


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[ShipStationV2Sandbox]:
    with ShipStationV2Sandbox(API_KEY, clock=clock) as running:
        yield running


@pytest.fixture
def api(sandbox: ShipStationV2Sandbox) -> Iterator[ApiSession]:
    with ApiSession(sandbox.url, API_KEY) as session:
        yield session


@pytest.fixture
def anonymous(sandbox: ShipStationV2Sandbox) -> Iterator[ApiSession]:
    with ApiSession(sandbox.url, None) as session:
        yield session


@pytest.fixture
def make_shipment() -> ShipmentFactory:
    """Build one shipment: the base shipment with top-level fields overridden."""

    def build(**overrides: Any) -> dict[str, Any]:
        return {**copy.deepcopy(BASE_SHIPMENT), **overrides}

    return build


@pytest.fixture
def create(api: ApiSession, make_shipment: ShipmentFactory) -> Callable[..., dict[str, Any]]:
    """Create one shipment over HTTP and return it as created (asserting it was)."""

    def run(**overrides: Any) -> dict[str, Any]:
        response = api.post("/v2/shipments", json={"shipments": [make_shipment(**overrides)]})
        assert response.status_code == 200, response.text
        [entry] = response.json()["shipments"]
        assert entry["errors"] == []
        return entry

    return run
