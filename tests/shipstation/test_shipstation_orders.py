"""createorder (create, upsert, lock, validation), order listing and markasshipped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from shipstation_sandbox import ShipStationSandbox

OrderFactory = Callable[..., dict[str, Any]]

NOTE_FIELDS = [
    "orderNumber",
    "orderKey",
    "orderDate",
    "paymentDate",
    "orderStatus",
    "customerEmail",
    "shipTo",
    "items",
    "amountPaid",
    "shippingAmount",
    "requestedShippingService",
    "carrierCode",
    "serviceCode",
    "advancedOptions",
]


def create(api: requests.Session, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/orders/createorder", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_create_answers_the_full_order(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    body = make_order()
    order = create(api, body)

    assert isinstance(order["orderId"], int)
    assert order["createDate"]
    assert order["modifyDate"] == order["createDate"]
    assert order["shipDate"] is None
    # Every modelled field is answered; an item sent without a weight has none.
    body["items"] = [{**item, "weight": None} for item in body["items"]]
    assert {field: order[field] for field in NOTE_FIELDS} == {
        field: body[field] for field in NOTE_FIELDS
    }
    assert order["billTo"]["name"] == "Ada Buyer"
    assert order["billTo"]["street1"] is None
    assert sandbox.store.orders() == [order]


def test_numeric_strings_are_read_as_numbers(
    api: requests.Session, make_order: OrderFactory
) -> None:
    body = make_order(amountPaid="30.00", advancedOptions={"storeId": "42"})
    body["items"][0].update(quantity="2", unitPrice="12.50")
    order = create(api, body)
    assert order["amountPaid"] == 30.0
    assert order["advancedOptions"] == {"storeId": 42}
    assert (order["items"][0]["quantity"], order["items"][0]["unitPrice"]) == (2, 12.5)


def test_same_order_key_updates_the_open_order(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    first = create(api, make_order())
    changed = make_order(orderStatus="on_hold", shipTo={"name": "New Name", "city": "Salem"})
    del changed["customerEmail"]

    second = create(api, changed)

    assert second["orderId"] == first["orderId"]
    assert second["createDate"] == first["createDate"]
    assert second["orderStatus"] == "on_hold"
    assert second["shipTo"]["name"] == "New Name"
    assert second["shipTo"]["street1"] is None
    assert second["customerEmail"] is None
    assert sandbox.store.orders() == [second]


def test_orders_without_key_get_distinct_generated_keys(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    body = make_order()
    del body["orderKey"]
    first = create(api, body)
    second = create(api, body)
    assert first["orderKey"] and second["orderKey"]
    assert first["orderKey"] != second["orderKey"]
    assert first["orderId"] != second["orderId"]
    assert len(sandbox.store.orders()) == 2


@pytest.mark.parametrize("with_label", [True, False])
def test_shipped_order_is_locked(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory, with_label: bool
) -> None:
    create(api, make_order())
    sandbox.store.ship("bigcartel-ABCD-1001", with_label=with_label)
    before = sandbox.store.orders()

    response = api.post("/orders/createorder", json=make_order(customerEmail="new@example.com"))

    assert response.status_code == 400
    assert "shipped" in response.json()["Message"]
    assert sandbox.store.orders() == before


def test_cancelled_order_is_locked(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    create(api, make_order())
    sandbox.store.cancel("bigcartel-ABCD-1001")
    before = sandbox.store.orders()

    response = api.post("/orders/createorder", json=make_order())

    assert response.status_code == 400
    assert "cancelled" in response.json()["Message"]
    assert sandbox.store.orders() == before


def test_createorder_with_cancelled_status_cancels_an_open_order(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    first = create(api, make_order())
    cancelled = create(api, make_order(orderStatus="cancelled"))
    assert cancelled["orderId"] == first["orderId"]
    assert cancelled["orderStatus"] == "cancelled"
    assert api.post("/orders/createorder", json=make_order()).status_code == 400


def test_there_is_no_cancel_endpoint(api: requests.Session) -> None:
    assert api.post("/orders/cancel", json={"orderId": 1}).status_code == 404


@pytest.mark.parametrize("field", ["orderNumber", "orderDate", "orderStatus", "billTo", "shipTo"])
def test_missing_required_field_gives_400(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory, field: str
) -> None:
    body = make_order()
    del body[field]
    response = api.post("/orders/createorder", json=body)
    assert response.status_code == 400
    assert list(response.json()["ModelState"]) == [field]
    assert sandbox.store.orders() == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"orderStatus": "paid"}, "orderStatus"),
        ({"orderDate": "yesterday"}, "orderDate"),
        ({"billTo": "Ada"}, "billTo"),
        ({"amountPaid": "thirty"}, "amountPaid"),
        ({"items": [{"sku": "TEE", "quantity": 1.5}]}, "items[0].quantity"),
        ({"shipTo": {"residential": "yes"}}, "shipTo.residential"),
    ],
)
def test_invalid_field_gives_400(
    api: requests.Session,
    sandbox: ShipStationSandbox,
    make_order: OrderFactory,
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = api.post("/orders/createorder", json=make_order(**overrides))
    assert response.status_code == 400
    assert field in response.json()["ModelState"]
    assert sandbox.store.orders() == []


def test_body_that_is_not_json_gives_400(api: requests.Session) -> None:
    response = api.post("/orders/createorder", data="orderNumber=1")
    assert response.status_code == 400


def test_get_order_by_id(api: requests.Session, make_order: OrderFactory) -> None:
    order = create(api, make_order())
    assert api.get(f"/orders/{order['orderId']}").json() == order
    assert api.get(f"/orders/{order['orderId'] + 1}").status_code == 404


def test_list_pages(api: requests.Session, make_order: OrderFactory) -> None:
    for number in range(5):
        create(api, make_order(orderNumber=f"10{number}", orderKey=f"key-{number}"))

    first = api.get("/orders", params={"pageSize": 2}).json()
    last = api.get("/orders", params={"pageSize": 2, "page": 3}).json()
    past = api.get("/orders", params={"pageSize": 2, "page": 4}).json()
    everything = api.get("/orders").json()

    assert set(first) == {"orders", "total", "page", "pages"}
    assert [o["orderNumber"] for o in first["orders"]] == ["100", "101"]
    assert (first["total"], first["page"], first["pages"]) == (5, 1, 3)
    assert [o["orderNumber"] for o in last["orders"]] == ["104"]
    assert (past["orders"], past["total"], past["page"]) == ([], 5, 4)
    assert (len(everything["orders"]), everything["page"], everything["pages"]) == (5, 1, 1)


def test_empty_list(api: requests.Session) -> None:
    assert api.get("/orders").json() == {"orders": [], "total": 0, "page": 1, "pages": 0}


@pytest.mark.parametrize(
    "params",
    [{"pageSize": 501}, {"pageSize": 0}, {"page": 0}, {"page": "two"}, {"storeId": "x"}],
)
def test_list_rejects_bad_parameters(api: requests.Session, params: dict[str, Any]) -> None:
    response = api.get("/orders", params=params)
    assert response.status_code == 400
    assert set(response.json()["ModelState"]) == set(params)


def test_list_accepts_the_maximum_page_size(api: requests.Session) -> None:
    assert api.get("/orders", params={"pageSize": 500}).status_code == 200


def test_list_filters(api: requests.Session, make_order: OrderFactory) -> None:
    create(api, make_order(orderNumber="1001", orderKey="a"))
    create(api, make_order(orderNumber="10010", orderKey="b", orderStatus="on_hold"))
    create(api, make_order(orderNumber="2001", orderKey="c", advancedOptions={"storeId": 7}))

    def keys(**params: Any) -> list[str]:
        response = api.get("/orders", params=params)
        assert response.status_code == 200, response.text
        return [order["orderKey"] for order in response.json()["orders"]]

    assert keys(orderNumber="1001") == ["a", "b"]
    assert keys(orderNumber="2001") == ["c"]
    assert keys(orderStatus="on_hold") == ["b"]
    assert keys(orderStatus="awaiting_shipment", storeId=42) == ["a"]
    assert keys(storeId=7) == ["c"]
    assert api.get("/orders", params={"orderStatus": "paid"}).status_code == 400


def test_mark_as_shipped(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    order = create(api, make_order())
    body = {
        "orderId": order["orderId"],
        "carrierCode": "usps",
        "shipDate": "2024-05-03",
        "trackingNumber": "9400111",
        "notifyCustomer": True,
    }

    response = api.post("/orders/markasshipped", json=body)

    assert response.status_code == 200
    assert response.json() == {"orderId": order["orderId"], "orderNumber": "1001"}
    [stored] = sandbox.store.orders()
    assert (stored["orderStatus"], stored["shipDate"]) == ("shipped", "2024-05-03")
    assert api.post("/orders/markasshipped", json=body).status_code == 400
    assert api.post("/orders/createorder", json=make_order()).status_code == 400


def test_mark_as_shipped_refuses_unknown_order_and_missing_fields(api: requests.Session) -> None:
    unknown = api.post("/orders/markasshipped", json={"orderId": 1, "carrierCode": "usps"})
    incomplete = api.post("/orders/markasshipped", json={"trackingNumber": "1"})
    assert unknown.status_code == 400
    assert incomplete.status_code == 400
    assert set(incomplete.json()["ModelState"]) == {"orderId", "carrierCode"}


def test_notes_weights_and_customs_are_kept_as_the_docs_model_them(
    api: requests.Session, make_order: OrderFactory
) -> None:
    body = make_order(
        customerNotes="Leave at the door",
        weight={"value": 12, "units": "ounces"},
        internationalOptions={
            "contents": "merchandise",
            "nonDelivery": "return_to_sender",
            "customsItems": [
                {
                    "description": "Cotton tee",
                    "quantity": 2,
                    "value": 12.5,
                    "harmonizedTariffCode": "6109.10",
                    "countryOfOrigin": "US",
                }
            ],
        },
    )
    body["items"][0]["weight"] = {"value": 6, "units": "ounces"}

    order = create(api, body)

    assert order["customerNotes"] == "Leave at the door"
    assert order["weight"] == {"value": 12, "units": "ounces"}
    assert order["items"][0]["weight"] == {"value": 6, "units": "ounces"}
    assert order["internationalOptions"] == body["internationalOptions"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight": {"value": 1, "units": "kilograms"}}, "weight.units"),
        ({"internationalOptions": {"contents": "gifts"}}, "internationalOptions.contents"),
        ({"internationalOptions": {"nonDelivery": "burn"}}, "internationalOptions.nonDelivery"),
    ],
)
def test_weights_and_customs_outside_the_documented_values_are_refused(
    api: requests.Session, make_order: OrderFactory, change: dict[str, Any], field: str
) -> None:
    response = api.post("/orders/createorder", json=make_order(**change))
    assert response.status_code == 400
    assert field in response.json()["ModelState"]
