"""Turn a Big Cartel order record into a warehouse order, or say why it cannot be sent.

Pure functions over the order record, the catalog and the config: every rule the target applies
to an order lives here, so each can be tested without a database or a network.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bigcartel_core import timestamps
from target_fulfillment.attributes import ATTRIBUTES_SETTING, ProductAttributes
from target_fulfillment.domain import (
    Address,
    CustomsDeclaration,
    FulfillmentOrder,
    LineItem,
    Weight,
    order_key,
    total_weight,
)
from target_fulfillment.shipping import INTERNATIONAL_DEFAULT, carrier_service, shipping_code
from target_fulfillment.sku import derive_sku
from target_fulfillment.validation import (
    amount,
    id_text,
    note_text,
    record_id_problem,
    shown,
    sku_problem,
    text_problem,
    whole_number,
)

Record = Mapping[str, t.Any]

__all__ = [
    "CatalogProduct",
    "Hold",
    "InvalidOrderError",
    "build_order",
    "is_eligible",
    "is_voided",
]

PAID = "completed"
UNSHIPPED = "unshipped"
#: Payment states after which a warehouse order must be cancelled, not shipped.
VOIDED = frozenset({"failed", "invalid"})


@dataclass(frozen=True)
class CatalogProduct:
    """What the target knows of a product: its description and its options by id."""

    description: str | None
    options: Mapping[str, str]


@dataclass(frozen=True)
class Hold:
    """An order that cannot be sent yet, and why, in words a seller can act on."""

    reason: str


class InvalidOrderError(ValueError):
    """The record lacks something every order has; the message names the order and field."""


def is_eligible(order: Record) -> bool:
    """Paid and not yet shipped: the orders a warehouse should ship."""
    return order.get("payment_status") == PAID and order.get("shipping_status") == UNSHIPPED


def is_voided(order: Record) -> bool:
    status = order.get("payment_status")
    return isinstance(status, str) and status in VOIDED


def _text(value: t.Any, where: str, field: str) -> str | None:
    """A text field, stripped; raises naming ``where`` and the field (never the value, which may
    be a customer's) for what no warehouse field can hold."""
    if value is None:
        return None
    if isinstance(value, Mapping | list | tuple | bool):
        raise InvalidOrderError(f"{where}: {field} is not text")
    text = str(value).strip()
    problem = text_problem(text)
    if problem:
        raise InvalidOrderError(f"{where}: {field} {problem}")
    return text or None


def _field(order: Record, field: str) -> str | None:
    return _text(order.get(field), f"order {order.get('id')}", field)


def _money(order: Record, field: str, *, default: str | None = None) -> decimal.Decimal:
    value = order.get(field)
    if value is None:
        value = default
    number = amount(value)
    if number is None:
        raise InvalidOrderError(
            f"order {order.get('id')}: {field} {shown(value)} is not an amount"
            " (a finite number, not negative)"
        )
    return number


def _timestamp(value: t.Any) -> dt.datetime | None:
    """A time of the order in UTC; None when it is missing or unreadable."""
    if value is None or isinstance(value, dt.datetime):
        return None if value is None else timestamps.as_utc(value)
    try:
        return timestamps.parse(str(value))
    except ValueError:
        return None


def _require(order: Record, field: str) -> t.Any:
    value = order.get(field)
    if value in (None, "", []):
        raise InvalidOrderError(f"order {order.get('id')}: required field '{field}' is missing")
    return value


def _note(order: Record) -> str | None:
    """The buyer's note, cleaned rather than held for (``note_text``); only a value that is not
    text at all holds the order, named by field, never quoted."""
    value = order.get("customer_note")
    if value is None:
        return None
    if isinstance(value, Mapping | list | tuple | bool):
        raise InvalidOrderError(f"order {order.get('id')}: customer_note is not text")
    return note_text(str(value))


def _country(order: Record) -> str | None:
    country = order.get("shipping_country")
    if isinstance(country, Mapping):
        country = country.get("id")
    return _text(country, f"order {order.get('id')}", "shipping_country")


@dataclass(frozen=True)
class _Item:
    """A line item whose numbers have been checked."""

    item_id: str
    product_id: str
    option_id: str | None
    quantity: int
    unit_price: decimal.Decimal
    record: Record


def _items(order: Record) -> list[_Item]:
    """The order's line items, each checked; raises naming the first item and field at fault.

    Items already shipped in full (``quantity_unshipped`` 0) are left out: the warehouse ships
    only what is left.
    """
    items = _require(order, "items")
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise InvalidOrderError(f"order {order.get('id')}: items is not a list of line items")
    checked, seen = [], set()
    for item in items:
        problem = record_id_problem(item.get("id"), "line item")
        if problem:
            raise InvalidOrderError(f"order {order.get('id')}: {problem}")
        where = f"item {item['id']}"
        if str(item["id"]) in seen:
            raise InvalidOrderError(f"{where}: the line item id appears twice in the order")
        seen.add(str(item["id"]))
        quantity = whole_number(item.get("quantity"))
        if quantity is None:
            raise InvalidOrderError(
                f"{where}: quantity {shown(item.get('quantity'))} is not a whole number"
            )
        if quantity < 1:
            raise InvalidOrderError(f"{where}: quantity {quantity} is not positive")
        unshipped_value = item.get("quantity_unshipped")
        unshipped = quantity if unshipped_value is None else whole_number(unshipped_value)
        if unshipped is None:
            raise InvalidOrderError(
                f"{where}: quantity_unshipped {shown(unshipped_value)} is not a whole number"
            )
        if not 0 <= unshipped <= quantity:
            raise InvalidOrderError(
                f"{where}: quantity_unshipped {unshipped} is not between 0 and quantity {quantity}"
            )
        price = amount(item.get("price"))
        if price is None:
            raise InvalidOrderError(
                f"{where}: price {shown(item.get('price'))} is not an amount"
                " (a finite number, not negative)"
            )
        product = item.get("product")
        product_id = id_text(product.get("id") if isinstance(product, Mapping) else None)
        product_id = product_id or id_text(item.get("product_id"))
        if product_id is None:
            raise InvalidOrderError(f"{where}: names no product")
        option = item.get("product_option")
        option_id = id_text(option.get("id") if isinstance(option, Mapping) else None)
        if unshipped:
            checked.append(_Item(str(item["id"]), product_id, option_id, unshipped, price, item))
    if not checked:
        raise InvalidOrderError(
            f"order {order.get('id')}: no item is left to ship (quantity_unshipped is 0 on all)"
        )
    return checked


def build_order(
    order: Record,
    *,
    product: Callable[[str], CatalogProduct | None],
    shop_country: str | None,
    sku_overrides: Mapping[str, str],
    shipping_codes: Mapping[str, Mapping[str, str]],
    product_attributes: Mapping[str, ProductAttributes] | None = None,
    customs_contents: str = "merchandise",
    customs_non_delivery: str = "return_to_sender",
    require_package_weight: bool = False,
    package_weight: Weight | None = None,
) -> FulfillmentOrder | Hold:
    """The warehouse order for an eligible Big Cartel order, or a :class:`Hold`.

    An order is sent whole or not at all: one item whose SKU cannot be derived holds the order.
    Each item carries its weight from ``product_attributes`` (by SKU). Once any attributes are
    configured, an international order carries a customs declaration, and is held while any
    item lacks a customs attribute or the order its currency (item values are declared in it);
    a domestic order needs neither. With
    ``require_package_weight`` (ShipStation V2) an order whose items are not all weighed and
    for which there is no ``package_weight`` default is held.
    Raises :class:`InvalidOrderError`, naming the item and field, for a record that cannot be
    sent as it is (impossible quantities, amounts that are not money, text that is not text).
    """
    order_id = str(_require(order, "id"))
    account_id = str(_require(order, "account_id"))

    attributes = product_attributes or {}
    lines, reasons = [], []
    for item in _items(order):
        where = f"item {item.item_id}"
        known = product(item.product_id)
        if known is None and item.product_id not in sku_overrides:
            reasons.append(
                f"product {item.product_id} is not in the catalog (no products record yet)"
            )
            continue
        option_name = (
            known.options.get(item.option_id) if known and item.option_id else None
        ) or _text(item.record.get("product_option_name"), where, "product_option_name")
        result = derive_sku(
            product_id=item.product_id,
            option_id=item.option_id,
            description=known.description if known else None,
            option_name=option_name,
            option_count=len(known.options) if known else 1,
            overrides=sku_overrides,
        )
        if result.sku is None:
            reasons.append(str(result.reason))
            continue
        problem = sku_problem(result.sku)
        if problem:
            reasons.append(f"{where}: {problem}")
            continue
        known_attributes = attributes.get(result.sku, ProductAttributes())
        lines.append(
            LineItem(
                line_item_key=item.item_id,
                sku=result.sku,
                name=_text(item.record.get("product_name"), where, "product_name") or result.sku,
                quantity=item.quantity,
                unit_price=item.unit_price,
                option_name=option_name,
                weight=known_attributes.weight,
                customs=known_attributes.customs(),
            )
        )
    destination = _country(order)
    try:
        code = shipping_code(destination, shop_country)
        service = carrier_service(code, str(destination), shipping_codes)
    except ValueError as error:
        reasons.append(str(error))
        code = ""
    currency = order.get("currency")
    currency_code = _text(
        currency.get("id") if isinstance(currency, Mapping) else currency,
        f"order {order_id}",
        "currency",
    )
    # Customs is declared once the seller has configured product_attributes at all: before, the
    # warehouse's own customs defaults applied (ShipStation fills customs from its product
    # records unless told to leave them blank, notes B5), and an upgrade must not stop every
    # international order. From then on an international order is declared whole or held.
    international = code == INTERNATIONAL_DEFAULT and bool(attributes)
    if international:
        reasons += _customs_reasons(order_id, lines, attributes, currency_code)
    else:
        lines = [dataclasses.replace(line, customs=None) for line in lines]
    if require_package_weight and package_weight is None and total_weight(tuple(lines)) is None:
        unweighed = ", ".join(line.sku for line in lines if line.weight is None)
        reasons.append(
            f"order {order_id}: ShipStation V2 needs a package weight, and no weight is"
            f" configured for SKU {unweighed} ({ATTRIBUTES_SETTING}) nor a"
            " default_package_weight"
        )
    if reasons:
        return Hold("; ".join(dict.fromkeys(reasons)))

    name = " ".join(
        part
        for part in (
            _field(order, "customer_first_name"),
            _field(order, "customer_last_name"),
        )
        if part
    )
    address = Address(
        name=name or None,
        company=None,
        street1=_field(order, "shipping_address_1"),
        street2=_field(order, "shipping_address_2"),
        city=_field(order, "shipping_city"),
        state=_field(order, "shipping_state"),
        postal_code=_field(order, "shipping_zip"),
        country=destination,
        phone=_field(order, "customer_phone_number"),
    )
    if not (address.name and address.street1 and address.city):
        return Hold(f"order {order_id} has an incomplete shipping address (name, street, city)")
    completed = _timestamp(order.get("completed_at"))
    return FulfillmentOrder(
        key=order_key(account_id, order_id),
        account_id=account_id,
        order_id=order_id,
        order_date=completed or _timestamp(order.get("created_at")) or timestamps.now(),
        payment_date=completed,
        customer_email=_field(order, "customer_email"),
        ship_to=address,
        bill_to=address,
        items=tuple(lines),
        amount_paid=_money(order, "total"),
        shipping_amount=_money(order, "shipping_total", default="0"),
        currency=currency_code,
        shipping_code=code,
        carrier_code=service.carrier_code,
        service_code=service.service_code,
        customer_note=_note(order),
        customs=(
            CustomsDeclaration(customs_contents, customs_non_delivery) if international else None
        ),
    )


def _customs_reasons(
    order_id: str,
    lines: list[LineItem],
    attributes: Mapping[str, ProductAttributes],
    currency: str | None,
) -> list[str]:
    """Why an international order cannot be declared: each item's missing customs attributes
    (named with its SKU, the key of ``product_attributes``), or the order's missing currency."""
    reasons = []
    for line in lines:
        if line.customs is None:
            missing = attributes.get(line.sku, ProductAttributes()).missing_for_customs()
            reasons.append(
                f"item {line.line_item_key}: SKU {line.sku} lacks {', '.join(missing)} for"
                f" the customs declaration of an international order ({ATTRIBUTES_SETTING})"
            )
    if currency is None:
        reasons.append(
            f"order {order_id}: no currency, and customs declares the items' values in it"
        )
    return reasons
