"""POST /v2/shipments: batches of up to 100, each shipment checked and answered on its own."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from v2_helpers import API_KEY, ApiSession, ShipmentFactory, assert_error_body

from shipstation_sandbox.v2 import ShipStationV2Sandbox

Create = Callable[..., dict[str, Any]]


def test_created_shipment_keeps_every_field_sent(
    api: ApiSession, sandbox: ShipStationV2Sandbox, make_shipment: ShipmentFactory
) -> None:
    sent = make_shipment(
        customs={"contents": "merchandise", "non_delivery": "return_to_sender"},
        packages=[
            {
                "weight": {"value": 1.5, "unit": "pound"},
                "dimensions": {"unit": "inch", "length": 10, "width": 8, "height": 2},
                "external_package_id": "pkg-1",
                "products": [
                    {
                        "description": "Cotton tee",
                        "quantity": 2,
                        "value": {"currency": "usd", "amount": 12.5},
                        "harmonized_tariff_code": "6109.10",
                        "country_of_origin": "US",
                        "sku": "TEE-M",
                    }
                ],
            }
        ],
        shipping_paid={"currency": "usd", "amount": 5.0},
        internal_notes="fragile",
        is_gift=True,
        notes_for_gift="Happy birthday",
        custom_field_we_made_up="kept",
    )
    response = api.post("/v2/shipments", json={"shipments": [sent]})

    assert response.status_code == 200
    body = response.json()
    assert body["has_errors"] is False
    [shipment] = body["shipments"]
    assert shipment["errors"] == []
    assert shipment["shipment_id"] == "se-100000001"
    assert shipment["shipment_status"] == "pending"
    assert shipment["created_at"] == shipment["modified_at"] == "2026-05-01T12:00:00.000Z"
    for field, value in sent.items():
        assert shipment[field] == value, field
    assert shipment["total_weight"] == {"value": 1.5, "unit": "pound"}
    assert sandbox.store.get_shipment("se-100000001") == {
        k: v for k, v in shipment.items() if k not in ("errors", "address_validation")
    }


def test_ids_count_up_and_a_missing_external_id_is_the_shipment_id(create: Create) -> None:
    first = create()
    created = create(external_shipment_id=None, shipment_number=None)
    assert first["shipment_id"] == "se-100000001"
    assert created["shipment_id"] == "se-100000002"
    assert created["external_shipment_id"] == "se-100000002"
    # The spec: shipment_number defaults to external_shipment_id.
    assert created["shipment_number"] == "se-100000002"


def test_long_external_id_is_truncated_to_50(create: Create, api: ApiSession) -> None:
    long_id = "x" * 49 + "yz"
    shipment = create(external_shipment_id=long_id)
    assert shipment["external_shipment_id"] == long_id[:50]
    assert api.get(f"/v2/shipments/external_shipment_id/{long_id[:50]}").status_code == 200


def test_mixed_batch_creates_the_valid_and_answers_each(
    api: ApiSession, sandbox: ShipStationV2Sandbox, create: Create, make_shipment: ShipmentFactory
) -> None:
    create(external_shipment_id="existing")
    invalid = make_shipment(external_shipment_id="bad")
    del invalid["ship_to"]["postal_code"]
    batch = [
        make_shipment(external_shipment_id="new-1"),
        invalid,
        make_shipment(external_shipment_id="existing"),
        make_shipment(external_shipment_id="new-2"),
        make_shipment(external_shipment_id="new-1"),
    ]
    response = api.post("/v2/shipments", json={"shipments": batch})

    assert response.status_code == 200
    body = response.json()
    assert body["has_errors"] is True
    entries = body["shipments"]
    assert [e["external_shipment_id"] for e in entries] == [
        "new-1",
        "bad",
        "existing",
        "new-2",
        "new-1",
    ]
    assert [bool(e["errors"]) for e in entries] == [False, True, True, False, True]
    assert entries[1]["errors"] == ["ship_to.postal_code is required."]
    assert "already exists" in entries[2]["errors"][0]
    assert "already exists" in entries[4]["errors"][0]
    assert [e["shipment_id"] for e in entries] == [
        "se-100000002",
        None,
        None,
        "se-100000003",
        None,
    ]
    assert [s["external_shipment_id"] for s in sandbox.store.shipments()] == [
        "existing",
        "new-1",
        "new-2",
    ]


def test_batch_with_nothing_created_is_a_400_with_both_bodies(
    api: ApiSession, sandbox: ShipStationV2Sandbox, create: Create, make_shipment: ShipmentFactory
) -> None:
    create(external_shipment_id="existing")
    response = api.post(
        "/v2/shipments",
        json={"shipments": [make_shipment(external_shipment_id="existing"), {}]},
    )
    error = assert_error_body(response, 400, "identifier_conflict")
    assert error["field_name"] == "external_shipment_id"
    body = response.json()
    assert body["has_errors"] is True
    assert [bool(entry["errors"]) for entry in body["shipments"]] == [True, True]
    assert {e["error_code"] for e in body["errors"]} >= {"field_value_required"}
    assert len(sandbox.store.shipments()) == 1


def test_100_shipments_are_created_101_are_refused_whole(
    api: ApiSession, sandbox: ShipStationV2Sandbox, make_shipment: ShipmentFactory
) -> None:
    def batch(size: int, prefix: str) -> list[dict[str, Any]]:
        return [make_shipment(external_shipment_id=f"{prefix}-{n}") for n in range(size)]

    refused = api.post("/v2/shipments", json={"shipments": batch(101, "b")})
    assert_error_body(refused, 400, "invalid_field_value")
    assert sandbox.store.shipments() == []

    accepted = api.post("/v2/shipments", json={"shipments": batch(100, "a")})
    assert accepted.status_code == 200
    assert accepted.json()["has_errors"] is False
    assert len(sandbox.store.shipments()) == 100


@pytest.mark.parametrize(
    ("body", "error_code"),
    [
        (None, "request_body_required"),
        ([], "request_body_required"),
        ({}, "field_value_required"),
        ({"shipments": []}, "field_value_required"),
        ({"shipments": {"external_shipment_id": "x"}}, "field_value_required"),
    ],
)
def test_malformed_requests_are_refused(
    api: ApiSession, sandbox: ShipStationV2Sandbox, body: Any, error_code: str
) -> None:
    response = (
        api.post("/v2/shipments", data="not json", headers={"Content-Type": "application/json"})
        if body is None
        else api.post("/v2/shipments", json=body)
    )
    assert_error_body(response, 400, error_code)
    assert sandbox.store.shipments() == []


def _without(shipment: dict[str, Any], *path: str) -> dict[str, Any]:
    target = shipment
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return shipment


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: _without(s, "ship_to"), "ship_to is required."),
        (lambda s: _without(s, "ship_to", "name"), "ship_to.name is required."),
        (lambda s: _without(s, "ship_to", "phone"), "ship_to.phone is required."),
        (
            lambda s: _without(s, "ship_to", "address_residential_indicator"),
            "ship_to.address_residential_indicator is required.",
        ),
        (
            lambda s: s["ship_to"].update(address_residential_indicator="maybe") or s,
            "ship_to.address_residential_indicator must be one of yes, no, unknown.",
        ),
        (
            lambda s: s["ship_to"].update(country_code="USA") or s,
            "ship_to.country_code must be ISO 3166-1 alpha-2.",
        ),
        (lambda s: {**s, "packages": []}, "At least one package is required."),
        (lambda s: _without(s, "packages"), "At least one package is required."),
        (lambda s: {**s, "packages": [{}]}, "packages[0].weight is required."),
        (
            lambda s: {**s, "packages": [{"weight": {"value": 1, "unit": "stone"}}]},
            "packages[0].weight.unit must be one of pound, ounce, gram, kilogram.",
        ),
        (
            lambda s: {**s, "packages": [{"weight": {"value": -1, "unit": "gram"}}]},
            "packages[0].weight.value must be at least 0.",
        ),
        (lambda s: _without(s, "warehouse_id"), "warehouse_id or ship_from is required."),
        (
            lambda s: {**s, "ship_from": s["ship_to"]},
            "Send warehouse_id or ship_from, not both.",
        ),
        (
            lambda s: {**s, "customs": {"contents": "merchandise"}},
            "customs.non_delivery is required.",
        ),
        (
            lambda s: {**s, "shipment_status": "label_purchased"},
            "shipment_status must be one of pending, processing.",
        ),
        (lambda s: {**s, "shipment_number": "9" * 51}, "shipment_number is longer than 50"),
    ],
)
def test_invalid_shipment_gets_its_error(
    api: ApiSession,
    sandbox: ShipStationV2Sandbox,
    make_shipment: ShipmentFactory,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
) -> None:
    response = api.post("/v2/shipments", json={"shipments": [change(make_shipment())]})
    assert response.status_code == 400
    [entry] = response.json()["shipments"]
    assert any(error.startswith(message) for error in entry["errors"]), entry["errors"]
    assert sandbox.store.shipments() == []


def test_ship_from_instead_of_a_warehouse(create: Create, make_shipment: ShipmentFactory) -> None:
    ship_from = {**make_shipment()["ship_to"], "name": "Warehouse", "phone": "555-0199"}
    shipment = create(warehouse_id=None, ship_from=ship_from)
    assert shipment["ship_from"] == ship_from
    assert shipment["warehouse_id"] is None


def test_concurrent_creates_of_one_external_id_make_one_shipment(
    sandbox: ShipStationV2Sandbox, make_shipment: ShipmentFactory
) -> None:
    def post(_: int) -> int:
        return requests.post(
            f"{sandbox.url}/v2/shipments",
            json={"shipments": [make_shipment()]},
            headers={"api-key": API_KEY},
            timeout=10,
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(post, range(8)))
    assert statuses == [200] + [400] * 7
    assert len(sandbox.store.shipments()) == 1
