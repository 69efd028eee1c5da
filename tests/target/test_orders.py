"""Order → warehouse order: eligibility, whole-or-nothing SKUs, shipping, addresses."""

from __future__ import annotations

import decimal

import pytest

from target_fulfillment.attributes import product_attributes
from target_fulfillment.domain import order_key
from target_fulfillment.orders import (
    CatalogProduct,
    Hold,
    InvalidOrderError,
    build_order,
    is_eligible,
    is_voided,
)

CODES = {
    "DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"},
    "INTERNATIONAL_DEFAULT": {"carrier_code": "usps", "service_code": "usps_first_class_intl"},
    "CA": {"carrier_code": "ups", "service_code": "ups_standard"},
}
CATALOG = {
    "10": CatalogProduct("Soft tee.<br>SKU: SHIRT-", {"100": "SMALL", "101": "X-LARGE"}),
    "20": CatalogProduct("<p>A mug</p><p>sku: MUG-1</p>", {"200": "Default"}),
    "30": CatalogProduct("No SKU here", {"300": "Default"}),
}


def _order(**overrides):
    order = {
        "id": "ABCD-1",
        "account_id": "1001",
        "payment_status": "completed",
        "shipping_status": "unshipped",
        "customer_first_name": "Ada",
        "customer_last_name": "Lovelace",
        "customer_email": "ada@example.com",
        "shipping_address_1": "1 Main St",
        "shipping_city": "Springfield",
        "shipping_zip": "12345",
        "shipping_country": {"id": "US", "name": "United States"},
        "total": decimal.Decimal("42.50"),
        "shipping_total": "5.00",
        "completed_at": "2026-05-01T12:00:00+00:00",
        "currency": {"id": "USD"},
        "items": [
            {
                "id": "7",
                "product": {"id": "10"},
                "product_option": {"id": "101"},
                "product_name": "Tee",
                "quantity": 2,
                "quantity_unshipped": 2,
                "price": "15.00",
            },
            {
                "id": "8",
                "product": {"id": "20"},
                "product_option": {"id": "200"},
                "product_name": "Mug",
                "quantity": 1,
                "price": "12.50",
            },
        ],
    }
    order.update(overrides)
    return order


def _build(order, overrides=None, shop_country="US"):
    return build_order(
        order,
        product=CATALOG.get,
        shop_country=shop_country,
        sku_overrides=overrides or {},
        shipping_codes=CODES,
    )


def test_a_paid_unshipped_domestic_order_becomes_a_warehouse_order() -> None:
    result = _build(_order())
    assert not isinstance(result, Hold)
    assert result.key == order_key("1001", "ABCD-1") == "bigcartel-1001-ABCD-1"
    assert [(i.sku, i.quantity, i.unit_price) for i in result.items] == [
        ("SHIRT-X-LARGE", 2, decimal.Decimal("15.00")),
        ("MUG-1", 1, decimal.Decimal("12.50")),
    ]
    assert (result.shipping_code, result.carrier_code) == ("DOMESTIC_DEFAULT", "usps")
    assert result.ship_to.name == "Ada Lovelace" and result.ship_to.country == "US"
    assert result.amount_paid == decimal.Decimal("42.50")


@pytest.mark.parametrize(
    ("country", "code", "carrier"),
    [("GB", "INTERNATIONAL_DEFAULT", "usps"), ("CA", "INTERNATIONAL_DEFAULT", "ups")],
)
def test_international_orders_and_per_country_services(country, code, carrier) -> None:
    customs = {"description": "Goods", "hs_code": "6109.10", "country_of_origin": "US"}
    result = build_order(
        _order(shipping_country={"id": country}),
        product=CATALOG.get,
        shop_country="US",
        sku_overrides={},
        shipping_codes=CODES,
        product_attributes=product_attributes({"SHIRT-X-LARGE": customs, "MUG-1": customs}),
    )
    assert (result.shipping_code, result.carrier_code) == (code, carrier)
    assert result.customs is not None
    # With no product_attributes at all, no declaration (tests/target/test_weights_customs.py).
    plain = _build(_order(shipping_country={"id": country}))
    assert (plain.shipping_code, plain.customs) == (code, None)


def test_one_item_without_sku_holds_the_whole_order_naming_the_product() -> None:
    items = [
        *_order()["items"],
        {"id": "9", "product": {"id": "30"}, "quantity": 1, "price": "9.00"},
    ]
    result = _build(_order(items=items))
    assert isinstance(result, Hold)
    assert "product 30" in result.reason


def test_an_override_releases_the_hold() -> None:
    items = [
        {
            "id": "9",
            "product": {"id": "30"},
            "product_option": {"id": "300"},
            "quantity": 1,
            "price": "9.00",
        }
    ]
    result = _build(_order(items=items), overrides={"30": "PLAIN-30"})
    assert [i.sku for i in result.items] == ["PLAIN-30"]


def test_an_unknown_product_holds_the_order() -> None:
    items = [{"id": "9", "product": {"id": "99"}, "quantity": 1, "price": "9.00"}]
    result = _build(_order(items=items))
    assert isinstance(result, Hold) and "product 99 is not in the catalog" in result.reason


def test_unknown_shop_country_holds_the_order() -> None:
    result = _build(_order(), shop_country=None)
    assert isinstance(result, Hold) and "country" in result.reason


def test_incomplete_address_holds_the_order() -> None:
    result = _build(_order(shipping_address_1=" "))
    assert isinstance(result, Hold) and "address" in result.reason


@pytest.mark.parametrize("missing", ["id", "account_id", "items"])
def test_records_missing_core_fields_are_invalid_and_named(missing) -> None:
    order = _order()
    del order[missing]
    with pytest.raises(InvalidOrderError, match="order"):
        _build(order)


@pytest.mark.parametrize(
    ("payment", "shipping", "eligible", "voided"),
    [
        ("completed", "unshipped", True, False),
        ("completed", "shipped", False, False),
        ("pending", "unshipped", False, False),
        ("unpaid", "unshipped", False, False),
        ("failed", "unshipped", False, True),
        ("invalid", "unshipped", False, True),
    ],
)
def test_eligibility(payment, shipping, eligible, voided) -> None:
    order = _order(payment_status=payment, shipping_status=shipping)
    assert is_eligible(order) is eligible
    assert is_voided(order) is voided


def test_the_payload_hash_changes_with_the_address_only() -> None:
    first = _build(_order())
    assert first.payload_hash() == _build(_order()).payload_hash()
    moved = _build(_order(shipping_address_1="2 Elm St"))
    assert moved.payload_hash() != first.payload_hash()
