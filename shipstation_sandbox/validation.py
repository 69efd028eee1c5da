"""Check a ``createorder`` body and reduce it to the order fields the sandbox models.

ShipStation's v1 API is an ASP.NET service whose JSON reader (Json.NET) converts numeric
strings to numbers and numbers to strings, so the checks below accept both; they reject what
that reader could not convert. Errors come back in ASP.NET's ``ModelState`` shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from shipstation_sandbox.timestamps import parse_timestamp

# The V1 docs (createorders, GET /orders) name these open statuses, the only ones an upsert may
# change, and list rejected_fulfillment among the statuses. Not settled by the docs: whether a
# rejected_fulfillment order can be updated; it is not in the documented open list, so it is locked.
OPEN_STATUSES = frozenset(
    {"awaiting_payment", "awaiting_shipment", "pending_fulfillment", "on_hold"}
)
ORDER_STATUSES = OPEN_STATUSES | {"shipped", "cancelled", "rejected_fulfillment"}

ADDRESS_TEXT_FIELDS = (
    "name",
    "company",
    "street1",
    "street2",
    "city",
    "state",
    "postalCode",
    "country",
    "phone",
)


class ValidationError(ValueError):
    """A request ShipStation would refuse with 400; ``model_state`` maps fields to messages."""

    def __init__(self, model_state: Mapping[str, list[str]]) -> None:
        super().__init__("The request is invalid.")
        self.model_state = dict(model_state)


# Not settled by the docs: how strictly field types are read. The checks follow Json.NET's
# conversions (numeric strings to numbers, numbers to strings, no booleans from strings), so a
# body ShipStation would accept is not refused here.
class _Checker:
    """Collects every problem in a payload so one answer lists them all, as ShipStation does."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def text(self, value: Any, field: str) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.fail(field, f"Could not convert the value of {field} to a string.")
        return None

    def number(self, value: Any, field: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                converted = float(value)
            except ValueError:
                converted = math.nan
            if math.isfinite(converted):
                return converted
        self.fail(field, f"Could not convert the value of {field} to a decimal.")
        return None

    def integer(self, value: Any, field: str) -> int | None:
        if value is None:
            return None
        converted = self.number(value, field)
        if converted is None:
            return None
        if not converted.is_integer():
            self.fail(field, f"Could not convert the value of {field} to an integer.")
            return None
        return int(converted)

    def boolean(self, value: Any, field: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.fail(field, f"Could not convert the value of {field} to a boolean.")
        return None

    def timestamp(self, value: Any, field: str) -> str | None:
        text = self.text(value, field)
        if text is None:
            return None
        try:
            parse_timestamp(text)
        except ValueError:
            self.fail(field, f"Could not convert the value of {field} to a date.")
            return None
        # Not settled by the docs: whether ShipStation echoes dates reformatted; they are kept
        # as sent so a client can compare what it stored with what it submitted.
        return text

    def mapping(self, value: Any, field: str) -> Mapping[str, Any] | None:
        if value is None or isinstance(value, Mapping):
            return value
        self.fail(field, f"{field} must be an object.")
        return None

    def sequence(self, value: Any, field: str) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.fail(field, f"{field} must be an array.")
        return []

    def required(self, payload: Mapping[str, Any], field: str) -> Any:
        value = payload.get(field)
        if value is None or value == "":
            self.fail(field, f"The {field} field is required.")
            return None
        return value


def normalize_order(payload: Any) -> dict[str, Any]:
    """Return the modelled order fields of a ``createorder`` body, or raise ``ValidationError``.

    Fields the sandbox does not model are dropped, as ShipStation's reader drops unknown names.
    """
    # Not settled by the docs: the full list of order fields. Only the fields in the project's
    # API notes are modelled (B5 adds customerNotes, internalNotes, gift, giftMessage,
    # customsCountryCode, internationalOptions and weights); other ShipStation order fields
    # (taxAmount, ...) are dropped rather than echoed, so a client cannot come to rely on them.
    if not isinstance(payload, Mapping):
        raise ValidationError({"request": ["The request body must be a JSON object."]})
    check = _Checker()
    order_number = check.text(check.required(payload, "orderNumber"), "orderNumber")
    order_date = check.timestamp(check.required(payload, "orderDate"), "orderDate")
    status = check.text(check.required(payload, "orderStatus"), "orderStatus")
    if status is not None and status not in ORDER_STATUSES:
        check.fail("orderStatus", f"'{status}' is not a valid order status.")
    bill_to = _address(check, check.required(payload, "billTo"), "billTo")
    ship_to = _address(check, check.required(payload, "shipTo"), "shipTo")
    advanced = check.mapping(payload.get("advancedOptions"), "advancedOptions") or {}
    normalized = {
        "orderNumber": order_number,
        "orderKey": check.text(payload.get("orderKey"), "orderKey") or None,
        "orderDate": order_date,
        "paymentDate": check.timestamp(payload.get("paymentDate"), "paymentDate"),
        "orderStatus": status,
        "customerEmail": check.text(payload.get("customerEmail"), "customerEmail"),
        "billTo": bill_to,
        "shipTo": ship_to,
        "items": [
            _item(check, item, f"items[{index}]")
            for index, item in enumerate(check.sequence(payload.get("items"), "items"))
        ],
        "amountPaid": check.number(payload.get("amountPaid"), "amountPaid"),
        "shippingAmount": check.number(payload.get("shippingAmount"), "shippingAmount"),
        "requestedShippingService": check.text(
            payload.get("requestedShippingService"), "requestedShippingService"
        ),
        "carrierCode": check.text(payload.get("carrierCode"), "carrierCode"),
        "serviceCode": check.text(payload.get("serviceCode"), "serviceCode"),
        "advancedOptions": {
            "storeId": check.integer(advanced.get("storeId"), "advancedOptions.storeId"),
        },
        "customerNotes": check.text(payload.get("customerNotes"), "customerNotes"),
        "internalNotes": check.text(payload.get("internalNotes"), "internalNotes"),
        "gift": check.boolean(payload.get("gift"), "gift"),
        "giftMessage": check.text(payload.get("giftMessage"), "giftMessage"),
        "customsCountryCode": check.text(payload.get("customsCountryCode"), "customsCountryCode"),
        "weight": _weight(check, payload.get("weight"), "weight"),
        "internationalOptions": _international(
            check, payload.get("internationalOptions"), "internationalOptions"
        ),
    }
    if check.errors:
        raise ValidationError(check.errors)
    return normalized


#: Notes B5: weight units ("pounds|ounces|grams"), customs contents and non-delivery choices.
WEIGHT_UNITS = ("pounds", "ounces", "grams")
CUSTOMS_CONTENTS = ("merchandise", "documents", "gift", "returned_goods", "sample")
NON_DELIVERY = ("return_to_sender", "treat_as_abandoned")


def _weight(check: _Checker, value: Any, field: str) -> dict[str, Any] | None:
    weight = check.mapping(value, field)
    if weight is None:
        return None
    units = check.text(weight.get("units"), f"{field}.units")
    if units is not None and units not in WEIGHT_UNITS:
        check.fail(f"{field}.units", f"'{units}' is not one of {', '.join(WEIGHT_UNITS)}.")
    return {"value": check.number(weight.get("value"), f"{field}.value"), "units": units}


def _international(check: _Checker, value: Any, field: str) -> dict[str, Any] | None:
    options = check.mapping(value, field)
    if options is None:
        return None
    contents = check.text(options.get("contents"), f"{field}.contents")
    if contents is not None and contents not in CUSTOMS_CONTENTS:
        check.fail(f"{field}.contents", f"'{contents}' is not a valid contents value.")
    non_delivery = check.text(options.get("nonDelivery"), f"{field}.nonDelivery")
    if non_delivery is not None and non_delivery not in NON_DELIVERY:
        check.fail(f"{field}.nonDelivery", f"'{non_delivery}' is not a valid nonDelivery value.")
    items = []
    for index, entry in enumerate(
        check.sequence(options.get("customsItems"), f"{field}.customsItems")
    ):
        where = f"{field}.customsItems[{index}]"
        item = check.mapping(entry, where) or {}
        # Not settled by the docs: which customs item fields are required; none is refused.
        items.append(
            {
                "description": check.text(item.get("description"), f"{where}.description"),
                "quantity": check.integer(item.get("quantity"), f"{where}.quantity"),
                "value": check.number(item.get("value"), f"{where}.value"),
                "harmonizedTariffCode": check.text(
                    item.get("harmonizedTariffCode"), f"{where}.harmonizedTariffCode"
                ),
                "countryOfOrigin": check.text(
                    item.get("countryOfOrigin"), f"{where}.countryOfOrigin"
                ),
            }
        )
    return {"contents": contents, "nonDelivery": non_delivery, "customsItems": items}


def _address(check: _Checker, value: Any, field: str) -> dict[str, Any] | None:
    address = check.mapping(value, field)
    if address is None:
        return None
    normalized: dict[str, Any] = {
        name: check.text(address.get(name), f"{field}.{name}") for name in ADDRESS_TEXT_FIELDS
    }
    normalized["residential"] = check.boolean(address.get("residential"), f"{field}.residential")
    return normalized


def _item(check: _Checker, value: Any, field: str) -> dict[str, Any]:
    item = check.mapping(value, field) or {}
    options = []
    for index, option in enumerate(check.sequence(item.get("options"), f"{field}.options")):
        pair = check.mapping(option, f"{field}.options[{index}]") or {}
        options.append(
            {
                "name": check.text(pair.get("name"), f"{field}.options[{index}].name"),
                "value": check.text(pair.get("value"), f"{field}.options[{index}].value"),
            }
        )
    return {
        "lineItemKey": check.text(item.get("lineItemKey"), f"{field}.lineItemKey"),
        "sku": check.text(item.get("sku"), f"{field}.sku"),
        "name": check.text(item.get("name"), f"{field}.name"),
        "quantity": check.integer(item.get("quantity"), f"{field}.quantity"),
        "unitPrice": check.number(item.get("unitPrice"), f"{field}.unitPrice"),
        "weight": _weight(check, item.get("weight"), f"{field}.weight"),
        "options": options,
    }


def normalize_mark_as_shipped(payload: Any) -> dict[str, Any]:
    """Return the fields of a ``/orders/markasshipped`` body, or raise ``ValidationError``.

    ``shipDate`` comes back as an ISO date, the form ShipStation uses for ship dates.
    """
    if not isinstance(payload, Mapping):
        raise ValidationError({"request": ["The request body must be a JSON object."]})
    check = _Checker()
    order_id = check.integer(check.required(payload, "orderId"), "orderId")
    ship_date = check.timestamp(payload.get("shipDate"), "shipDate")
    normalized = {
        "orderId": order_id,
        "carrierCode": check.text(check.required(payload, "carrierCode"), "carrierCode"),
        "shipDate": parse_timestamp(ship_date).date().isoformat() if ship_date else None,
        "trackingNumber": check.text(payload.get("trackingNumber"), "trackingNumber"),
        "notifyCustomer": check.boolean(payload.get("notifyCustomer"), "notifyCustomer"),
        "notifySalesChannel": check.boolean(
            payload.get("notifySalesChannel"), "notifySalesChannel"
        ),
    }
    if check.errors:
        raise ValidationError(check.errors)
    return normalized


def normalize_void_label(payload: Any) -> int:
    """Return the shipmentId of a ``/shipments/voidlabel`` body, or raise ``ValidationError``."""
    if not isinstance(payload, Mapping):
        raise ValidationError({"request": ["The request body must be a JSON object."]})
    check = _Checker()
    shipment_id = check.integer(check.required(payload, "shipmentId"), "shipmentId")
    if check.errors or shipment_id is None:
        raise ValidationError(check.errors)
    return shipment_id
