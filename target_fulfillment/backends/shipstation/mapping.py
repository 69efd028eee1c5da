"""Our order model in ShipStation API v1's words and back: pure functions, no HTTP.

Times: ShipStation reads and writes timestamps without an offset, in Pacific time; they are
converted both ways here (a naive datetime from the caller is UTC).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bigcartel_core import timestamps
from bigcartel_core.timestamps import as_utc
from target_fulfillment.domain import (
    Address,
    FulfillmentOrder,
    LineItem,
    RemoteStatus,
    Shipment,
    ShippedItem,
    Weight,
    decimal_text,
)

#: V1's weight units (pounds|ounces|grams, notes B5) for the settings' units; V1 has no
#: kilograms, so a kilogram weight is sent in grams.
V1_UNITS = {"pound": "pounds", "ounce": "ounces", "gram": "grams"}

#: The statuses in which ShipStation still takes an update of an order (the V1 createorders docs).
OPEN_STATUSES = frozenset(
    {"awaiting_payment", "awaiting_shipment", "pending_fulfillment", "on_hold"}
)
KEY_PREFIX = "bigcartel-"
# bigcartel-<account_id>-<order_id>: account ids are digits, order ids may contain "-".
KEY = re.compile(r"bigcartel-([^-]+)-(.+)")

_USPS = ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}")
#: carrierCode → (the carrier's name for the buyer, its tracking page); stamps_com labels are USPS.
CARRIERS: dict[str, tuple[str, str]] = {
    "usps": _USPS,
    "stamps_com": _USPS,
    "ups": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl_express": (
        "DHL Express",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    ),
}

try:
    PACIFIC: dt.tzinfo = ZoneInfo("America/Los_Angeles")
except ZoneInfoNotFoundError:  # no tz database (Windows without tzdata): standard time only
    PACIFIC = dt.timezone(dt.timedelta(hours=-8), "PST")

logger = logging.getLogger(__name__)


def order_body(order: FulfillmentOrder, store_id: int | None) -> dict[str, Any]:
    """The v1 Order for createorders: the whole order, as an update replaces what it leaves out."""
    body: dict[str, Any] = {
        "orderNumber": order.order_id,
        "orderKey": order.key,
        "orderDate": pacific(order.order_date),
        "paymentDate": pacific(order.payment_date) if order.payment_date else None,
        "orderStatus": "awaiting_shipment",
        "customerEmail": order.customer_email,
        "billTo": address_body(order.bill_to),
        "shipTo": address_body(order.ship_to),
        "items": [item_body(item) for item in order.items],
        "amountPaid": order.amount_paid,
        "shippingAmount": order.shipping_amount,
        "requestedShippingService": order.shipping_code,
        "carrierCode": order.carrier_code,
        "serviceCode": order.service_code,
        # The buyer's note (V1 Order model, notes B5).
        "customerNotes": order.customer_note,
    }
    if order.customs is not None:
        # Each customs item's value is the unit price, in the order's currency: the docs say
        # USD and do not say whether per unit or per line (notes B5); the declared quantity
        # goes with it, as the V2 per-item declaration does. ShipStation replaces these with
        # its own unless the account's Customs Declarations setting is "Leave blank".
        body["internationalOptions"] = {
            "contents": order.customs.contents,
            "nonDelivery": order.customs.non_delivery,
            "customsItems": [
                {
                    "description": item.customs.description,
                    "quantity": item.quantity,
                    "value": item.unit_price,
                    "harmonizedTariffCode": item.customs.hs_code,
                    "countryOfOrigin": item.customs.country_of_origin,
                }
                for item in order.items
                if item.customs is not None
            ],
        }
    if store_id is not None:
        body["advancedOptions"] = {"storeId": store_id}
    return body


def weight_body(weight: Weight) -> dict[str, Any]:
    """A v1 Weight ``{value, units}``; kilograms become grams, exactly."""
    if weight.unit == "kilogram":
        return {"value": (weight.value * 1000).normalize(), "units": "grams"}
    return {"value": weight.value, "units": V1_UNITS[weight.unit]}


def address_body(address: Address) -> dict[str, Any]:
    """A v1 Address; ``residential`` stays unknown so ShipStation decides by validating it."""
    return {
        "name": address.name,
        "company": address.company,
        "street1": address.street1,
        "street2": address.street2,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postal_code,
        "country": address.country,
        "phone": address.phone,
        "residential": None,
    }


def item_body(item: LineItem) -> dict[str, Any]:
    """A v1 OrderItem; ``lineItemKey`` brings Big Cartel's line item back with the shipment.

    ``weight`` is one unit's, as ``unitPrice`` is one unit's price.
    """
    body: dict[str, Any] = {
        "lineItemKey": item.line_item_key,
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unitPrice": item.unit_price,
        "options": [{"name": "Option", "value": item.option_name}] if item.option_name else [],
    }
    if item.weight is not None:
        body["weight"] = weight_body(item.weight)
    return body


def order_number(key: str) -> str:
    """The Big Cartel order id in a key, which is the orderNumber at ShipStation.

    v1 finds orders only by orderNumber, so every lookup by key starts here.
    """
    match = KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"{key!r} is not a bigcartel-<account_id>-<order_id> key")
    return match.group(2)


def batch_results(document: Any, keys: Collection[str]) -> tuple[dict[str, str], dict[str, str]]:
    """A createorders answer read by orderKey: (orderId per created key, errorMessage per
    refused key), for the keys sent only.

    A key whose result is missing or unreadable is in neither: it may or may not be stored.
    """
    created: dict[str, str] = {}
    refused: dict[str, str] = {}
    results = document.get("results") if isinstance(document, Mapping) else None
    for result in results if isinstance(results, list) else []:
        key = result.get("orderKey") if isinstance(result, Mapping) else None
        if not isinstance(key, str) or key not in keys:
            continue
        order_id = result.get("orderId")
        if result.get("success") is True and isinstance(order_id, int | str) and order_id != "":
            created[key] = str(order_id)
        elif result.get("success") is False:
            refused[key] = text(result.get("errorMessage")) or "no message"
    return created, refused


def remote_status(order: Mapping[str, Any]) -> RemoteStatus:
    """Shipped, cancelled, or open: every other status (awaiting_*, on_hold, ...) is unfinished."""
    status = order.get("orderStatus")
    if status == "shipped":
        return "shipped"
    if status == "cancelled":
        return "cancelled"
    return "open"


def is_ours(record: Mapping[str, Any]) -> bool:
    """Whether an order or shipment came from this project: an account holds other stores' too."""
    key = record.get("orderKey")
    return isinstance(key, str) and key.startswith(KEY_PREFIX)


def label_shipment(record: Mapping[str, Any]) -> Shipment:
    """A v1 shipment (a label bought in ShipStation), with its carrier's tracking page."""
    tracking = text(record.get("trackingNumber"))
    name, tracking_url = carrier(text(record.get("carrierCode")), tracking)
    return Shipment(
        key=record["orderKey"],
        carrier=name,
        tracking_number=tracking,
        tracking_url=tracking_url,
        shipped_at=parse_time(record.get("shipDate")),
        items=shipped_items(record.get("shipmentItems")),
        source_id=f"shipment-{record['shipmentId']}",
        voided=bool(record.get("voided")),
    )


def marked_shipment(order: Mapping[str, Any]) -> Shipment:
    """An order marked shipped without a label: no tracking, and every item of the order."""
    return Shipment(
        key=order["orderKey"],
        carrier=None,
        tracking_number=None,
        tracking_url=None,
        shipped_at=parse_time(order.get("shipDate")),
        items=shipped_items(order.get("items")),
        source_id=f"order-{order['orderId']}-shipped",
    )


def shipped_items(items: list[Mapping[str, Any]] | None) -> tuple[ShippedItem, ...]:
    """The lines a shipment carries; lines of quantity 0 ship nothing and are left out."""
    shipped = []
    for item in items or []:
        quantity = int(item.get("quantity") or 0)
        if quantity > 0:
            shipped.append(
                ShippedItem(
                    line_item_key=text(item.get("lineItemKey")),
                    sku=text(item.get("sku")),
                    quantity=quantity,
                )
            )
    return tuple(shipped)


def carrier(code: str | None, tracking: str | None) -> tuple[str | None, str | None]:
    """The carrier's name and tracking page for common carriers, else the code and None."""
    known = CARRIERS.get((code or "").lower())
    if known is None:
        return code, None
    name, page = known
    return name, page.format(quote(tracking, safe="")) if tracking else None


def pacific(moment: dt.datetime) -> str:
    """A time as ShipStation reads it: Pacific wall-clock time without an offset."""
    return as_utc(moment).astimezone(PACIFIC).replace(tzinfo=None).isoformat(timespec="seconds")


def parse_time(value: Any) -> dt.datetime | None:
    """A ShipStation timestamp or date (Pacific, no offset) in UTC; None when unreadable.

    An unreadable time is logged, not raised: it should not cost the shipment it belongs to.
    """
    if not value:
        return None
    try:
        return timestamps.parse(str(value), naive_zone=PACIFIC)
    except ValueError:
        logger.warning("Ignoring an unreadable ShipStation time: %r", value)
        return None


def text(value: Any) -> str | None:
    """A field as text, with ShipStation's empty string read as missing."""
    return str(value) if value not in (None, "") else None


def json_bytes(value: Any) -> bytes:
    """A request body: :func:`json_text` in UTF-8."""
    return json_text(value).encode("utf-8")


def json_text(value: Any) -> str:
    """JSON in which a Decimal is the exact number it holds; ``json`` would need a float."""
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if isinstance(value, Mapping):
        members = (f"{json.dumps(str(name))}:{json_text(item)}" for name, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return json.dumps(value)
