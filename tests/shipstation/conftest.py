"""Fixtures: a fresh in-process sandbox per test and an HTTP session that talks to it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from shipstation_sandbox import ShipStationSandbox

API_KEY = "test-key"
API_SECRET = "test-secret"

BASE_ORDER: dict[str, Any] = {
    "orderNumber": "1001",
    "orderKey": "bigcartel-ABCD-1001",
    "orderDate": "2024-05-01T10:15:00.0000000",
    "paymentDate": "2024-05-01T10:16:00.0000000",
    "orderStatus": "awaiting_shipment",
    "customerEmail": "buyer@example.com",
    "billTo": {"name": "Ada Buyer"},
    "shipTo": {
        "name": "Ada Buyer",
        "company": None,
        "street1": "1 Main St",
        "street2": "Apt 2",
        "city": "Portland",
        "state": "OR",
        "postalCode": "97201",
        "country": "US",
        "phone": "555-0100",
        "residential": True,
    },
    "items": [
        {
            "lineItemKey": "li-1",
            "sku": "TEE-M",
            "name": "Tee",
            "quantity": 2,
            "unitPrice": 12.5,
            "options": [{"name": "Size", "value": "M"}],
        }
    ],
    "amountPaid": 30.0,
    "shippingAmount": 5.0,
    "requestedShippingService": "DOMESTIC",
    "carrierCode": "ups",
    "serviceCode": "ups_ground",
    "advancedOptions": {"storeId": 42},
}


class ApiSession(requests.Session):
    """A session with the sandbox's credentials that takes paths instead of URLs."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None) -> None:
        super().__init__()
        self.base_url = base_url
        self.auth = auth

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return super().request(method, self.base_url + url, *args, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[ShipStationSandbox]:
    with ShipStationSandbox(API_KEY, API_SECRET) as running:
        yield running


@pytest.fixture
def api(sandbox: ShipStationSandbox) -> Iterator[ApiSession]:
    with ApiSession(sandbox.url, (API_KEY, API_SECRET)) as session:
        yield session


@pytest.fixture
def anonymous(sandbox: ShipStationSandbox) -> Iterator[ApiSession]:
    with ApiSession(sandbox.url, None) as session:
        yield session


@pytest.fixture
def make_order() -> Callable[..., dict[str, Any]]:
    """Build a createorder body: the base order with top-level fields overridden."""

    def build(**overrides: Any) -> dict[str, Any]:
        return {**copy.deepcopy(BASE_ORDER), **overrides}

    return build
