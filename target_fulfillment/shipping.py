"""Choose the warehouse shipping service for a Big Cartel order.

Big Cartel orders carry no shipping method, so (following eFulfillment's Big Cartel module) an
order shipping to the shop's own country gets the code DOMESTIC_DEFAULT and any other order
INTERNATIONAL_DEFAULT. The ``shipping_codes`` setting maps each code, or a destination country,
to a carrier and service.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_fulfillment.domain import WEIGHT_UNITS, ItemCustoms, Weight

DOMESTIC_DEFAULT = "DOMESTIC_DEFAULT"
INTERNATIONAL_DEFAULT = "INTERNATIONAL_DEFAULT"
SETTING = "shipping_codes"

_COUNTRY_CODE = re.compile("[A-Z]{2}")
_SERVICE_FIELDS = ("carrier_code", "service_code")
ATTRIBUTES_SETTING = "product_attributes"
#: What customs needs of every item of an international order, in the words of the setting.
CUSTOMS_ATTRIBUTES = ("description", "hs_code", "country_of_origin")
#: V2 declares at most 100 characters of a product's description (notes A3).
MAX_CUSTOMS_DESCRIPTION = 100
#: A Harmonized System code: 6 to 10 digits, dots allowed between them (6109.10, 6109100010).
_HS_CODE = re.compile(r"[0-9](?:\.?[0-9]){5,9}")
#: The contents and non-delivery choices both ShipStation APIs take (notes A3, B5): V2's "other"
#: is not in V1's list, so it is not offered.
CUSTOMS_CONTENTS = ("merchandise", "documents", "gift", "returned_goods", "sample")
CUSTOMS_NON_DELIVERY = ("return_to_sender", "treat_as_abandoned")


class CountryError(ValueError):
    """A country needed to choose the shipping code is missing or malformed; hold the order."""


class ShippingNotConfiguredError(ValueError):
    """``shipping_codes`` has no entry for an order's code or destination; hold the order."""


@dataclass(frozen=True)
class CarrierService:
    """The carrier and service the warehouse ships an order with."""

    carrier_code: str
    service_code: str


def _country(value: str | None, what: str) -> str:
    """The upper-case 2-letter code; anything else raises rather than guessing domestic or not."""
    code = (value or "").strip()
    if not code:
        raise CountryError(f"the {what} country is unknown")
    # isascii before upper(): "ß".upper() is "SS".
    if not (code.isascii() and _COUNTRY_CODE.fullmatch(code.upper())):
        raise CountryError(f"the {what} country {value!r} is not a 2-letter country code")
    return code.upper()


def shipping_code(destination_country: str | None, shop_country: str | None) -> str:
    """DOMESTIC_DEFAULT when the order ships to the shop's own country, else INTERNATIONAL_DEFAULT.

    Raises CountryError naming the country that is unknown or not a 2-letter code.
    """
    destination = _country(destination_country, "destination")
    shop = _country(shop_country, "shop")
    return DOMESTIC_DEFAULT if destination == shop else INTERNATIONAL_DEFAULT


def carrier_service(
    code: str, destination_country: str, mapping: Mapping[str, Mapping[str, str]]
) -> CarrierService:
    """The service for a shipping code; an entry for the destination country wins over the code's.

    ``mapping`` is the ``shipping_codes`` setting, already checked by validate_shipping_codes.
    Raises ShippingNotConfiguredError when neither the country nor the code has an entry.
    """
    country = _country(destination_country, "destination")
    entry = mapping.get(country, mapping.get(code))
    if entry is None:
        raise ShippingNotConfiguredError(
            f"the {SETTING} setting has no entry for {code} or for destination country {country}"
        )
    return CarrierService(entry["carrier_code"], entry["service_code"])


def validate_shipping_codes(mapping: object) -> None:
    """Check the ``shipping_codes`` setting at start-up, so mistakes surface before any order.

    Keys are DOMESTIC_DEFAULT, INTERNATIONAL_DEFAULT or an upper-case 2-letter country code;
    each value holds exactly a non-empty carrier_code and service_code. Neither default is
    required: a shop that only ships at home need not configure INTERNATIONAL_DEFAULT, and an
    order needing a missing entry is held by carrier_service. Raises ValueError naming the key.
    """
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(f"the {SETTING} setting must be a non-empty object")
    for key, value in mapping.items():
        if key not in (DOMESTIC_DEFAULT, INTERNATIONAL_DEFAULT) and not (
            isinstance(key, str) and _COUNTRY_CODE.fullmatch(key)
        ):
            raise ValueError(
                f"{SETTING} key {key!r} must be {DOMESTIC_DEFAULT}, {INTERNATIONAL_DEFAULT}"
                " or an upper-case 2-letter country code"
            )
        if not isinstance(value, Mapping) or set(value) != set(_SERVICE_FIELDS):
            raise ValueError(
                f"{SETTING} entry {key!r} must be an object with exactly carrier_code and"
                " service_code"
            )
        for field in _SERVICE_FIELDS:
            text = value[field]
            if not isinstance(text, str) or not text or text != text.strip():
                raise ValueError(
                    f"{SETTING} entry {key!r} {field} must be a non-empty string"
                    " without surrounding spaces"
                )


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
