"""The target's domain: the order as the warehouse receives it, what comes back, and its key.

The ground floor of the target: the rules (``orders``), the ledger and the backends build on these
types, and this module imports nothing of the target.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from bigcartel_core.timestamps import as_utc

RemoteStatus = Literal["open", "shipped", "cancelled"]
#: The weight units the settings take: ShipStation V2's words (notes A3).
WEIGHT_UNITS = ("ounce", "pound", "gram", "kilogram")
#: Grams in each unit, exactly (the international avoirdupois pound is 453.59237 g).
GRAMS_PER: dict[str, decimal.Decimal] = {
    "gram": decimal.Decimal(1),
    "kilogram": decimal.Decimal(1000),
    "ounce": decimal.Decimal("28.349523125"),
    "pound": decimal.Decimal("453.59237"),
}


@dataclass(frozen=True)
class Weight:
    """A weight ``{value, unit}``, ``unit`` one of :data:`WEIGHT_UNITS`."""

    value: decimal.Decimal
    unit: str

    def body(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}

    def grams(self) -> decimal.Decimal:
        return self.value * GRAMS_PER[self.unit]


@dataclass(frozen=True)
class ItemCustoms:
    """What a customs declaration says of one item (``product_attributes``)."""

    description: str
    hs_code: str
    country_of_origin: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class CustomsDeclaration:
    """An international order's declaration: what it contains, and what to do if undeliverable.

    The words are those both ShipStation APIs share (notes A3, B5).
    """

    contents: str  # merchandise, documents, gift, returned_goods, sample
    non_delivery: str  # return_to_sender, treat_as_abandoned


@dataclass(frozen=True)
class Address:
    """A postal address; ``country`` is a 2-letter code."""

    name: str | None
    company: str | None
    street1: str | None
    street2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    phone: str | None
    email: str | None = None


@dataclass(frozen=True)
class LineItem:
    """One order line; ``line_item_key`` is the Big Cartel order_line_item id, for write-back."""

    line_item_key: str
    sku: str
    name: str
    quantity: int
    unit_price: decimal.Decimal
    option_name: str | None
    #: The weight of one unit, from ``product_attributes``; None when not configured.
    weight: Weight | None = None
    #: Customs data of the item; set on international orders only.
    customs: ItemCustoms | None = None


@dataclass(frozen=True)
class FulfillmentOrder:
    """A Big Cartel order as the warehouse receives it."""

    key: str  # "bigcartel-<account_id>-<order_id>": stable, the idempotency key at the backend
    account_id: str
    order_id: str
    order_date: dt.datetime
    payment_date: dt.datetime | None
    customer_email: str | None
    ship_to: Address
    bill_to: Address
    items: tuple[LineItem, ...]
    amount_paid: decimal.Decimal
    shipping_amount: decimal.Decimal
    currency: str | None
    shipping_code: str  # DOMESTIC_DEFAULT or INTERNATIONAL_DEFAULT
    carrier_code: str
    service_code: str
    #: The buyer's note (Big Cartel ``customer_note``), cleaned (``validation.note_text``).
    customer_note: str | None = None
    #: The customs declaration: set on international orders, each of whose items has customs.
    customs: CustomsDeclaration | None = None

    def payload_hash(self) -> str:
        """SHA-256 of every field, so the caller can tell whether what it would send changed.

        Equal values hash equally whatever their spelling: ``12.5`` and ``12.50``, or one
        instant given in two time zones, are not a change worth an update. A field added after
        orders were sent is left out while it is empty (:data:`_ADDED_FIELDS`), so an order
        that does not use it hashes as it did, and is not sent again merely because the code
        gained a field.
        """
        canonical = json.dumps(
            _canonical(_without_empty_additions(dataclasses.asdict(self))),
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RemoteOrder:
    """What the backend holds for a key."""

    key: str
    backend_order_id: str
    status: RemoteStatus


@dataclass(frozen=True)
class ShippedItem:
    """A line of a shipment; the warehouse may name it by line item key, by SKU, or both."""

    line_item_key: str | None
    sku: str | None
    quantity: int


@dataclass(frozen=True)
class Shipment:
    """A shipment confirmation; ``source_id`` is unique per shipment at the backend.

    ``voided``: its label was voided at the warehouse, so the parcel is not on its way.
    """

    key: str
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: dt.datetime | None
    items: tuple[ShippedItem, ...]
    source_id: str
    voided: bool = False


def total_weight(items: tuple[LineItem, ...]) -> Weight | None:
    """The weight of the items together (each unit's weight times its quantity), or None when
    any item has no weight: a sum of some would understate the package.

    One unit per package: the items' unit when they share one, else grams, converted exactly.
    """
    weights = [item.weight for item in items]
    if not weights or any(weight is None for weight in weights):
        return None
    units = {weight.unit for weight in weights if weight is not None}
    if len(units) == 1:
        unit = units.pop()
        total = sum(
            (w.value * i.quantity for i in items if (w := i.weight) is not None),
            decimal.Decimal(0),
        )
    else:
        unit = "gram"
        total = sum(
            (w.grams() * i.quantity for i in items if (w := i.weight) is not None),
            decimal.Decimal(0),
        )
    return Weight(total.normalize(), unit)


def order_key(account_id: str, order_id: str) -> str:
    """The idempotency key the warehouse stores with the order; never changes for an order."""
    return f"bigcartel-{account_id}-{order_id}"


def decimal_text(value: decimal.Decimal) -> str:
    """The exact digits of a money amount, without an exponent; valid as a JSON number."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    return format(value, "f")


#: Fields added to the order and its items after the first orders were sent, by dataclass; each
#: is hashed only when it holds something (see ``FulfillmentOrder.payload_hash``).
_ADDED_FIELDS: dict[str, tuple[str, ...]] = {
    "order": ("customer_note", "customs"),
    "item": ("weight", "customs"),
}


def _without_empty_additions(order: dict[str, Any]) -> dict[str, Any]:
    def pruned(fields: dict[str, Any], added: tuple[str, ...]) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if k not in added or v not in (None, (), [])}

    result = pruned(order, _ADDED_FIELDS["order"])
    result["items"] = [pruned(item, _ADDED_FIELDS["item"]) for item in order["items"]]
    return result


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, decimal.Decimal):
        return decimal_text(value.normalize())
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    return value
