"""Order updates (PATCH) and shipments."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import Api

from bigcartel_sandbox import Sandbox
from bigcartel_sandbox.data import ANCHOR_MS
from bigcartel_sandbox.documents import timestamp


def _order_with_items(api: Api, minimum_quantity: int = 2) -> dict[str, Any]:
    """A paid, unshipped order whose line items hold at least ``minimum_quantity`` units."""
    body = api.get(
        "/orders", params={"filter[shipping_status]": "unshipped", "page[limit]": 1000}
    ).json()
    included = {(r["type"], r["id"]): r for r in body["included"]}
    for order in body["data"]:
        items = [
            included["order_line_items", r["id"]] for r in order["relationships"]["items"]["data"]
        ]
        if sum(i["attributes"]["quantity"] for i in items) >= minimum_quantity:
            return {"order": order, "items": items}
    raise AssertionError("no suitable order generated")


def _patch(api: Api, order_id: str, attributes: dict[str, Any]) -> Any:
    return api.patch(
        f"/orders/{order_id}",
        {"data": {"id": order_id, "type": "orders", "attributes": attributes}},
    )


def _ship(api: Api, order_id: str, items: list[tuple[str, int]], **attributes: Any) -> Any:
    attributes.setdefault("carrier", "UPS")
    attributes["items"] = [{"order_line_item_id": i, "quantity": q} for i, q in items]
    return api.post(
        f"/orders/{order_id}/shipments", {"data": {"type": "shipments", "attributes": attributes}}
    )


def test_patch_writable_attributes(api: Api) -> None:
    order = _order_with_items(api, 1)["order"]
    before = order["attributes"]["updated_at"]
    response = _patch(
        api,
        order["id"],
        {
            "customer_first_name": "Ada",
            "shipping_address_2": None,
            "shipping_city": "Lyon",
            "shipping_country_id": "FR",
        },
    )
    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["customer_first_name"] == "Ada"
    assert attributes["shipping_address_2"] is None
    assert attributes["shipping_city"] == "Lyon"
    assert attributes["shipping_country_name"] == "France"
    assert response.json()["data"]["relationships"]["shipping_country"]["data"]["id"] == "FR"
    assert attributes["updated_at"] > before
    assert attributes["updated_at"] > timestamp(ANCHOR_MS)
    assert api.get(f"/orders/{order['id']}").json()["data"]["attributes"] == attributes


def test_patch_shipping_status_ships_every_item(api: Api) -> None:
    order = _order_with_items(api, 1)["order"]
    body = _patch(api, order["id"], {"shipping_status": "shipped"}).json()
    assert body["data"]["attributes"]["shipping_status"] == "shipped"
    items = [r for r in body["included"] if r["type"] == "order_line_items"]
    assert all(i["attributes"]["quantity_unshipped"] == 0 for i in items)


@pytest.mark.parametrize(
    "attributes",
    [
        {"total": "0.00"},
        {"payment_status": "completed"},
        {"shipping_status": "lost"},
        {"shipping_country_id": "XX"},
        {"customer_email": 42},
        {"customer_last_name": ""},
    ],
)
def test_patch_refuses_other_attributes_and_bad_values(api: Api, attributes: dict) -> None:
    order = _order_with_items(api, 1)["order"]
    response = _patch(api, order["id"], attributes)
    assert response.status_code == 400
    assert response.json()["errors"][0]["detail"]
    after = api.get(f"/orders/{order['id']}").json()["data"]["attributes"]
    assert after == order["attributes"]


def test_patch_needs_matching_type_and_id(api: Api) -> None:
    order_id = _order_with_items(api, 1)["order"]["id"]
    wrong_type = {"data": {"id": order_id, "type": "products", "attributes": {}}}
    wrong_id = {"data": {"id": "OTHER-1", "type": "orders", "attributes": {}}}
    for body in (wrong_type, wrong_id, {"attributes": {}}, [1]):
        assert api.patch(f"/orders/{order_id}", body).status_code == 400
    assert _patch(api, "NOPE-1", {}).status_code == 404


def test_partial_then_full_shipment(api: Api, sandbox: Sandbox) -> None:
    found = _order_with_items(api, 2)
    order_id = found["order"]["id"]
    items = [(i["id"], i["attributes"]["quantity"]) for i in found["items"]]
    first_id, first_quantity = items[0]

    response = _ship(api, order_id, [(first_id, 1)], tracking_number="1Z999", notify_customer=False)
    assert response.status_code == 201
    shipment = response.json()["data"]
    assert shipment["type"] == "shipments"
    assert shipment["attributes"]["tracking_number"] == "1Z999"
    assert shipment["attributes"]["items"] == [{"order_line_item_id": first_id, "quantity": 1}]
    assert shipment["relationships"]["order"]["data"]["id"] == order_id

    body = api.get(f"/orders/{order_id}").json()
    assert body["data"]["attributes"]["shipping_status"] == "unshipped"
    first = next(r for r in body["included"] if r["id"] == first_id)
    assert first["attributes"]["quantity_shipped"] == 1
    assert first["attributes"]["quantity_unshipped"] == first_quantity - 1

    rest = [(i, q) for i, q in items if i != first_id]
    if first_quantity > 1:
        rest.append((first_id, first_quantity - 1))
    assert _ship(api, order_id, rest, tracking_url="https://track.example/1").status_code == 201
    after = api.get(f"/orders/{order_id}").json()["data"]["attributes"]
    assert after["shipping_status"] == "shipped"
    assert after["updated_at"] > body["data"]["attributes"]["updated_at"]

    recorded = sandbox.store.shipments(api.shop.account_id, order_id)
    assert [s["tracking_number"] for s in recorded] == ["1Z999", None]
    assert recorded[0]["notify_customer"] is False and recorded[1]["notify_customer"] is True
    assert sum(i["quantity"] for s in recorded for i in s["items"]) == sum(q for _, q in items)


def test_over_shipping_is_400_and_changes_nothing(api: Api, sandbox: Sandbox) -> None:
    found = _order_with_items(api, 1)
    order_id = found["order"]["id"]
    item = found["items"][0]
    quantity = item["attributes"]["quantity"]
    response = _ship(api, order_id, [(item["id"], quantity), (item["id"], 1)])
    assert response.status_code == 400
    assert item["id"] in response.json()["errors"][0]["detail"]
    assert _ship(api, order_id, [("0", 1)]).status_code == 400
    assert _ship(api, order_id, []).status_code == 400
    assert _ship(api, order_id, [(item["id"], 0)]).status_code == 400
    assert sandbox.store.shipments(api.shop.account_id, order_id) == []
    assert api.get(f"/orders/{order_id}").json()["data"] == found["order"]


def test_shipments_can_be_switched_off(api: Api, sandbox: Sandbox) -> None:
    found = _order_with_items(api, 1)
    sandbox.store.shipments_enabled = False
    item = found["items"][0]
    response = _ship(api, found["order"]["id"], [(item["id"], 1)])
    assert response.status_code == 404
    assert response.json()["errors"][0]["status"] == "404"
    sandbox.store.shipments_enabled = True
    assert _ship(api, found["order"]["id"], [(item["id"], 1)]).status_code == 201
