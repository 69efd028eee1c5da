"""Shipment listing: only label shipments show, with items on request; control routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests

from shipstation_sandbox import OrderLockedError, OrderNotFoundError, ShipStationSandbox, timestamps

OrderFactory = Callable[..., dict[str, Any]]

SHIPMENT_FIELDS = {
    "shipmentId",
    "orderId",
    "orderKey",
    "orderNumber",
    "createDate",
    "shipDate",
    "trackingNumber",
    "carrierCode",
    "serviceCode",
    "voided",
    "shipmentItems",
}


@pytest.fixture
def order(api: requests.Session, make_order: OrderFactory) -> dict[str, Any]:
    response = api.post("/orders/createorder", json=make_order())
    assert response.status_code == 200
    return response.json()


def test_label_shipment_is_listed_without_items_by_default(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    shipped = sandbox.store.ship(order["orderKey"], tracking_number="1Z999", carrier_code="ups")

    listing = api.get("/shipments").json()

    assert (listing["total"], listing["page"], listing["pages"]) == (1, 1, 1)
    [shipment] = listing["shipments"]
    assert set(shipment) == SHIPMENT_FIELDS
    assert shipment == {**shipped, "shipmentItems": None}
    assert isinstance(shipment["shipmentId"], int)
    assert (shipment["orderId"], shipment["orderKey"], shipment["orderNumber"]) == (
        order["orderId"],
        order["orderKey"],
        order["orderNumber"],
    )
    assert (shipment["trackingNumber"], shipment["carrierCode"]) == ("1Z999", "ups")
    assert shipment["serviceCode"] == "ups_ground"
    assert shipment["voided"] is False
    assert api.get(f"/orders/{order['orderId']}").json()["orderStatus"] == "shipped"


def test_shipment_items_on_request(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    sandbox.store.ship(order["orderKey"])
    listing = api.get("/shipments", params={"includeShipmentItems": "true"}).json()
    [shipment] = listing["shipments"]
    assert shipment["shipmentItems"] == order["items"]
    assert shipment["trackingNumber"]
    assert api.get("/shipments", params={"includeShipmentItems": "maybe"}).status_code == 400


def test_shipping_without_label_is_not_listed(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    record = sandbox.store.ship(order["orderKey"], tracking_number="T1", with_label=False)
    assert record["shipmentId"] is None
    assert api.get("/shipments").json() == {"shipments": [], "total": 0, "page": 1, "pages": 0}
    assert api.get(f"/orders/{order['orderId']}").json()["orderStatus"] == "shipped"


def test_mark_as_shipped_is_not_listed(api: requests.Session, order: dict[str, Any]) -> None:
    body = {"orderId": order["orderId"], "carrierCode": "usps", "trackingNumber": "T1"}
    assert api.post("/orders/markasshipped", json=body).status_code == 200
    assert api.get("/shipments").json()["total"] == 0
    shipped = api.get("/orders", params={"orderStatus": "shipped"}).json()["orders"]
    assert [o["orderId"] for o in shipped] == [order["orderId"]]


def test_shipment_filters(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    first = api.post("/orders/createorder", json=make_order()).json()
    second = api.post(
        "/orders/createorder", json=make_order(orderNumber="1002", orderKey="k2")
    ).json()
    sandbox.store.ship(first["orderKey"])
    sandbox.store.ship(second["orderKey"])
    created = timestamps.parse_timestamp(sandbox.store.shipments()[0]["createDate"])

    def order_ids(**params: Any) -> list[int]:
        response = api.get("/shipments", params=params)
        assert response.status_code == 200, response.text
        return [shipment["orderId"] for shipment in response.json()["shipments"]]

    assert order_ids(orderNumber="1002") == [second["orderId"]]
    assert order_ids(orderNumber="100") == []
    assert order_ids(orderId=first["orderId"]) == [first["orderId"]]
    earlier = (created - timedelta(hours=1)).isoformat()
    later = (created + timedelta(hours=1)).isoformat()
    assert order_ids(createDateStart=earlier) == [first["orderId"], second["orderId"]]
    assert order_ids(createDateStart=later) == []
    assert api.get("/shipments", params={"createDateStart": "soon"}).status_code == 400


def test_shipment_pages(
    api: requests.Session, sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    for _ in range(3):
        sandbox.store.ship(order["orderKey"])
    page = api.get("/shipments", params={"pageSize": 2, "page": 2}).json()
    assert (len(page["shipments"]), page["total"], page["page"], page["pages"]) == (1, 3, 2, 2)
    assert len({s["shipmentId"] for s in sandbox.store.shipments()}) == 3


def test_store_refuses_impossible_shipments(
    sandbox: ShipStationSandbox, order: dict[str, Any]
) -> None:
    with pytest.raises(OrderNotFoundError):
        sandbox.store.ship("no-such-key")
    sandbox.store.cancel(order["orderKey"])
    with pytest.raises(OrderLockedError):
        sandbox.store.ship(order["orderKey"])
    with pytest.raises(OrderLockedError):
        sandbox.store.ship(order["orderKey"], with_label=False)
    assert sandbox.store.shipments() == []


def test_control_routes_ship_and_cancel(
    anonymous: requests.Session, api: requests.Session, make_order: OrderFactory
) -> None:
    api.post("/orders/createorder", json=make_order(orderKey="a"))
    api.post("/orders/createorder", json=make_order(orderKey="b"))

    shipped = anonymous.post("/_sandbox/ship", json={"orderKey": "a", "trackingNumber": "T9"})
    cancelled = anonymous.post("/_sandbox/cancel", json={"orderKey": "b"})

    assert shipped.status_code == 200
    assert shipped.json()["trackingNumber"] == "T9"
    assert cancelled.status_code == 200
    assert cancelled.json()["orderStatus"] == "cancelled"
    statuses = {
        o["orderKey"]: o["orderStatus"] for o in anonymous.get("/_sandbox/orders").json()["orders"]
    }
    assert statuses == {"a": "shipped", "b": "cancelled"}
    assert anonymous.post("/_sandbox/ship", json={"orderKey": "b"}).status_code == 409
    assert anonymous.post("/_sandbox/cancel", json={"orderKey": "a"}).status_code == 409
    assert anonymous.post("/_sandbox/ship", json={"orderKey": "zzz"}).status_code == 404
    assert anonymous.post("/_sandbox/cancel", json={}).status_code == 400
    assert (
        anonymous.post("/_sandbox/ship", json={"orderKey": "a", "withLabel": "no"}).status_code
        == 400
    )


def test_control_ship_without_label(
    anonymous: requests.Session, api: requests.Session, order: dict[str, Any]
) -> None:
    response = anonymous.post(
        "/_sandbox/ship", json={"orderKey": order["orderKey"], "withLabel": False}
    )
    assert response.status_code == 200
    assert api.get("/shipments").json()["total"] == 0
    assert api.get(f"/orders/{order['orderId']}").json()["orderStatus"] == "shipped"
