"""The checks an order passes before it can be claimed, and the target's settings checks."""

from __future__ import annotations

import decimal
import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from target_fulfillment.config import config_errors
from target_fulfillment.orders import CatalogProduct, Hold, InvalidOrderError, build_order
from target_fulfillment.target import TargetFulfillment
from target_fulfillment.validation import (
    amount,
    key_problem,
    printable,
    sku_problem,
    storable_text,
    text_problem,
    whole_number,
)

CODES = {"DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"}}
CATALOG = {"10": CatalogProduct("SKU: MUG", {})}


def _item(**overrides: t.Any) -> dict[str, t.Any]:
    return {"id": "5501", "product": {"id": "10"}, "quantity": 2, "price": "4.50", **overrides}


def _order(*items: dict[str, t.Any], **overrides: t.Any) -> dict[str, t.Any]:
    return {
        "id": "ABCD-1",
        "account_id": "1001",
        "customer_first_name": "Zoë",
        "shipping_address_1": "1 Main St",
        "shipping_city": "Springfield",
        "shipping_country": {"id": "US"},
        "total": "9.00",
        "items": list(items) or [_item()],
        **overrides,
    }


def _build(order: dict[str, t.Any], catalog: dict[str, CatalogProduct] = CATALOG) -> t.Any:
    return build_order(
        order,
        product=catalog.get,
        shop_country="US",
        sku_overrides={},
        shipping_codes=CODES,
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (_item(quantity="two"), 'item 5501: quantity "two" is not a whole number'),
        (_item(quantity=1.5), "item 5501: quantity 1.5 is not a whole number"),
        (_item(quantity=-1), "item 5501: quantity -1 is not positive"),
        (_item(quantity=0), "item 5501: quantity 0 is not positive"),
        (_item(quantity=True), "item 5501: quantity true is not a whole number"),
        (
            _item(quantity=1, quantity_unshipped=5),
            "item 5501: quantity_unshipped 5 is not between 0 and quantity 1",
        ),
        (
            _item(quantity_unshipped=-1),
            "item 5501: quantity_unshipped -1 is not between 0 and quantity 2",
        ),
        (_item(price=None), "item 5501: price null is not an amount"),
        (_item(price="NaN"), 'item 5501: price "NaN" is not an amount'),
        (_item(price=float("inf")), "item 5501: price Infinity is not an amount"),
        (_item(price="-1.00"), 'item 5501: price "-1.00" is not an amount'),
        (_item(id=None), "order ABCD-1: line item id null is not a Big Cartel id"),
        (_item(product=None), "item 5501: names no product"),
    ],
)
def test_impossible_items_are_refused_naming_the_item_the_field_and_the_value(
    item: dict[str, t.Any], expected: str
) -> None:
    with pytest.raises(InvalidOrderError) as raised:
        _build(_order(item))
    assert str(raised.value).startswith(expected)


def test_duplicate_line_items_and_items_that_are_not_a_list_are_refused() -> None:
    with pytest.raises(InvalidOrderError, match="item 5501: the line item id appears twice"):
        _build(_order(_item(), _item()))
    for items in ({"id": "1"}, "two mugs", ["a mug"]):
        with pytest.raises(InvalidOrderError, match="items is not a list of line items"):
            _build(_order(items=items))


def test_items_already_shipped_are_left_out_and_an_order_with_none_left_is_refused() -> None:
    order = _order(_item(), _item(id="5502", quantity=3, quantity_unshipped=0))
    result = _build(order)
    assert [(line.line_item_key, line.quantity) for line in result.items] == [("5501", 2)]
    partly = _build(_order(_item(quantity=3, quantity_unshipped=1)))
    assert [line.quantity for line in partly.items] == [1]
    with pytest.raises(InvalidOrderError, match="no item is left to ship"):
        _build(_order(_item(quantity_unshipped=0)))


@pytest.mark.parametrize(
    ("field", "value"), [("customer_first_name", "Zo\ud83d"), ("shipping_city", "Spring\x00")]
)
def test_text_that_is_not_text_is_refused_by_field_never_quoting_the_customer(
    field: str, value: str
) -> None:
    with pytest.raises(InvalidOrderError) as raised:
        _build(_order(**{field: value}))
    assert field in str(raised.value)
    assert value.strip() not in str(raised.value) and "Zo" not in str(raised.value)


def test_amounts_of_the_order_are_checked_too() -> None:
    with pytest.raises(InvalidOrderError, match='order ABCD-1: total "NaN" is not an amount'):
        _build(_order(total="NaN"))
    assert _build(_order()).shipping_amount == decimal.Decimal("0")


def test_a_sku_made_of_a_replaced_character_holds_the_order() -> None:
    catalog = {"10": CatalogProduct(storable_text("SKU: MUG\x00") or "", {})}
    result = _build(_order(), catalog)
    assert isinstance(result, Hold)
    assert result.reason.startswith("item 5501: SKU")


@pytest.mark.parametrize(
    ("account_id", "record_id", "problem"),
    [
        ("1001", "ABCD-1", None),
        (1001, 17, None),
        ("10-01", "X", "account_id"),
        ("10", None, "id"),
        ("10", "x" * 65, "id"),
        ("10", "CTRL\x07ID", "id"),
        ("10", "01.X", "id"),
        (True, "1", "account_id"),
    ],
)
def test_keys_are_unambiguous(account_id: t.Any, record_id: t.Any, problem: str | None) -> None:
    found = key_problem(account_id, record_id, "orders")
    if problem is None:
        assert found is None
    else:
        assert found is not None and f"orders record: {problem} " in found


def test_the_collision_of_issue_9_cannot_happen() -> None:
    """``10`` + ``01-X`` and ``10-01`` + ``X`` both spelled ``bigcartel-10-01-X``."""
    assert key_problem("10", "01-X", "orders") is None
    assert key_problem("10-01", "X", "orders") is not None


def test_small_helpers() -> None:
    assert whole_number("3") == 3 and whole_number(2.0) == 2 and whole_number("2.5") is None
    assert amount("12.50") == decimal.Decimal("12.50") and amount("-0.01") is None
    assert amount(decimal.Decimal("NaN")) is None and amount([1]) is None
    assert text_problem("Zo\ud83d") and text_problem("a\x00b") and not text_problem("tab\there")
    assert storable_text("a\x00b\udc00") == "a\ufffdb\ufffd"
    assert sku_problem("MUG\ufffd") and not sku_problem("MUG-1")
    assert printable("CTRL\x07\nID") == "CTRL\\x07\\nID" and printable(None) == ""
    assert printable("x" * 200) == "x" * 80


def _schema() -> dict[str, t.Any]:
    return TargetFulfillment.config_jsonschema


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ledger_uri": "sqlite:///x.db"}, "ledger_uri: unknown setting, did you mean ledger_url?"),
        ({"reconcile_after_seconds": 900}, "reconcile_after_seconds: setting no longer exists"),
        (
            {"flattening_enabled": True},
            "flattening_enabled: not supported; the target reads each order whole",
        ),
        ({"ledger_url": "not a url"}, "ledger_url: not a SQLAlchemy database URL"),
        ({"ledger_url": "mysql://u:hunter2@db/x"}, "ledger_url: the ledger's database must be"),
        ({"webhook_db_url": "::hunter2"}, "webhook_db_url: not a SQLAlchemy database URL"),
        (
            {"accounts": [{"account_id": "10-01", "access_token": "hunter2"}]},
            'accounts[0].account_id: "10-01" is not a Big Cartel account id',
        ),
        ({"account_id": "shop"}, 'account_id: "shop" is not a Big Cartel account id'),
        ({"api_url": "ftp://example.com"}, "api_url: not an http:// or https:// URL"),
    ],
)
def test_settings_errors_name_the_setting(config: dict[str, t.Any], message: str) -> None:
    """The checks JSON Schema cannot say (tests/target/test_config_schema.py: those it can)."""
    full = {"shipping_codes": CODES, "ledger_url": "sqlite:///ledger.db", **config}
    errors = config_errors(full, _schema())
    assert any(error.startswith(message) for error in errors), errors
    assert not any("hunter2" in error for error in errors)


def test_a_good_config_has_no_errors() -> None:
    config = {"shipping_codes": CODES, "ledger_url": "sqlite:///ledger.db", "max_concurrency": 2}
    assert config_errors(config, _schema()) == []


def test_schema_flattening_is_not_declared_so_meltano_offers_no_broken_switch() -> None:
    target = Path(sys.executable).with_name("target-fulfillment")
    about = json.loads(
        subprocess.run(
            [str(target), "--about", "--format", "json"], capture_output=True, check=True
        ).stdout
    )
    assert "schema-flattening" not in about["capabilities"]
    assert "stream-maps" in about["capabilities"]
    assert not [name for name in _schema()["properties"] if name.startswith("flattening_")]
