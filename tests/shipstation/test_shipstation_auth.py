"""HTTP Basic auth guards every API endpoint; the control routes stay open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from shipstation_sandbox import ShipStationSandbox

OrderFactory = Callable[..., dict[str, Any]]

API_CALLS = [
    ("GET", "/orders"),
    ("GET", "/orders/100000001"),
    ("POST", "/orders/createorder"),
    ("POST", "/orders/markasshipped"),
    ("GET", "/shipments"),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS)
def test_requests_without_credentials_get_401(
    anonymous: requests.Session,
    sandbox: ShipStationSandbox,
    make_order: OrderFactory,
    method: str,
    path: str,
) -> None:
    body = make_order() if path == "/orders/createorder" else None
    response = anonymous.request(method, path, json=body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "Message" in response.json()
    assert sandbox.store.orders() == []


def test_wrong_secret_gets_401(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    api_key, _ = api.auth
    response = api.post("/orders/createorder", json=make_order(), auth=(api_key, "wrong"))
    assert response.status_code == 401
    assert sandbox.store.orders() == []


def test_right_credentials_pass(api: requests.Session) -> None:
    assert api.get("/orders").status_code == 200


def test_control_routes_need_no_credentials(anonymous: requests.Session) -> None:
    response = anonymous.get("/_sandbox/orders")
    assert response.status_code == 200
    assert response.json() == {"orders": []}


def test_refused_requests_are_logged(sandbox: ShipStationSandbox) -> None:
    response = requests.get(f"{sandbox.url}/orders", params={"page": "2"}, timeout=10)
    assert response.status_code == 401
    assert sandbox.requests == [
        {"method": "GET", "path": "/orders", "query": {"page": "2"}, "status": 401, "body": None}
    ]
