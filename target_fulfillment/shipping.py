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

    ``mapping`` is the ``shipping_codes`` setting, checked at start by the settings schema.
    Raises ShippingNotConfiguredError when neither the country nor the code has an entry.
    """
    country = _country(destination_country, "destination")
    entry = mapping.get(country, mapping.get(code))
    if entry is None:
        raise ShippingNotConfiguredError(
            f"the {SETTING} setting has no entry for {code} or for destination country {country}"
        )
    return CarrierService(entry["carrier_code"], entry["service_code"])
