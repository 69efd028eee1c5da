"""Our order model in ShipStation API V2's words and back: pure functions, no HTTP.

A V1 order is a V2 shipment, keyed by ``external_shipment_id``, and a V1 shipment is a V2 label
(notes A8). V2 times are ISO 8601 in UTC, unlike v1's Pacific wall-clock times.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from bigcartel_core import timestamps
from target_fulfillment.attributes import weight
from target_fulfillment.backends.shipstation.mapping import carrier, text
from target_fulfillment.domain import (
    Address,
    FulfillmentOrder,
    LineItem,
    RemoteStatus,
    Shipment,
    ShippedItem,
    Weight,
    total_weight,
)

#: The most characters V2 keeps of an ``external_shipment_id``; it cuts longer ones (notes A3).
MAX_EXTERNAL_SHIPMENT_ID = 50
#: Shipment statuses before a label is bought: the only ones an update or a cancel can change.
OPEN_STATUSES = frozenset({"pending", "processing"})
#: What a required address field says when the order does not know it. The notes list the
#: fields as required without saying any may be empty, and ``unknown`` is V2's own word for
#: address_residential_indicator.
UNKNOWN = "unknown"
KEY_PREFIX = "bigcartel-"
# A V2 carrier_id is the account's own "se-<n>"; shipping_codes usually name a carrier code.
_CARRIER_ID = re.compile(r"se-\d+")

logger = logging.getLogger(__name__)


def package_weight(value: Any, setting: str) -> Weight | None:
    """The default package weight a setting holds (None when unset); ``ValueError`` naming the
    setting when it holds something else.

    V2 refuses a shipment without a package weight (notes A3): the items' summed weights are
    used, else this default; the rules hold an order that has neither.
    """
    if value is None:
        return None
    return weight(value, f"`{setting}`")


def shipment_weight(order: FulfillmentOrder, default: Weight | None) -> Weight | None:
    """The package's weight: every item's weight times its quantity, summed (in one unit,
    ``domain.total_weight``), else the default; None when there is neither."""
    return total_weight(order.items) or default


def key_error(key: str) -> str | None:
    """Why a key cannot be an external_shipment_id, or None.

    V2 would cut a longer one without a word, and the cut key would neither be found by lookup
    nor stay unique, so such an order is refused instead of sent.
    """
    if len(key) > MAX_EXTERNAL_SHIPMENT_ID:
        return (
            f"{key} is {len(key)} characters long; ShipStation V2 keeps at most"
            f" {MAX_EXTERNAL_SHIPMENT_ID} of an external_shipment_id, so it cannot be sent"
        )
    return None


def shipment_body(order: FulfillmentOrder, warehouse_id: str, package: Weight) -> dict[str, Any]:
    """The V2 shipment for a create or an update: whole, as an update replaces the shipment.

    One package of ``package`` weight (``shipment_weight``); an international order declares
    each item in that package's ``products`` (``customs_items`` is deprecated, notes A3), with
    one unit's value and weight, and the declaration's contents and non-delivery in ``customs``.
    """
    package_body: dict[str, Any] = {"weight": package.body()}
    if order.customs is not None:
        package_body["products"] = [
            product_body(item, order.currency) for item in order.items if item.customs
        ]
    body: dict[str, Any] = {
        "external_shipment_id": order.key,
        "shipment_number": order.order_id,
        "warehouse_id": warehouse_id,
        "ship_to": ship_to_body(order.ship_to, order.customer_email),
        "service_code": order.service_code,
        "items": [item_body(item, order.key) for item in order.items],
        "packages": [package_body],
    }
    if order.customs is not None:
        body["customs"] = {
            "contents": order.customs.contents,
            "non_delivery": order.customs.non_delivery,
        }
    # carrier_id is the account's V2 carrier ("se-<n>"), which a carrier code such as "usps"
    # is not; without one the warehouse picks the carrier when it buys the label.
    if _CARRIER_ID.fullmatch(order.carrier_code):
        body["carrier_id"] = order.carrier_code
    if order.currency:
        body["amount_paid"] = money(order.amount_paid, order.currency)
        body["shipping_paid"] = money(order.shipping_amount, order.currency)
    if order.customer_note:
        body["notes_from_buyer"] = order.customer_note
    return body


def ship_to_body(address: Address, email: str | None) -> dict[str, Any]:
    """A V2 address with every field V2 requires; what the order lacks is ``unknown``."""
    return {
        "name": address.name or UNKNOWN,
        "phone": address.phone or UNKNOWN,
        "email": address.email or email,
        "company_name": address.company,
        "address_line1": address.street1 or UNKNOWN,
        "address_line2": address.street2,
        "city_locality": address.city or UNKNOWN,
        "state_province": address.state or UNKNOWN,
        "postal_code": address.postal_code or UNKNOWN,
        "country_code": address.country or UNKNOWN,
        # ShipStation decides by validating the address, as with v1's residential: null.
        "address_residential_indicator": UNKNOWN,
    }


def item_body(item: LineItem, key: str) -> dict[str, Any]:
    """A V2 shipment item naming its order and line, so a split shipment still names both;
    ``weight`` is one unit's, as ``unit_price`` is."""
    body: dict[str, Any] = {
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unit_price": item.unit_price,
        "external_order_id": key,
        "external_order_item_id": item.line_item_key,
        "options": [{"name": "Option", "value": item.option_name}] if item.option_name else [],
    }
    if item.weight is not None:
        body["weight"] = item.weight.body()
    return body


def product_body(item: LineItem, currency: str | None) -> dict[str, Any]:
    """An item's customs declaration in ``packages[].products[]`` (notes A3)."""
    assert item.customs is not None
    body: dict[str, Any] = {
        "description": item.customs.description,
        "quantity": item.quantity,
        # The rules hold an international order without a currency; "usd" is V1's own.
        "value": money(item.unit_price, currency or "usd"),
        "harmonized_tariff_code": item.customs.hs_code,
        "country_of_origin": item.customs.country_of_origin,
        "sku": item.sku,
    }
    if item.weight is not None:
        body["weight"] = item.weight.body()
    return body


def money(amount: decimal.Decimal, currency: str) -> dict[str, Any]:
    """``{currency, amount}``; V2's examples write currencies in lower case (``usd``)."""
    return {"currency": currency.lower(), "amount": amount}


def remote_status(shipment: Mapping[str, Any]) -> RemoteStatus:
    """label_purchased is shipped (locked, as v1's shipped), cancelled is cancelled; pending,
    processing and any status the docs do not list are unfinished, so open."""
    status = shipment.get("shipment_status")
    if status == "label_purchased":
        return "shipped"
    if status == "cancelled":
        return "cancelled"
    return "open"


def is_ours(key: Any) -> bool:
    """Whether a key came from this project: an account holds other stores' shipments too."""
    return isinstance(key, str) and key.startswith(KEY_PREFIX)


def label_shipments(label: Mapping[str, Any], shipment: Mapping[str, Any]) -> list[Shipment]:
    """The confirmations one label makes: one per order whose items it carries.

    The key is each item's ``external_order_id``: a shipment the warehouse split off has an
    external_shipment_id of its own, but its items still name our order. Items without one
    belong to the shipment's external_shipment_id. A label carrying two orders' items (a merge)
    gives one confirmation per order, with ``<label_id>/<key>`` as source id.

    A multi-package label is one confirmation, with the label's (master) tracking number and
    every item once: a Big Cartel shipment has one tracking number, and V2 does not say which
    package carries which item (``packages[].products`` is for customs), so a confirmation
    per package would have to guess the items or claim them twice.
    """
    by_key: dict[str, list[ShippedItem]] = defaultdict(list)
    fallback = shipment.get("external_shipment_id") or label.get("external_shipment_id")
    for item in shipment.get("items") or []:
        key = text(item.get("external_order_id")) or fallback
        quantity = int(item.get("quantity") or 0)
        if is_ours(key) and quantity > 0:
            by_key[str(key)].append(
                ShippedItem(
                    line_item_key=text(item.get("external_order_item_id")),
                    sku=text(item.get("sku")),
                    quantity=quantity,
                )
            )
    if not by_key and is_ours(fallback):
        by_key[str(fallback)] = []  # a label for a shipment without items still ships it
    tracking = text(label.get("tracking_number"))
    name, page = carrier(text(label.get("carrier_code")), tracking)
    label_id = str(label["label_id"])
    return [
        Shipment(
            key=key,
            carrier=name,
            tracking_number=tracking,
            tracking_url=text(label.get("tracking_url")) or page,
            # A label without a ship date was bought to ship now.
            shipped_at=parse_time(label.get("ship_date") or label.get("created_at")),
            items=tuple(items),
            source_id=label_id if len(by_key) == 1 else f"{label_id}/{key}",
            voided=bool(label.get("voided")) or label.get("status") == "voided",
        )
        for key, items in by_key.items()
    ]


def error_messages(document: Mapping[str, Any]) -> str:
    """V2's words in an error body: each ``errors[]`` entry's error_code and message."""
    found = []
    for error in document.get("errors") or []:
        if isinstance(error, Mapping):
            code, message = text(error.get("error_code")), text(error.get("message"))
            found.append(f"{code}: {message}" if code and message else message or code or "")
        elif error:
            found.append(str(error))  # a create answer's per-shipment errors are strings
    return "; ".join(part for part in found if part)


def entries_by_key(document: Mapping[str, Any], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A create answer's ``shipments[]`` by our key; entries naming no key of ours are dropped.

    Matched by external_shipment_id rather than position: the docs do not promise the order.
    """
    wanted = set(keys)
    found: dict[str, dict[str, Any]] = {}
    for entry in document.get("shipments") or []:
        if isinstance(entry, dict) and entry.get("external_shipment_id") in wanted:
            found[entry["external_shipment_id"]] = entry
    return found


def query_time(moment: dt.datetime) -> str:
    """A time for a V2 filter: UTC with milliseconds and ``Z``, rounded down."""
    return timestamps.format_millis(moment)


def parse_time(value: Any) -> dt.datetime | None:
    """A V2 timestamp or date (UTC) as an aware datetime; None when unreadable.

    An unreadable time is logged, not raised: it should not cost the shipment it belongs to.
    """
    if not value:
        return None
    try:
        return timestamps.parse(str(value))
    except ValueError:
        logger.warning("Ignoring an unreadable ShipStation time: %r", value)
        return None
