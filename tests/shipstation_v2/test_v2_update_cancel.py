"""PUT /v2/shipments/{id} replaces a shipment before its label; cancel needs labels voided."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from v2_helpers import ApiSession, ManualClock, ShipmentFactory, assert_error_body

from shipstation_sandbox.v2 import ShipStationV2Sandbox

Create = Callable[..., dict[str, Any]]


def test_update_while_pending_replaces_the_whole_shipment(
    api: ApiSession, create: Create, make_shipment: ShipmentFactory, clock: ManualClock
) -> None:
    created = create()
    clock.advance(minutes=5)
    replacement = make_shipment(
        ship_to={**make_shipment()["ship_to"], "address_line1": "2 Side St"},
        items=[{"sku": "TEE-M", "quantity": 1, "external_order_item_id": "li-1"}],
        shipment_id="se-1",
        created_at="2000-01-01T00:00:00.000Z",
        shipment_status="cancelled",
        tags=[{"name": "x"}],
    )
    del replacement["notes_from_buyer"]

    response = api.put(f"/v2/shipments/{created['shipment_id']}", json=replacement)

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["ship_to"]["address_line1"] == "2 Side St"
    assert updated["items"] == replacement["items"]
    # Full replacement: a field left out is cleared.
    assert updated["notes_from_buyer"] is None
    # Immutable fields keep their values whatever the body says.
    assert updated["shipment_id"] == created["shipment_id"]
    assert updated["created_at"] == created["created_at"]
    assert updated["shipment_status"] == "pending"
    assert updated["tags"] == []
    assert updated["modified_at"] == "2026-05-01T12:05:00.000Z"
    assert api.get(f"/v2/shipments/{created['shipment_id']}").json() == updated


def test_update_without_external_id_keeps_it_and_a_new_one_is_refused(
    api: ApiSession, create: Create, make_shipment: ShipmentFactory
) -> None:
    shipment_id = create()["shipment_id"]
    kept = make_shipment()
    del kept["external_shipment_id"]
    assert api.put(f"/v2/shipments/{shipment_id}", json=kept).json()["external_shipment_id"] == (
        "bigcartel-ABCD-1001"
    )
    changed = api.put(
        f"/v2/shipments/{shipment_id}", json=make_shipment(external_shipment_id="other")
    )
    assert_error_body(changed, 400, "identifier_conflict")
    assert api.get("/v2/shipments/external_shipment_id/other").status_code == 404


def test_invalid_update_lists_its_errors_and_changes_nothing(
    api: ApiSession, create: Create, make_shipment: ShipmentFactory
) -> None:
    created = create()
    response = api.put(
        f"/v2/shipments/{created['shipment_id']}", json=make_shipment(packages=[], ship_to=None)
    )
    assert_error_body(response, 400, "field_value_required")
    assert {e["field_name"] for e in response.json()["errors"]} == {"ship_to", "packages"}
    assert (
        api.get(f"/v2/shipments/{created['shipment_id']}").json()["packages"]
        == (created["packages"])
    )


@pytest.mark.parametrize("state", ["label_purchased", "cancelled"])
def test_update_is_refused_after_a_label_or_cancel(
    api: ApiSession,
    create: Create,
    make_shipment: ShipmentFactory,
    sandbox: ShipStationV2Sandbox,
    state: str,
) -> None:
    shipment_id = create()["shipment_id"]
    if state == "label_purchased":
        sandbox.store.create_label(shipment_id=shipment_id)
    else:
        assert api.put(f"/v2/shipments/{shipment_id}/cancel").status_code == 204
    response = api.put(f"/v2/shipments/{shipment_id}", json=make_shipment(notes_from_buyer="x"))
    error = assert_error_body(response, 400, "invalid_status")
    assert error["error_type"] == "business_rules"
    stored = sandbox.store.get_shipment(shipment_id)
    assert (stored["shipment_status"], stored["notes_from_buyer"]) == (state, "Leave at the door")


def test_update_or_cancel_of_an_unknown_shipment_is_a_404(
    api: ApiSession, make_shipment: ShipmentFactory
) -> None:
    assert_error_body(api.put("/v2/shipments/se-1", json=make_shipment()), 404, "not_found")
    assert_error_body(api.put("/v2/shipments/se-1/cancel"), 404, "not_found")


def test_cancel_answers_204_and_twice_is_harmless(
    api: ApiSession, create: Create, clock: ManualClock
) -> None:
    shipment_id = create()["shipment_id"]
    clock.advance(seconds=30)
    first = api.put(f"/v2/shipments/{shipment_id}/cancel")
    assert (first.status_code, first.content) == (204, b"")
    clock.advance(seconds=30)
    assert api.put(f"/v2/shipments/{shipment_id}/cancel").status_code == 204
    shipment = api.get(f"/v2/shipments/{shipment_id}").json()
    assert shipment["shipment_status"] == "cancelled"
    assert shipment["modified_at"] == "2026-05-01T12:00:30.000Z"


def test_cancel_is_refused_while_a_label_is_not_voided(
    api: ApiSession, create: Create, sandbox: ShipStationV2Sandbox
) -> None:
    shipment_id = create()["shipment_id"]
    label = sandbox.store.create_label(shipment_id=shipment_id)

    refused = api.put(f"/v2/shipments/{shipment_id}/cancel")
    assert_error_body(refused, 400, "invalid_status")
    assert sandbox.store.get_shipment(shipment_id)["shipment_status"] == "label_purchased"

    assert api.put(f"/v2/labels/{label['label_id']}/void").json()["approved"] is True
    assert api.put(f"/v2/shipments/{shipment_id}/cancel").status_code == 204
    assert sandbox.store.get_shipment(shipment_id)["shipment_status"] == "cancelled"
