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
    """A shipment confirmation; ``source_id`` is unique per shipment at the backend."""

    key: str
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: dt.datetime | None
    items: tuple[ShippedItem, ...]
    source_id: str


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
    "order": ("customer_note",),
    "item": (),
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
