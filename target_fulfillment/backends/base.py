"""The contract between the target and a warehouse: the order sent, what comes back, what fails.

Backends never decide anything about an order; the target builds a :class:`FulfillmentOrder` and a
backend only delivers it. Exactly-once delivery is shared work: the target's ledger records the
intent before ``submit`` and the result after it, and a backend answers ``lookup`` truthfully so
an interrupted submit can be settled instead of repeated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

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

    def payload_hash(self) -> str:
        """SHA-256 of every field, so the caller can tell whether what it would send changed.

        Equal values hash equally whatever their spelling: ``12.5`` and ``12.50``, or one
        instant given in two time zones, are not a change worth an update.
        """
        canonical = json.dumps(
            _canonical(dataclasses.asdict(self)), sort_keys=True, separators=(",", ":")
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


class BackendError(Exception):
    """A definite failure: the backend did not accept the order. The message has its words."""


class AmbiguousSubmitError(Exception):
    """The request left but no answer came back: the order may exist; settle it with lookup()."""


class OrderLockedError(BackendError):
    """The warehouse order is shipped, cancelled or collected, and takes no more updates."""


class Backend(Protocol):
    """A warehouse. ``submit`` and ``lookup`` are called from several threads at once."""

    name: str

    def submit(self, order: FulfillmentOrder) -> str:
        """Create the order, or update the open order with the same key; the backend's id."""
        ...

    def lookup(self, key: str) -> RemoteOrder | None:
        """The order with this key at the backend, or None when it never arrived."""
        ...

    def shipments(self, since: dt.datetime | None) -> list[Shipment]:
        """Confirmations not yet acknowledged, or created since ``since`` where nothing is."""
        ...

    def acknowledge(self, shipment: Shipment) -> None:
        """Forget a confirmation the caller has durably recorded."""
        ...

    def cancel(self, key: str) -> bool:
        """Cancel the order; False when the backend does not allow it (locked, unsupported)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


def decimal_text(value: decimal.Decimal) -> str:
    """The exact digits of a money amount, without an exponent; valid as a JSON number."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    return format(value, "f")


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
