"""Checks of the target's settings, run at start-up so a mistake stops the run before any order.

Each message names the setting. Values are not echoed where they may hold a secret (database
URLs carry passwords).
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

import sqlalchemy as sa

from bigcartel_core.settings import (
    account_id_error,
    database_url_error,
    http_url_error,
    unknown_settings,
)
from target_fulfillment.attributes import product_attributes, weight
from target_fulfillment.shipping import validate_shipping_codes

#: Settings of earlier versions, with what to do instead.
RETIRED = {
    "reconcile_after_seconds": "workers hold leases now, so an interrupted submit is settled as "
    "soon as its worker is gone; remove it (README: Several workers on one ledger)",
}
_FLATTENING = (
    "the target reads each order whole (its items, addresses and country) and takes no "
    "flattened records; remove it, and flatten in the warehouse loader instead"
)
#: The SDK's schema-flattening settings: this target does not declare the capability.
UNSUPPORTED = {
    name: _FLATTENING
    for name in (
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
    )
}
_COUNTRY = re.compile("[A-Za-z]{2}")
#: What the shipstation_v2 backend cannot start without.
_SHIPSTATION_V2_REQUIRED = (
    "shipstation_v2_api_key",
    "shipstation_v2_warehouse_id",
)
_LEDGER_DIALECTS = ("sqlite", "postgresql")


def config_errors(config: Mapping[str, t.Any], schema: Mapping[str, t.Any]) -> list[str]:
    """Every problem of ``config`` that JSON Schema lets through, one message each."""
    errors = unknown_settings(config, schema, RETIRED, UNSUPPORTED)
    try:
        validate_shipping_codes(config.get("shipping_codes"))
    except ValueError as error:
        errors.append(str(error))
    try:
        product_attributes(config.get("product_attributes"))
    except ValueError as error:
        errors += str(error).split("; ")
    errors += _database_url(config, "ledger_url")
    webhook_db = database_url_error("webhook_db_url", config.get("webhook_db_url"))
    errors += [webhook_db] if webhook_db else []
    for name, example in (
        ("api_url", "https://api.bigcartel.com"),
        ("shipstation_api_url", "https://ssapi.shipstation.com"),
        ("shipstation_v2_api_url", "https://api.shipstation.com"),
    ):
        url_error = http_url_error(name, config.get(name), example)
        errors += [url_error] if url_error else []
    account_ids = [("account_id", config.get("account_id"))] + [
        (f"accounts[{index}].account_id", entry.get("account_id"))
        for index, entry in enumerate(config.get("accounts") or [])
        if isinstance(entry, Mapping)
    ]
    errors += [e for e in (account_id_error(name, value) for name, value in account_ids) if e]
    errors += _at_least(config, "max_concurrency", 1)
    errors += _at_least(config, "shipstation_rate_limit_max_wait", 0)
    errors += _at_least(config, "shipstation_store_id", 1)
    request_timeout = config.get("request_timeout")
    if request_timeout is not None and not request_timeout > 0:
        errors.append(f"request_timeout: {request_timeout} must be more than 0 seconds")
    if config.get("backend") == "shipstation_v2":
        errors += _shipstation_v2(config)
    country = config.get("origin_country")
    if country is not None and not (isinstance(country, str) and _COUNTRY.fullmatch(country)):
        errors.append(f"origin_country: {country!r} is not a 2-letter ISO 3166 country code")
    return errors


def _shipstation_v2(config: Mapping[str, t.Any]) -> list[str]:
    """The V2 settings JSON Schema cannot require, as they are needed by one backend only.

    The package weight is checked as the backend reads it (``attributes.weight``). It is
    optional: without it an order whose items are not all weighed is held.
    """
    errors = [
        f"{name}: required for the shipstation_v2 backend"
        for name in _SHIPSTATION_V2_REQUIRED
        if config.get(name) in (None, "")
    ]
    if config.get("default_package_weight") is not None:
        try:
            weight(config["default_package_weight"], "default_package_weight")
        except ValueError as error:
            errors.append(str(error))
    return errors


def _database_url(config: Mapping[str, t.Any], name: str) -> list[str]:
    value = config.get(name)
    error = database_url_error(name, value)
    if error:
        return [error]
    if sa.make_url(str(value)).get_backend_name() not in _LEDGER_DIALECTS:
        return [f"{name}: the ledger's database must be one of {', '.join(_LEDGER_DIALECTS)}"]
    return []


def _at_least(config: Mapping[str, t.Any], name: str, minimum: float) -> list[str]:
    value = config.get(name)
    if value is not None and value < minimum:
        return [f"{name}: {value} must be at least {minimum}"]
    return []
