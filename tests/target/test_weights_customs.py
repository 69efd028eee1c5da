"""Weights and customs from ``product_attributes``: per item, summed per V2 package, declared for
international orders, and holds for what customs or V2's package weight lacks."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import test_backend_file as file_tests
import test_backend_shipstation as v1_tests
import test_backend_shipstation_v2 as v2_tests
from backend_calls import submit_one
from pipeline import run_target
from singer_sdk.exceptions import ConfigValidationError
from test_orders import CATALOG, CODES, _order

from shipstation_sandbox import ShipStationSandbox
from shipstation_sandbox.v2 import ShipStationV2Sandbox
from target_fulfillment.attributes import product_attributes
from target_fulfillment.backends import BackendError, FileBackend, make_backend
from target_fulfillment.domain import (
    CustomsDeclaration,
    FulfillmentOrder,
    ItemCustoms,
    LineItem,
    Weight,
    total_weight,
)
from target_fulfillment.ledger import Ledger
from target_fulfillment.orders import Hold, build_order
from target_fulfillment.target import TargetFulfillment

# The SKUs test_orders' catalog derives: SHIRT-X-LARGE (item 7, 2 of them) and MUG-1 (item 8).
ATTRIBUTES = {
    "SHIRT-X-LARGE": {
        "weight": {"value": 6, "unit": "ounce"},
        "description": "Cotton T-shirt",
        "hs_code": "6109.10",
        "country_of_origin": "PT",
    },
    "MUG-1": {
        "weight": {"value": 12, "unit": "ounce"},
        "description": "Ceramic mug",
        "hs_code": "6912.00",
        "country_of_origin": "US",
    },
}
TEE = ItemCustoms("Cotton T-shirt", "6109.10", "PT")
MUG = ItemCustoms("Ceramic mug", "6912.00", "US")


def build(
    order: dict[str, Any],
    attributes: dict[str, Any] | None = None,
    **options: Any,
) -> FulfillmentOrder | Hold:
    return build_order(
        order,
        product=CATALOG.get,
        shop_country="US",
        sku_overrides={},
        shipping_codes=CODES,
        product_attributes=product_attributes(ATTRIBUTES if attributes is None else attributes),
        **options,
    )


def abroad(**overrides: Any) -> dict[str, Any]:
    return _order(shipping_country={"id": "GB"}, **overrides)


# The rules


def test_items_carry_their_weight_and_international_items_their_customs() -> None:
    domestic = build(_order())
    international = build(abroad())
    assert isinstance(domestic, FulfillmentOrder) and isinstance(international, FulfillmentOrder)
    assert [i.weight for i in domestic.items] == [
        Weight(Decimal("6"), "ounce"),
        Weight(Decimal("12"), "ounce"),
    ]
    # Customs data rides on international orders only: a domestic order needs none.
    assert [i.customs for i in domestic.items] == [None, None] and domestic.customs is None
    assert [i.customs for i in international.items] == [TEE, MUG]
    assert international.customs == CustomsDeclaration("merchandise", "return_to_sender")


def test_the_declaration_follows_the_customs_settings() -> None:
    order = build(abroad(), customs_contents="gift", customs_non_delivery="treat_as_abandoned")
    assert isinstance(order, FulfillmentOrder)
    assert order.customs == CustomsDeclaration("gift", "treat_as_abandoned")


def test_an_international_order_missing_customs_data_is_held_naming_sku_and_attribute() -> None:
    partial = {**ATTRIBUTES, "MUG-1": {"weight": {"value": 12, "unit": "ounce"}}}
    held = build(abroad(customer_first_name="Zelda"), partial)
    assert isinstance(held, Hold)
    assert "MUG-1" in held.reason
    assert "description" in held.reason and "hs_code" in held.reason
    assert "country_of_origin" in held.reason and "SHIRT-X-LARGE" not in held.reason
    assert "Zelda" not in held.reason
    other_skus = build(abroad(), {"POSTER": ATTRIBUTES["MUG-1"]})
    assert isinstance(other_skus, Hold)
    assert "SHIRT-X-LARGE" in other_skus.reason and "MUG-1" in other_skus.reason


def test_without_any_product_attributes_an_international_order_goes_undeclared() -> None:
    # As before the setting existed: the warehouse's own customs defaults apply.
    order = build(abroad(), {})
    assert isinstance(order, FulfillmentOrder)
    assert order.customs is None and [i.customs for i in order.items] == [None, None]


def test_a_domestic_order_is_never_held_for_customs_data() -> None:
    assert isinstance(build(_order(), {}), FulfillmentOrder)
    assert isinstance(build(_order(), {}, require_package_weight=True, package_weight=None), Hold)


def test_an_international_order_without_a_currency_is_held() -> None:
    held = build(abroad(currency=None))
    assert isinstance(held, Hold) and "currency" in held.reason


def test_a_required_package_weight_holds_only_without_item_weights_and_default() -> None:
    unweighed = {sku: {} for sku in ATTRIBUTES}
    held = build(_order(), unweighed, require_package_weight=True)
    assert isinstance(held, Hold)
    assert "package weight" in held.reason and "default_package_weight" in held.reason
    assert "SHIRT-X-LARGE" in held.reason and "MUG-1" in held.reason
    default = Weight(Decimal("1"), "pound")
    sent = build(_order(), unweighed, require_package_weight=True, package_weight=default)
    assert isinstance(sent, FulfillmentOrder)
    weighed = build(_order(), require_package_weight=True)
    assert isinstance(weighed, FulfillmentOrder)
    # Not required (V1, file): nothing to hold for.
    assert isinstance(build(_order(), unweighed), FulfillmentOrder)


def test_hashes_of_orders_without_attributes_are_as_before() -> None:
    plain = build(_order(), {})
    assert isinstance(plain, FulfillmentOrder)
    fields = dataclasses.asdict(plain)
    for name in ("customer_note", "customs"):
        fields.pop(name)
    for item in fields["items"]:
        item.pop("weight")
        item.pop("customs")
    import hashlib

    from target_fulfillment.domain import _canonical

    canonical = json.dumps(_canonical(fields), sort_keys=True, separators=(",", ":"))
    assert plain.payload_hash() == hashlib.sha256(canonical.encode()).hexdigest()
    weighed = build(_order())
    assert isinstance(weighed, FulfillmentOrder)
    assert weighed.payload_hash() != plain.payload_hash()


# Weights


def line(sku: str, quantity: int, weight: Weight | None) -> LineItem:
    return LineItem(sku, sku, sku, quantity, Decimal("1.00"), None, weight=weight)


def test_the_package_weight_is_the_sum_in_one_unit() -> None:
    same = (
        line("A", 2, Weight(Decimal("6"), "ounce")),
        line("B", 1, Weight(Decimal("12"), "ounce")),
    )
    assert total_weight(same) == Weight(Decimal("24"), "ounce")
    # Units differ: the package is in grams, converted exactly (1 oz = 28.349523125 g).
    mixed = (
        line("A", 1, Weight(Decimal("1"), "pound")),
        line("B", 2, Weight(Decimal("1"), "kilogram")),
    )
    assert total_weight(mixed) == Weight(Decimal("2453.59237"), "gram")
    ounce_and_gram = (
        line("A", 1, Weight(Decimal("2"), "ounce")),
        line("B", 1, Weight(Decimal("3"), "gram")),
    )
    assert total_weight(ounce_and_gram) == Weight(Decimal("59.69904625"), "gram")
    assert total_weight((line("A", 1, None), line("B", 1, Weight(Decimal("1"), "gram")))) is None


# What the backends receive

INTERNATIONAL_ITEMS = (
    LineItem(
        "5501",
        "TEE-M",
        "Tee",
        2,
        Decimal("12.50"),
        "Medium",
        weight=Weight(Decimal("0.5"), "kilogram"),
        customs=TEE,
    ),
    LineItem(
        "5502",
        "MUG",
        "Mug",
        1,
        Decimal("5.00"),
        None,
        weight=Weight(Decimal("12"), "ounce"),
        customs=MUG,
    ),
)


def international(make: Any) -> FulfillmentOrder:
    order: FulfillmentOrder = make()
    return dataclasses.replace(
        order,
        ship_to=dataclasses.replace(order.ship_to, country="GB"),
        items=INTERNATIONAL_ITEMS,
        shipping_code="INTERNATIONAL_DEFAULT",
        customs=CustomsDeclaration("merchandise", "return_to_sender"),
    )


@pytest.fixture
def v1() -> Iterator[ShipStationSandbox]:
    with ShipStationSandbox(v1_tests.API_KEY, v1_tests.API_SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def v2() -> Iterator[ShipStationV2Sandbox]:
    with ShipStationV2Sandbox(v2_tests.API_KEY) as sandbox:
        yield sandbox


def v2_backend(sandbox: ShipStationV2Sandbox, **settings: Any) -> Any:
    return make_backend(
        {
            "backend": "shipstation_v2",
            "shipstation_v2_api_key": v2_tests.API_KEY,
            "shipstation_v2_api_url": sandbox.url,
            "shipstation_v2_warehouse_id": v2_tests.WAREHOUSE,
            **settings,
        }
    )


def test_v1_sends_item_weights_and_the_customs_declaration(v1: ShipStationSandbox) -> None:
    backend = make_backend(
        {
            "backend": "shipstation",
            "shipstation_api_key": v1_tests.API_KEY,
            "shipstation_api_secret": v1_tests.API_SECRET,
            "shipstation_api_url": v1.url,
        }
    )
    with contextlib.closing(backend):
        submit_one(backend, international(v1_tests.make_order))
    (create,) = [r for r in v1.requests if r["path"].endswith("createorders")]
    (sent,) = create["body"]
    # V1 has no kilograms: grams. Weights are per unit, as the item's unitPrice is.
    assert [item["weight"] for item in sent["items"]] == [
        {"value": 500, "units": "grams"},
        {"value": 12, "units": "ounces"},
    ]
    assert sent["internationalOptions"] == {
        "contents": "merchandise",
        "nonDelivery": "return_to_sender",
        "customsItems": [
            {
                "description": "Cotton T-shirt",
                "quantity": 2,
                "value": 12.5,
                "harmonizedTariffCode": "6109.10",
                "countryOfOrigin": "PT",
            },
            {
                "description": "Ceramic mug",
                "quantity": 1,
                "value": 5.0,
                "harmonizedTariffCode": "6912.00",
                "countryOfOrigin": "US",
            },
        ],
    }
    domestic = v1_tests.make_order("ABCD-2")
    assert "internationalOptions" not in v1_tests.mapping.order_body(domestic, None)
    assert "weight" not in v1_tests.mapping.order_body(domestic, None)["items"][0]


def test_v2_sends_the_summed_package_weight_and_the_customs_declaration(
    v2: ShipStationV2Sandbox,
) -> None:
    backend = v2_backend(v2, default_package_weight={"value": 9, "unit": "pound"})
    order = international(v2_tests.make_order)
    with contextlib.closing(backend):
        submit_one(backend, order)
    shipment = v2_tests.stored(v2)[order.key]
    assert shipment["customs"] == {"contents": "merchandise", "non_delivery": "return_to_sender"}
    (package,) = shipment["packages"]
    # 2 x 0.5 kg + 12 oz, in grams: the items' weights, not the default.
    assert package["weight"] == {"value": 1340.1942775, "unit": "gram"}
    assert package["products"] == [
        {
            "description": "Cotton T-shirt",
            "quantity": 2,
            "value": {"currency": "usd", "amount": 12.5},
            "weight": {"value": 0.5, "unit": "kilogram"},
            "harmonized_tariff_code": "6109.10",
            "country_of_origin": "PT",
            "sku": "TEE-M",
        },
        {
            "description": "Ceramic mug",
            "quantity": 1,
            "value": {"currency": "usd", "amount": 5.0},
            "weight": {"value": 12, "unit": "ounce"},
            "harmonized_tariff_code": "6912.00",
            "country_of_origin": "US",
            "sku": "MUG",
        },
    ]
    assert [item["weight"] for item in shipment["items"]] == [
        {"value": 0.5, "unit": "kilogram"},
        {"value": 12, "unit": "ounce"},
    ]


def test_v2_uses_the_default_without_item_weights_and_refuses_without_either(
    v2: ShipStationV2Sandbox,
) -> None:
    order = v2_tests.make_order()
    with contextlib.closing(
        v2_backend(v2, default_package_weight={"value": 2, "unit": "pound"})
    ) as backend:
        submit_one(backend, order)
    shipment = v2_tests.stored(v2)[order.key]
    assert shipment["packages"] == [{"weight": {"value": 2, "unit": "pound"}}]
    assert "customs" not in shipment or shipment["customs"] is None
    # The rules hold such an order first; should one reach the backend, it is refused alone.
    with contextlib.closing(v2_backend(v2)) as backend:
        answer = backend.submit_batch([v2_tests.new(v2_tests.make_order("1002"))[0]])
    refused = answer["bigcartel-123-1002"]
    assert isinstance(refused, BackendError) and "package weight" in str(refused)


def test_the_file_document_carries_weights_and_customs(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "outbox", tmp_path / "inbox")
    order = international(file_tests.make_order)
    submit_one(backend, order)
    document = file_tests.outbox_document(backend, order.key)
    assert document["customs"] == {"contents": "merchandise", "non_delivery": "return_to_sender"}
    assert document["items"][0]["weight"] == {"value": "0.5", "unit": "kilogram"}
    assert document["items"][0]["customs"] == {
        "description": "Cotton T-shirt",
        "hs_code": "6109.10",
        "country_of_origin": "PT",
    }
    assert document["package_weight"] == {"value": "1340.1942775", "unit": "gram"}


# Settings


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"product_attributes": {"TEE": {"weight": {"value": 0, "unit": "ounce"}}}},
            r'product_attributes\["TEE"\]\.weight',
        ),
        (
            {"product_attributes": {"TEE": {"weight": {"value": 1, "unit": "stone"}}}},
            r"product_attributes",
        ),
        (
            {"product_attributes": {"TEE": {"country_of_origin": "Portugal"}}},
            r'product_attributes\["TEE"\]\.country_of_origin',
        ),
        (
            {"product_attributes": {"TEE": {"hs_code": "shirt"}}},
            r'product_attributes\["TEE"\]\.hs_code',
        ),
        (
            {"product_attributes": {"TEE": {"description": "x" * 101}}},
            r'product_attributes\["TEE"\]\.description.*100',
        ),
        (
            {"product_attributes": {"TEE": {"colour": "red"}}},
            r'product_attributes\["TEE"\]: unknown attribute colour',
        ),
        ({"customs_contents": "cake"}, r"customs_contents"),
        ({"customs_non_delivery": "burn"}, r"customs_non_delivery"),
    ],
)
def test_bad_attribute_settings_are_named(
    setting: dict[str, Any], message: str, tmp_path: Path
) -> None:
    config = {"ledger_url": f"sqlite:///{tmp_path}/l.db", **setting}
    with pytest.raises(ConfigValidationError) as caught:
        TargetFulfillment(config=config)
    errors = "; ".join(caught.value.errors)
    assert re.search(message, errors), errors


def test_v2_starts_without_a_default_package_weight(tmp_path: Path) -> None:
    config = {**v2_tests.V2_SETTINGS, "ledger_url": f"sqlite:///{tmp_path}/l.db"}
    del config["default_package_weight"]
    target = TargetFulfillment(config=config)
    assert isinstance(target.backend, v2_tests.ShipStationV2Backend)


# End to end


def test_the_target_sends_an_international_order_with_customs_to_v2(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {}}
    product = {
        "id": "P1",
        "account_id": "1001",
        "description": "SKU: TEE-",
        "options": [{"id": "O1", "name": "S"}, {"id": "O2", "name": "L"}],
        "updated_at": "2026-01-01T00:00:00Z",
    }
    order = {
        "id": "INTL-1",
        "account_id": "1001",
        "payment_status": "completed",
        "shipping_status": "unshipped",
        "customer_first_name": "Ada",
        "customer_note": "Gift wrap, please",
        "shipping_address_1": "1 High St",
        "shipping_city": "London",
        "shipping_zip": "N1 1AA",
        "shipping_country": {"id": "GB"},
        "total": "30.00",
        "currency": {"id": "USD"},
        "items": [
            {
                "id": "1",
                "product": {"id": "P1"},
                "product_option": {"id": "O1"},
                "quantity": 2,
                "price": "10.00",
            },
        ],
    }
    held = {
        **order,
        "id": "INTL-2",
        "items": [
            {
                "id": "3",
                "product": {"id": "P1"},
                "product_option": {"id": "O2"},
                "quantity": 1,
                "price": "10.00",
            },
        ],
    }
    lines = [
        {"type": "SCHEMA", "stream": "products", "key_properties": ["id"], "schema": schema},
        {"type": "RECORD", "stream": "products", "record": product},
        {"type": "SCHEMA", "stream": "orders", "key_properties": ["id"], "schema": schema},
        {"type": "RECORD", "stream": "orders", "record": order},
        {"type": "RECORD", "stream": "orders", "record": held},
    ]
    customs = {"description": "Cotton T-shirt", "hs_code": "6109.10", "country_of_origin": "PT"}
    with ShipStationV2Sandbox(v2_tests.API_KEY) as ss:
        settings = {
            "backend": "shipstation_v2",
            "shipstation_v2_api_key": v2_tests.API_KEY,
            "shipstation_v2_api_url": ss.url,
            "shipstation_v2_warehouse_id": v2_tests.WAREHOUSE,
            "ledger_url": f"sqlite:///{tmp_path / 'ledger.db'}",
            "origin_country": "US",
            "product_attributes": {
                "TEE-S": {"weight": {"value": 5, "unit": "ounce"}, **customs},
                "TEE-L": {"weight": {"value": 7, "unit": "ounce"}},
            },
        }
        run = run_target(tmp_path, settings, lines)
        assert run.target_returncode == 0, run.stderr[-3000:]
        shipments = v2_tests.stored(ss)
    assert set(shipments) == {"bigcartel-1001-INTL-1"}
    shipment = shipments["bigcartel-1001-INTL-1"]
    assert shipment["notes_from_buyer"] == "Gift wrap, please"
    assert shipment["customs"] == {"contents": "merchandise", "non_delivery": "return_to_sender"}
    (package,) = shipment["packages"]
    assert package["weight"] == {"value": 10, "unit": "ounce"}
    assert [(p["sku"], p["quantity"], p["value"]["amount"]) for p in package["products"]] == [
        ("TEE-S", 2, 10.0)
    ]
    entry = Ledger(settings["ledger_url"]).get("1001", "INTL-2")
    assert entry is not None and entry.state == "held"
    assert entry.hold_reason is not None and "TEE-L" in entry.hold_reason
    assert "hs_code" in entry.hold_reason and "country_of_origin" in entry.hold_reason
    assert "Gift wrap" not in run.stderr and "Ada" not in run.stderr
