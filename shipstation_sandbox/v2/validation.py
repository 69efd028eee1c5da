"""Check one shipment of ``POST /v2/shipments`` (or the body of an update) against notes A3.

The checks return problems instead of raising, because a batch answers each shipment on its own.
Only what the notes document is checked; every other field is kept as sent.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from shipstation_sandbox.v2.errors import error_entry

WEIGHT_UNITS = ("pound", "ounce", "gram", "kilogram")
RESIDENTIAL_INDICATORS = ("yes", "no", "unknown")
SHIPMENT_STATUSES = ("pending", "processing", "label_purchased", "cancelled")
# Not settled by the docs: which shipment_status values a create may set. The notes list the
# field as optional; a new shipment cannot already have a label or be cancelled, so only the two
# states before a label are taken.
CREATE_STATUSES = ("pending", "processing")
CUSTOMS_CONTENTS = ("merchandise", "documents", "gift", "returned_goods", "sample", "other")
CUSTOMS_NON_DELIVERY = ("return_to_sender", "treat_as_abandoned")
INSURANCE_PROVIDERS = ("none", "shipsurance", "carrier")
VALIDATE_ADDRESS = ("no_validation", "validate_only", "validate_and_clean")
MONEY_FIELDS = ("amount_paid", "shipping_paid", "tax_paid")
TEXT_FIELDS = (
    "carrier_id",
    "service_code",
    "warehouse_id",
    "store_id",
    "ship_date",
    "notes_from_buyer",
    "notes_to_buyer",
    "notes_for_gift",
    "internal_notes",
    "assigned_user",
)

ADDRESS_REQUIRED = (
    "name",
    "phone",
    "address_line1",
    "city_locality",
    "state_province",
    "postal_code",
    "country_code",
    "address_residential_indicator",
)
# Not settled by the docs: whether the required address fields may be empty strings. The key
# must be there (notes A3), but phone, state_province and postal_code may be "" since many
# addresses (and countries) have none; the others must have text.
ADDRESS_MAY_BE_EMPTY = ("phone", "state_province", "postal_code")

MAX_EXTERNAL_SHIPMENT_ID = 50
MAX_SHIPMENT_NUMBER = 50
MAX_PRODUCT_DESCRIPTION = 100


@dataclass(frozen=True)
class Problem:
    """One reason a shipment is refused: the V2 ``error_code``, the field and a message."""

    error_code: str
    field_name: str
    message: str

    def entry(self) -> dict[str, Any]:
        """This problem as a member of a V2 error body's ``errors[]``."""
        return error_entry(self.message, "validation", self.error_code, self.field_name)


class _Checks:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def missing(self, field: str) -> None:
        self.problems.append(Problem("field_value_required", field, f"{field} is required."))

    def invalid(self, field: str, message: str) -> None:
        self.problems.append(Problem("invalid_field_value", field, message))

    def one_of(self, value: Any, field: str, allowed: tuple[str, ...]) -> None:
        if value is not None and value not in allowed:
            self.invalid(field, f"{field} must be one of {', '.join(allowed)}.")

    def text(self, value: Any, field: str) -> None:
        if value is not None and not isinstance(value, str):
            self.invalid(field, f"{field} must be a string.")

    def number(self, value: Any, field: str, *, minimum: float | None = None) -> bool:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.invalid(field, f"{field} must be a number.")
            return False
        if minimum is not None and value < minimum:
            self.invalid(field, f"{field} must be at least {minimum:g}.")
            return False
        return True

    def obj(self, value: Any, field: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.invalid(field, f"{field} must be an object.")
            return None
        return value

    def array(self, value: Any, field: str) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            self.invalid(field, f"{field} must be an array.")
            return None
        return value

    def address(self, value: Any, field: str) -> None:
        if value is None:
            self.missing(field)
            return
        address = self.obj(value, field)
        if address is None:
            return
        for name in ADDRESS_REQUIRED:
            path = f"{field}.{name}"
            part = address.get(name)
            if part is None or (part == "" and name not in ADDRESS_MAY_BE_EMPTY):
                self.missing(path)
            elif not isinstance(part, str):
                self.invalid(path, f"{path} must be a string.")
        country = address.get("country_code")
        if (
            isinstance(country, str)
            and country
            and not (len(country) == 2 and country.isascii() and country.isalpha())
        ):
            self.invalid(
                f"{field}.country_code", f"{field}.country_code must be ISO 3166-1 alpha-2."
            )
        self.one_of(
            address.get("address_residential_indicator"),
            f"{field}.address_residential_indicator",
            RESIDENTIAL_INDICATORS,
        )

    def weight(self, value: Any, field: str, *, required: bool) -> None:
        if value is None:
            if required:
                self.missing(field)
            return
        weight = self.obj(value, field)
        if weight is None:
            return
        if weight.get("value") is None:
            self.missing(f"{field}.value")
        else:
            # Not settled by the docs: the smallest weight; negative weights are refused, zero
            # is taken (a product without a weight is common in shop data).
            self.number(weight["value"], f"{field}.value", minimum=0)
        if weight.get("unit") is None:
            self.missing(f"{field}.unit")
        else:
            self.one_of(weight["unit"], f"{field}.unit", WEIGHT_UNITS)

    def money(self, value: Any, field: str) -> None:
        money = self.obj(value, field)
        if money is None:
            return
        self.text(money.get("currency"), f"{field}.currency")
        if money.get("amount") is not None:
            self.number(money["amount"], f"{field}.amount")


def check_shipment(
    payload: Any, *, for_update: bool = False
) -> tuple[dict[str, Any], list[Problem]]:
    """A copy of the shipment as it will be kept (external id truncated), and its problems."""
    checks = _Checks()
    if not isinstance(payload, dict):
        checks.invalid("shipment", "A shipment must be a JSON object.")
        return {}, checks.problems
    fields = copy.deepcopy(payload)

    checks.address(fields.get("ship_to"), "ship_to")
    # The spec says warehouse_id or ship_from, the MCP tool says one of them and not both.
    has_warehouse = fields.get("warehouse_id") not in (None, "")
    has_ship_from = fields.get("ship_from") is not None
    if has_warehouse and has_ship_from:
        checks.problems.append(
            Problem("field_conflict", "ship_from", "Send warehouse_id or ship_from, not both.")
        )
    elif not has_warehouse and not has_ship_from:
        checks.problems.append(
            Problem("field_value_required", "ship_from", "warehouse_id or ship_from is required.")
        )
    elif has_ship_from:
        # Not settled by the docs: the required fields of ship_from; those of ship_to are used.
        checks.address(fields["ship_from"], "ship_from")

    raw_packages = fields.get("packages")
    packages = checks.array(raw_packages, "packages")
    if raw_packages is None or packages == []:
        checks.problems.append(
            Problem("field_value_required", "packages", "At least one package is required.")
        )
    elif packages is not None:
        for index, package in enumerate(packages):
            path = f"packages[{index}]"
            if checks.obj(package, path) is None:
                if package is None:
                    checks.missing(path)
                continue
            checks.weight(package.get("weight"), f"{path}.weight", required=True)
            checks.text(package.get("external_package_id"), f"{path}.external_package_id")
            for product_index, product in enumerate(
                checks.array(package.get("products"), f"{path}.products") or []
            ):
                product_path = f"{path}.products[{product_index}]"
                if checks.obj(product, product_path) is None:
                    continue
                description = product.get("description")
                checks.text(description, f"{product_path}.description")
                if isinstance(description, str) and len(description) > MAX_PRODUCT_DESCRIPTION:
                    checks.problems.append(
                        Problem(
                            "invalid_string_length",
                            f"{product_path}.description",
                            f"{product_path}.description is longer than "
                            f"{MAX_PRODUCT_DESCRIPTION} characters.",
                        )
                    )
                checks.weight(product.get("weight"), f"{product_path}.weight", required=False)

    external_id = fields.get("external_shipment_id")
    if external_id is not None:
        # Not settled by the docs: an empty external_shipment_id. It is refused rather than
        # read as "left out" (which would give the shipment its shipment_id as the key).
        if not isinstance(external_id, str) or external_id == "":
            checks.invalid(
                "external_shipment_id", "external_shipment_id must be a non-empty string."
            )
        elif len(external_id) > MAX_EXTERNAL_SHIPMENT_ID:
            # The docs: longer values are truncated (not refused).
            fields["external_shipment_id"] = external_id[:MAX_EXTERNAL_SHIPMENT_ID]

    shipment_number = fields.get("shipment_number")
    checks.text(shipment_number, "shipment_number")
    if isinstance(shipment_number, str) and len(shipment_number) > MAX_SHIPMENT_NUMBER:
        # Not settled by the docs: the spec gives shipment_number at most 50 characters but says
        # nothing of truncation (unlike external_shipment_id), so a longer one is refused.
        checks.problems.append(
            Problem(
                "invalid_string_length",
                "shipment_number",
                f"shipment_number is longer than {MAX_SHIPMENT_NUMBER} characters.",
            )
        )

    for index, item in enumerate(checks.array(fields.get("items"), "items") or []):
        path = f"items[{index}]"
        if checks.obj(item, path) is None:
            continue
        for name in ("sku", "name", "external_order_id", "external_order_item_id"):
            checks.text(item.get(name), f"{path}.{name}")
        quantity = item.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
        ):
            checks.invalid(f"{path}.quantity", f"{path}.quantity must be a whole number ≥ 0.")
        for name in ("unit_price", "tax_amount", "shipping_amount"):
            if item.get(name) is not None:
                checks.number(item[name], f"{path}.{name}")
        checks.weight(item.get("weight"), f"{path}.weight", required=False)

    customs = checks.obj(fields.get("customs"), "customs")
    if customs is not None:
        for name, allowed in (
            ("contents", CUSTOMS_CONTENTS),
            ("non_delivery", CUSTOMS_NON_DELIVERY),
        ):
            if customs.get(name) is None:
                checks.missing(f"customs.{name}")
            else:
                checks.one_of(customs[name], f"customs.{name}", allowed)

    checks.one_of(fields.get("insurance_provider"), "insurance_provider", INSURANCE_PROVIDERS)
    checks.one_of(fields.get("validate_address"), "validate_address", VALIDATE_ADDRESS)
    if not for_update:
        # An update cannot change shipment_status (notes A5), so there it is ignored, not checked.
        checks.one_of(fields.get("shipment_status"), "shipment_status", CREATE_STATUSES)
    for name in MONEY_FIELDS:
        checks.money(fields.get(name), name)
    for name in TEXT_FIELDS:
        checks.text(fields.get(name), name)
    if fields.get("is_gift") is not None and not isinstance(fields["is_gift"], bool):
        checks.invalid("is_gift", "is_gift must be true or false.")
    checks.obj(fields.get("advanced_options"), "advanced_options")
    return fields, checks.problems
