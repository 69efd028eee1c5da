"""Shipping rules from eFulfillment's Big Cartel module: domestic or international code."""

from __future__ import annotations

import pytest

from target_fulfillment.shipping import (
    CarrierService,
    CountryError,
    ShippingNotConfiguredError,
    carrier_service,
    shipping_code,
)

DOMESTIC = {"carrier_code": "usps", "service_code": "usps_priority_mail"}
INTERNATIONAL = {"carrier_code": "usps", "service_code": "usps_priority_mail_international"}
CANADA = {"carrier_code": "ups", "service_code": "ups_standard"}
US_OVERRIDE = {"carrier_code": "fedex", "service_code": "fedex_ground"}
MAPPING = {"DOMESTIC_DEFAULT": DOMESTIC, "INTERNATIONAL_DEFAULT": INTERNATIONAL, "CA": CANADA}


@pytest.mark.parametrize(
    ("destination", "shop", "expected"),
    [
        ("US", "US", "DOMESTIC_DEFAULT"),
        ("us", "US", "DOMESTIC_DEFAULT"),
        (" US\n", "us ", "DOMESTIC_DEFAULT"),
        ("GB", "GB", "DOMESTIC_DEFAULT"),
        ("CA", "US", "INTERNATIONAL_DEFAULT"),
        ("US", "CA", "INTERNATIONAL_DEFAULT"),
        ("gb", "US", "INTERNATIONAL_DEFAULT"),
    ],
)
def test_shipping_code(destination: str, shop: str, expected: str) -> None:
    assert shipping_code(destination, shop) == expected


@pytest.mark.parametrize(
    ("destination", "shop", "message"),
    [
        (None, "US", "the destination country is unknown"),
        ("", "US", "the destination country is unknown"),
        ("  ", "US", "the destination country is unknown"),
        ("US", None, "the shop country is unknown"),
        ("US", "", "the shop country is unknown"),
        (None, None, "the destination country is unknown"),
        ("USA", "US", "the destination country 'USA' is not a 2-letter country code"),
        ("US", "United States", "the shop country 'United States' is not a 2-letter"),
        ("U", "US", "the destination country 'U' is not a 2-letter"),
        ("U1", "US", "the destination country 'U1' is not a 2-letter"),
        ("ß", "SS", "the destination country 'ß' is not a 2-letter"),
    ],
)
def test_shipping_code_bad_country(destination: str | None, shop: str | None, message: str) -> None:
    with pytest.raises(CountryError, match=f"^{message}") as caught:
        shipping_code(destination, shop)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("code", "destination", "mapping", "expected"),
    [
        ("DOMESTIC_DEFAULT", "US", MAPPING, DOMESTIC),
        ("INTERNATIONAL_DEFAULT", "GB", MAPPING, INTERNATIONAL),
        # a per-country entry wins over the code's, compared case-insensitively
        ("INTERNATIONAL_DEFAULT", "CA", MAPPING, CANADA),
        ("INTERNATIONAL_DEFAULT", " ca ", MAPPING, CANADA),
        ("DOMESTIC_DEFAULT", "US", {**MAPPING, "US": US_OVERRIDE}, US_OVERRIDE),
        # a country entry alone is enough for that country
        ("INTERNATIONAL_DEFAULT", "CA", {"CA": CANADA}, CANADA),
    ],
)
def test_carrier_service(
    code: str, destination: str, mapping: dict[str, dict[str, str]], expected: dict[str, str]
) -> None:
    assert carrier_service(code, destination, mapping) == CarrierService(**expected)


@pytest.mark.parametrize(
    ("code", "destination", "mapping", "message"),
    [
        (
            "INTERNATIONAL_DEFAULT",
            "GB",
            {"DOMESTIC_DEFAULT": DOMESTIC, "CA": CANADA},
            "the shipping_codes setting has no entry for INTERNATIONAL_DEFAULT"
            " or for destination country GB",
        ),
        (
            "DOMESTIC_DEFAULT",
            "us",
            {"INTERNATIONAL_DEFAULT": INTERNATIONAL},
            "the shipping_codes setting has no entry for DOMESTIC_DEFAULT"
            " or for destination country US",
        ),
    ],
)
def test_carrier_service_not_configured(
    code: str, destination: str, mapping: dict[str, dict[str, str]], message: str
) -> None:
    with pytest.raises(ShippingNotConfiguredError, match=f"^{message}$") as caught:
        carrier_service(code, destination, mapping)
    assert isinstance(caught.value, ValueError)
