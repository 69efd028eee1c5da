"""Turn a Big Cartel order record into a warehouse order, or say why it cannot be sent.

Pure functions over the order record, the catalog and the config: every rule the target applies
to an order lives here, so each can be tested without a database or a network.
"""

from __future__ import annotations

import datetime as dt
import decimal
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from target_fulfillment.backends.base import Address, FulfillmentOrder, LineItem
from target_fulfillment.shipping import carrier_service, shipping_code
from target_fulfillment.sku import derive_sku

Record = Mapping[str, t.Any]

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


def order_key(account_id: str, order_id: str) -> str:
    """The idempotency key the warehouse stores with the order; never changes for an order."""
    return f"bigcartel-{account_id}-{order_id}"


def is_eligible(order: Record) -> bool:
    """Paid and not yet shipped: the orders a warehouse should ship."""
    return order.get("payment_status") == PAID and order.get("shipping_status") == UNSHIPPED


def is_voided(order: Record) -> bool:
    return order.get("payment_status") in VOIDED


def _text(value: t.Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _money(order: Record, field: str) -> decimal.Decimal:
    value = order.get(field)
    try:
        return decimal.Decimal(str(value if value is not None else "0"))
    except decimal.InvalidOperation:
        raise InvalidOrderError(
            f"order {order.get('id')}: field '{field}' holds {value!r}, not an amount"
        ) from None


def _timestamp(value: t.Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _require(order: Record, field: str) -> t.Any:
    value = order.get(field)
    if value in (None, "", []):
        raise InvalidOrderError(f"order {order.get('id')}: required field '{field}' is missing")
    return value


def _country(order: Record) -> str | None:
    country = order.get("shipping_country")
    if isinstance(country, Mapping):
        return _text(country.get("id"))
    return _text(country)


def build_order(
    order: Record,
    *,
    product: Callable[[str], CatalogProduct | None],
    shop_country: str | None,
    sku_overrides: Mapping[str, str],
    shipping_codes: Mapping[str, Mapping[str, str]],
) -> FulfillmentOrder | Hold:
    """The warehouse order for an eligible Big Cartel order, or a :class:`Hold`.

    An order is sent whole or not at all: one item whose SKU cannot be derived holds the order.
    Raises :class:`InvalidOrderError` for a record that is not a usable order at all.
    """
    order_id = str(_require(order, "id"))
    account_id = str(_require(order, "account_id"))
    items = _require(order, "items")

    lines, reasons = [], []
    for item in items:
        product_id = _text((item.get("product") or {}).get("id")) or _text(item.get("product_id"))
        option_id = _text((item.get("product_option") or {}).get("id"))
        if product_id is None:
            raise InvalidOrderError(f"order {order_id}: item {item.get('id')} names no product")
        known = product(product_id)
        if known is None and product_id not in sku_overrides:
            reasons.append(f"product {product_id} is not in the catalog (no products record yet)")
            continue
        option_name = (known.options.get(option_id) if known and option_id else None) or _text(
            item.get("product_option_name")
        )
        result = derive_sku(
            product_id=product_id,
            option_id=option_id,
            description=known.description if known else None,
            option_name=option_name,
            option_count=len(known.options) if known else 1,
            overrides=sku_overrides,
        )
        if result.sku is None:
            reasons.append(str(result.reason))
            continue
        quantity = item.get("quantity_unshipped")
        lines.append(
            LineItem(
                line_item_key=str(_require(item, "id")),
                sku=result.sku,
                name=str(item.get("product_name") or result.sku),
                quantity=int(quantity if quantity is not None else _require(item, "quantity")),
                unit_price=decimal.Decimal(str(item.get("price") or "0")),
                option_name=option_name,
            )
        )
    destination = _country(order)
    try:
        code = shipping_code(destination, shop_country)
        service = carrier_service(code, str(destination), shipping_codes)
    except ValueError as error:
        reasons.append(str(error))
    if reasons:
        return Hold("; ".join(dict.fromkeys(reasons)))

    name = " ".join(
        part
        for part in (
            _text(order.get("customer_first_name")),
            _text(order.get("customer_last_name")),
        )
        if part
    )
    address = Address(
        name=name or None,
        company=None,
        street1=_text(order.get("shipping_address_1")),
        street2=_text(order.get("shipping_address_2")),
        city=_text(order.get("shipping_city")),
        state=_text(order.get("shipping_state")),
        postal_code=_text(order.get("shipping_zip")),
        country=destination,
        phone=_text(order.get("customer_phone_number")),
    )
    if not (address.name and address.street1 and address.city):
        return Hold(f"order {order_id} has an incomplete shipping address (name, street, city)")
    completed = _timestamp(order.get("completed_at"))
    currency = order.get("currency")
    return FulfillmentOrder(
        key=order_key(account_id, order_id),
        account_id=account_id,
        order_id=order_id,
        order_date=completed
        or _timestamp(order.get("created_at"))
        or dt.datetime.now(dt.timezone.utc),
        payment_date=completed,
        customer_email=_text(order.get("customer_email")),
        ship_to=address,
        bill_to=address,
        items=tuple(lines),
        amount_paid=_money(order, "total"),
        shipping_amount=_money(order, "shipping_total"),
        currency=_text(currency.get("id")) if isinstance(currency, Mapping) else _text(currency),
        shipping_code=code,
        carrier_code=service.carrier_code,
        service_code=service.service_code,
    )
