"""What the V2 tests share: the base shipment, an API session, a manual clock, error checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

API_KEY = "test-v2-key"

BASE_SHIPMENT: dict[str, Any] = {
    "external_shipment_id": "bigcartel-ABCD-1001",
    "shipment_number": "1001",
    "warehouse_id": "se-217762",
    "ship_to": {
        "name": "Ada Buyer",
        "phone": "555-0100",
        "address_line1": "1 Main St",
        "address_line2": "Apt 2",
        "city_locality": "Portland",
        "state_province": "OR",
        "postal_code": "97201",
        "country_code": "US",
        "address_residential_indicator": "yes",
    },
    "packages": [{"weight": {"value": 12, "unit": "ounce"}}],
    "items": [
        {
            "sku": "TEE-M",
            "name": "Tee",
            "quantity": 2,
            "unit_price": 12.5,
            "external_order_id": "ABCD-1001",
            "external_order_item_id": "li-1",
        },
        {
            "sku": "MUG",
            "name": "Mug",
            "quantity": 1,
            "unit_price": 9.0,
            "external_order_id": "ABCD-1001",
            "external_order_item_id": "li-2",
        },
    ],
    "amount_paid": {"currency": "usd", "amount": 34.0},
    "notes_from_buyer": "Leave at the door",
}


class ApiSession(requests.Session):
    """A session sending the sandbox's api-key that takes paths instead of URLs."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        super().__init__()
        self.base_url = base_url
        if api_key is not None:
            self.headers["API-Key"] = api_key

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return super().request(method, self.base_url + url, *args, **kwargs)


class ManualClock:
    """The store's clock, moved by the test instead of by time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


ShipmentFactory = Callable[..., dict[str, Any]]


def assert_error_body(response: requests.Response, status: int, error_code: str) -> dict[str, Any]:
    """The answer is a V2 error body with this status and (first) error_code; returns the error."""
    assert response.status_code == status, response.text
    body = response.json()
    uuid.UUID(body["request_id"])
    error = body["errors"][0]
    assert set(error) >= {"error_source", "error_type", "error_code", "message"}
    assert error["error_source"] == "ShipStation"
    assert error["error_code"] == error_code
    assert error["message"]
    return error
