"""Choose the warehouse shipping service for a Big Cartel order.

Big Cartel orders carry no shipping method, so (following eFulfillment's Big Cartel module) an
order shipping to the shop's own country gets the code DOMESTIC_DEFAULT and any other order
INTERNATIONAL_DEFAULT. The ``shipping_codes`` setting maps each code, or a destination country,
to a carrier and service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DOMESTIC_DEFAULT = "DOMESTIC_DEFAULT"
INTERNATIONAL_DEFAULT = "INTERNATIONAL_DEFAULT"
SETTING = "shipping_codes"

_COUNTRY_CODE = re.compile("[A-Z]{2}")
_SERVICE_FIELDS = ("carrier_code", "service_code")


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
