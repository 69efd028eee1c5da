"""The api-key header guards every V2 endpoint; the control routes stay open."""

from __future__ import annotations

import pytest
import requests
from v2_helpers import API_KEY, ApiSession, ShipmentFactory, assert_error_body

from shipstation_sandbox.v2 import ShipStationV2Sandbox

API_CALLS = [
    ("GET", "/v2/shipments"),
    ("POST", "/v2/shipments"),
    ("GET", "/v2/shipments/se-100000001"),
    ("GET", "/v2/shipments/external_shipment_id/bigcartel-ABCD-1001"),
    ("PUT", "/v2/shipments/se-100000001"),
    ("PUT", "/v2/shipments/se-100000001/cancel"),
    ("GET", "/v2/labels"),
    ("GET", "/v2/labels/se-500000001"),
    ("PUT", "/v2/labels/se-500000001/void"),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS)
@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_requests_without_the_key_get_401_with_the_v2_error_body(
    sandbox: ShipStationV2Sandbox,
    make_shipment: ShipmentFactory,
    method: str,
    path: str,
    key: str | None,
) -> None:
    headers = {} if key is None else {"api-key": key}
    body = {"shipments": [make_shipment()]} if method == "POST" else make_shipment()
    response = requests.request(method, sandbox.url + path, json=body, headers=headers, timeout=10)
    error = assert_error_body(response, 401, "unauthorized")
    assert error["error_type"] == "security"
    assert sandbox.store.shipments() == []


@pytest.mark.parametrize("header", ["api-key", "API-Key", "API-KEY"])
def test_the_header_name_ignores_case(sandbox: ShipStationV2Sandbox, header: str) -> None:
    response = requests.get(f"{sandbox.url}/v2/shipments", headers={header: API_KEY}, timeout=10)
    assert response.status_code == 200
    assert response.json()["shipments"] == []


def test_basic_auth_is_not_accepted(sandbox: ShipStationV2Sandbox) -> None:
    response = requests.get(f"{sandbox.url}/v2/shipments", auth=(API_KEY, ""), timeout=10)
    assert response.status_code == 401


def test_control_routes_need_no_key(anonymous: ApiSession) -> None:
    assert anonymous.get("/_sandbox/shipments").json() == {"shipments": []}
    assert anonymous.get("/_sandbox/labels").json() == {"labels": []}


def test_unknown_path_is_a_v2_404(api: ApiSession) -> None:
    assert_error_body(api.get("/v2/orders"), 404, "not_found")
