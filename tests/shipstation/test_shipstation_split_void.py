"""Split and partial shipments (one label per parcel) and voided labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from shipstation_sandbox import (
    LabelAlreadyVoidedError,
    OverShipmentError,
    ShipmentItemsError,
    ShipmentNotFoundError,
    ShipStationSandbox,
)

OrderFactory = Callable[..., dict[str, Any]]

TEE = {
    "lineItemKey": "li-1",
    "sku": "TEE-M",
    "name": "Tee",
    "quantity": 2,
    "unitPrice": 12.5,
    "options": [{"name": "Size", "value": "M"}],
}
MUG = {"lineItemKey": "li-2", "sku": "MUG", "name": "Mug", "quantity": 3, "unitPrice": 8.0}


@pytest.fixture
def order(api: requests.Session, make_order: OrderFactory) -> dict[str, Any]:
    response = api.post("/orders/createorder", json=make_order(items=[TEE, MUG]))
    assert response.status_code == 200, response.text
    return response.json()


def status(api: requests.Session, order: dict[str, Any]) -> str:
    return api.get(f"/orders/{order['orderId']}").json()["orderStatus"]


def listed(api: requests.Session, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/shipments", params={"includeShipmentItems": "true", **params})
    assert response.status_code == 200, response.text
    return response.json()["shipments"]


def parcel(shipment: dict[str, Any]) -> list[tuple[str | None, int]]:
    return [(item["lineItemKey"], item["quantity"]) for item in shipment["shipmentItems"]]


def test_partial_then_rest(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    first = sandbox.store.ship(
        order["orderKey"],
        tracking_number="1Z1",
        carrier_code="ups",
        items=[{"lineItemKey": "li-1", "quantity": 2}, {"lineItemKey": "li-2", "quantity": 1}],
    )

    assert status(api, order) == "awaiting_shipment"
    assert api.get(f"/orders/{order['orderId']}").json()["shipDate"] is None
    assert parcel(first) == [("li-1", 2), ("li-2", 1)]
    assert first["shipmentItems"][1] == {**order["items"][1], "quantity": 1}
    assert sandbox.store.unshipped_units(order["orderKey"]) == [
        {"lineItemKey": "li-1", "sku": "TEE-M", "quantity": 0},
        {"lineItemKey": "li-2", "sku": "MUG", "quantity": 2},
    ]

    second = sandbox.store.ship(order["orderKey"], tracking_number="9400X", carrier_code="usps")

    assert status(api, order) == "shipped"
    assert api.get(f"/orders/{order['orderId']}").json()["shipDate"] == second["shipDate"]
    assert parcel(second) == [("li-2", 2)]
    shipments = listed(api, orderId=order["orderId"])
    assert [s["shipmentId"] for s in shipments] == [first["shipmentId"], second["shipmentId"]]
    assert first["shipmentId"] != second["shipmentId"]
    assert [(s["trackingNumber"], s["carrierCode"]) for s in shipments] == [
        ("1Z1", "ups"),
        ("9400X", "usps"),
    ]
    assert [parcel(s) for s in shipments] == [[("li-1", 2), ("li-2", 1)], [("li-2", 2)]]
    assert {s["orderKey"] for s in shipments} == {order["orderKey"]}
    without_items = api.get("/shipments").json()["shipments"]
    assert [s["shipmentItems"] for s in without_items] == [None, None]


def test_each_unit_labelled_turns_the_order_shipped_only_at_the_last(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    statuses = []
    for line_item_key in ("li-1", "li-1", "li-2", "li-2", "li-2"):
        sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": line_item_key, "quantity": 1}])
        statuses.append(status(api, order))
    assert statuses == ["awaiting_shipment"] * 4 + ["shipped"]
    assert len(listed(api)) == 5


def test_over_shipping_is_refused_and_changes_nothing(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-2", "quantity": 2}])
    before = (sandbox.store.orders(), sandbox.store.shipments())

    with pytest.raises(OverShipmentError):
        sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-2", "quantity": 2}])
    with pytest.raises(OverShipmentError):
        # Two asks for the same line in one parcel add up.
        sandbox.store.ship(
            order["orderKey"],
            items=[{"lineItemKey": "li-1", "quantity": 2}, {"lineItemKey": "li-1", "quantity": 1}],
        )

    assert (sandbox.store.orders(), sandbox.store.shipments()) == before
    assert status(api, order) == "awaiting_shipment"


@pytest.mark.parametrize(
    "items",
    [
        [{"lineItemKey": "li-9", "quantity": 1}],
        [{"sku": "NOPE", "quantity": 1}],
        [{"quantity": 1}],
        [{"lineItemKey": "li-1", "quantity": 0}],
        [{"lineItemKey": "li-1", "quantity": "1"}],
        ["li-1"],
        [],
        "li-1",
    ],
)
def test_items_that_name_nothing_are_refused(
    sandbox: ShipStationSandbox, order: dict[str, Any], items: Any
) -> None:
    with pytest.raises(ShipmentItemsError):
        sandbox.store.ship(order["orderKey"], items=items)
    assert sandbox.store.shipments() == []


def test_items_by_sku_when_lines_have_no_line_item_key(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    lines = [
        {"sku": "TEE", "name": "Tee S", "quantity": 1, "options": [{"name": "Size", "value": "S"}]},
        {"sku": "TEE", "name": "Tee L", "quantity": 2, "options": [{"name": "Size", "value": "L"}]},
        {"sku": "CAP", "name": "Cap", "quantity": 1},
    ]
    order = api.post("/orders/createorder", json=make_order(items=lines)).json()

    first = sandbox.store.ship(order["orderKey"], items=[{"sku": "TEE", "quantity": 2}])

    # The sku's units are taken first line first.
    assert [(i["name"], i["quantity"]) for i in first["shipmentItems"]] == [
        ("Tee S", 1),
        ("Tee L", 1),
    ]
    assert status(api, order) == "awaiting_shipment"
    with pytest.raises(OverShipmentError):
        sandbox.store.ship(order["orderKey"], items=[{"sku": "TEE", "quantity": 2}])
    rest = sandbox.store.ship(order["orderKey"])
    assert [(i["name"], i["quantity"]) for i in rest["shipmentItems"]] == [
        ("Tee L", 1),
        ("Cap", 1),
    ]
    assert status(api, order) == "shipped"


def test_whole_order_label_then_extra_package(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    whole = sandbox.store.ship(order["orderKey"])
    extra = sandbox.store.ship(order["orderKey"])
    assert whole["shipmentItems"] == order["items"]
    assert extra["shipmentItems"] == order["items"]
    with pytest.raises(OverShipmentError):
        sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-1", "quantity": 1}])
    # The extra package took no units: voiding the first label leaves units unlabelled.
    sandbox.store.void_label(whole["shipmentId"])
    assert status(api, order) == "awaiting_shipment"


def test_void_label_over_the_api(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    shipment = sandbox.store.ship(order["orderKey"])
    assert status(api, order) == "shipped"

    response = api.post("/shipments/voidlabel", json={"shipmentId": shipment["shipmentId"]})

    assert response.status_code == 200
    assert response.json() == {"approved": True, "message": "Label voided successfully"}
    [voided] = listed(api)
    assert voided["shipmentId"] == shipment["shipmentId"]
    assert voided["voided"] is True
    assert voided["voidDate"]
    assert voided["trackingNumber"] == shipment["trackingNumber"]
    after = api.get(f"/orders/{order['orderId']}").json()
    assert (after["orderStatus"], after["shipDate"]) == ("awaiting_shipment", None)
    assert after["modifyDate"] == voided["voidDate"]
    # The order is open again: it can be updated and shipped anew.
    assert api.post("/orders/createorder", json={**order, "customerEmail": "x@y.z"}).ok
    again = sandbox.store.ship(order["orderKey"])
    assert parcel(again) == [("li-1", 2), ("li-2", 3)]
    assert status(api, order) == "shipped"
    assert [s["voided"] for s in listed(api)] == [True, False]

    twice = api.post("/shipments/voidlabel", json={"shipmentId": shipment["shipmentId"]})
    assert twice.status_code == 200
    assert twice.json()["approved"] is False
    assert "voided" in twice.json()["message"]


def test_void_of_a_partial_label_returns_its_units(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    part = sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-2", "quantity": 3}])
    sandbox.store.ship(order["orderKey"], items=[{"sku": "TEE-M", "quantity": 2}])
    assert status(api, order) == "shipped"

    sandbox.store.void_label(part["shipmentId"])

    assert status(api, order) == "awaiting_shipment"
    assert [u["quantity"] for u in sandbox.store.unshipped_units(order["orderKey"])] == [0, 3]
    with pytest.raises(OverShipmentError):
        sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-1", "quantity": 1}])
    sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-2", "quantity": 3}])
    assert status(api, order) == "shipped"


def test_void_of_an_extra_label_keeps_a_fully_labelled_order_shipped(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    sandbox.store.ship(order["orderKey"])
    extra = sandbox.store.ship(order["orderKey"])
    sandbox.store.void_label(extra["shipmentId"])
    assert status(api, order) == "shipped"


def test_void_keeps_an_order_marked_shipped_without_labels_shipped(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    partial = sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-1", "quantity": 1}])
    body = {"orderId": order["orderId"], "carrierCode": "usps"}
    assert api.post("/orders/markasshipped", json=body).status_code == 200
    sandbox.store.void_label(partial["shipmentId"])
    assert status(api, order) == "shipped"


def test_void_label_refusals(api: requests.Session, sandbox: ShipStationSandbox) -> None:
    unknown = api.post("/shipments/voidlabel", json={"shipmentId": 123})
    missing = api.post("/shipments/voidlabel", json={})
    wrong = api.post("/shipments/voidlabel", json={"shipmentId": "abc"})
    assert unknown.status_code == 400
    assert "123" in unknown.json()["Message"]
    assert missing.status_code == 400
    assert set(missing.json()["ModelState"]) == {"shipmentId"}
    assert wrong.status_code == 400
    with pytest.raises(ShipmentNotFoundError):
        sandbox.store.void_label(123)


def test_store_refuses_a_second_void(sandbox: ShipStationSandbox, order: dict[str, Any]) -> None:
    shipment = sandbox.store.ship(order["orderKey"])
    sandbox.store.void_label(shipment["shipmentId"])
    with pytest.raises(LabelAlreadyVoidedError):
        sandbox.store.void_label(shipment["shipmentId"])


def test_items_need_a_label(sandbox: ShipStationSandbox, order: dict[str, Any]) -> None:
    with pytest.raises(ShipmentItemsError):
        sandbox.store.ship(
            order["orderKey"], with_label=False, items=[{"lineItemKey": "li-1", "quantity": 1}]
        )
    assert sandbox.store.orders()[0]["orderStatus"] == "awaiting_shipment"


def test_partially_shipped_order_can_still_be_cancelled(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    part = sandbox.store.ship(order["orderKey"], items=[{"lineItemKey": "li-1", "quantity": 1}])
    sandbox.store.cancel(order["orderKey"])
    sandbox.store.void_label(part["shipmentId"])
    assert status(api, order) == "cancelled"


def test_control_routes_split_and_void(
    anonymous: requests.Session, api: requests.Session, order: dict[str, Any]
) -> None:
    key = order["orderKey"]
    first = anonymous.post(
        "/_sandbox/ship",
        json={"orderKey": key, "trackingNumber": "T1", "items": [{"sku": "MUG", "quantity": 3}]},
    )
    assert first.status_code == 200
    assert parcel(first.json()) == [("li-2", 3)]
    assert status(api, order) == "awaiting_shipment"
    unshipped = anonymous.get("/_sandbox/unshipped", params={"orderKey": key})
    assert [u["quantity"] for u in unshipped.json()["items"]] == [2, 0]

    over = anonymous.post(
        "/_sandbox/ship", json={"orderKey": key, "items": [{"sku": "MUG", "quantity": 1}]}
    )
    unknown_item = anonymous.post(
        "/_sandbox/ship", json={"orderKey": key, "items": [{"sku": "HAT", "quantity": 1}]}
    )
    not_a_list = anonymous.post("/_sandbox/ship", json={"orderKey": key, "items": {"sku": "MUG"}})
    assert over.status_code == 409
    assert "only 0" in over.json()["Message"]
    assert unknown_item.status_code == 400
    assert not_a_list.status_code == 400

    rest = anonymous.post("/_sandbox/ship", json={"orderKey": key, "trackingNumber": "T2"})
    assert rest.status_code == 200
    assert status(api, order) == "shipped"

    voided = anonymous.post("/_sandbox/void", json={"shipmentId": first.json()["shipmentId"]})
    assert voided.status_code == 200
    assert (voided.json()["voided"], voided.json()["trackingNumber"]) == (True, "T1")
    assert voided.json()["voidDate"]
    assert status(api, order) == "awaiting_shipment"
    assert [s["voided"] for s in listed(api)] == [True, False]
    again = anonymous.post("/_sandbox/void", json={"shipmentId": first.json()["shipmentId"]})
    assert again.status_code == 409
    assert anonymous.post("/_sandbox/void", json={"shipmentId": 1}).status_code == 404
    assert anonymous.post("/_sandbox/void", json={"shipmentId": "1"}).status_code == 400
    assert anonymous.get("/_sandbox/unshipped", params={"orderKey": "zzz"}).status_code == 404
    assert anonymous.get("/_sandbox/unshipped").status_code == 400
