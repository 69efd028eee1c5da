"""What the seller says of each SKU for the warehouse: weights and customs attributes.

The ``product_attributes`` setting, checked whole at start, and the pure values the rules read.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_fulfillment.domain import WEIGHT_UNITS, ItemCustoms, Weight

ATTRIBUTES_SETTING = "product_attributes"
#: What customs needs of every item of an international order, in the words of the setting.
CUSTOMS_ATTRIBUTES = ("description", "hs_code", "country_of_origin")
#: V2 declares at most 100 characters of a product's description (notes A3).
MAX_CUSTOMS_DESCRIPTION = 100
#: A Harmonized System code: 6 to 10 digits, dots allowed between them (6109.10, 6109100010).
_COUNTRY_CODE = re.compile("[A-Z]{2}")
_HS_CODE = re.compile(r"[0-9](?:\.?[0-9]){5,9}")
#: The contents and non-delivery choices both ShipStation APIs take (notes A3, B5): V2's "other"
#: is not in V1's list, so it is not offered.
CUSTOMS_CONTENTS = ("merchandise", "documents", "gift", "returned_goods", "sample")
CUSTOMS_NON_DELIVERY = ("return_to_sender", "treat_as_abandoned")


@dataclass(frozen=True)
class ProductAttributes:
    """What ``product_attributes`` says of one SKU; every part is optional."""

    weight: Weight | None = None
    description: str | None = None
    hs_code: str | None = None
    country_of_origin: str | None = None

    def customs(self) -> ItemCustoms | None:
        if self.description and self.hs_code and self.country_of_origin:
            return ItemCustoms(self.description, self.hs_code, self.country_of_origin)
        return None

    def missing_for_customs(self) -> list[str]:
        return [name for name in CUSTOMS_ATTRIBUTES if not getattr(self, name)]


def weight(value: object, where: str) -> Weight:
    """A ``{"value": <more than 0>, "unit": "ounce|pound|gram|kilogram"}``; ValueError naming
    ``where`` otherwise."""
    units = "|".join(WEIGHT_UNITS)
    expected = f'{where} must be {{"value": <more than 0>, "unit": "{units}"}}'
    if not isinstance(value, Mapping) or value.get("unit") not in WEIGHT_UNITS:
        raise ValueError(expected)
    amount = value.get("value")
    if isinstance(amount, bool) or not isinstance(amount, int | float | decimal.Decimal | str):
        raise ValueError(expected)
    try:
        number = decimal.Decimal(str(amount))
    except decimal.InvalidOperation:
        raise ValueError(expected) from None
    if not number.is_finite() or number <= 0:
        raise ValueError(expected)
    return Weight(number, str(value["unit"]))


def product_attributes(value: object) -> dict[str, ProductAttributes]:
    """The ``product_attributes`` setting, ``{"<SKU>": {weight, description, hs_code,
    country_of_origin}}``, read; ValueError with every problem, each naming SKU and attribute."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{ATTRIBUTES_SETTING} must be an object keyed by SKU")
    found, problems = {}, []
    for sku, entry in value.items():
        where = f"{ATTRIBUTES_SETTING}[{json.dumps(sku)}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be an object")
            continue
        parsed, entry_problems = _attributes(entry, where)
        problems += entry_problems
        found[str(sku)] = parsed
    if problems:
        raise ValueError("; ".join(problems))
    return found


def _attributes(entry: Mapping[str, Any], where: str) -> tuple[ProductAttributes, list[str]]:
    problems = [
        f"{where}: unknown attribute {name} (known: weight, {', '.join(CUSTOMS_ATTRIBUTES)})"
        for name in entry
        if name not in ("weight", *CUSTOMS_ATTRIBUTES)
    ]
    parsed: dict[str, Any] = {}
    if entry.get("weight") is not None:
        try:
            parsed["weight"] = weight(entry["weight"], f"{where}.weight")
        except ValueError as error:
            problems.append(str(error))
    for name in CUSTOMS_ATTRIBUTES:
        text = entry.get(name)
        if text is None:
            continue
        if not isinstance(text, str) or not text.strip() or text != text.strip():
            problems.append(f"{where}.{name} must be non-empty text without surrounding spaces")
            continue
        problem = _attribute_problem(name, text)
        if problem:
            problems.append(f"{where}.{name} {problem}")
        else:
            parsed[name] = text.upper() if name == "country_of_origin" else text
    return ProductAttributes(**parsed), problems


def _attribute_problem(name: str, text: str) -> str | None:
    if name == "description" and len(text) > MAX_CUSTOMS_DESCRIPTION:
        return f"is longer than the {MAX_CUSTOMS_DESCRIPTION} characters ShipStation declares"
    if name == "description" and not text.isprintable():
        return "holds a control character"
    if name == "hs_code" and not _HS_CODE.fullmatch(text):
        return "is not a Harmonized System code (6 to 10 digits, dots allowed: 6109.10)"
    if name == "country_of_origin" and not (text.isascii() and _COUNTRY_CODE.fullmatch(text)):
        return "is not an upper-case 2-letter ISO 3166 country code"
    return None
