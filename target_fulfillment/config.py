"""The target's settings rules: those JSON Schema can say, and checks of the rest.

Rules JSON Schema can say are in the settings schema (``--about`` shows them) and the SDK checks
them before anything else: :data:`SHIPPING_CODES_SCHEMA` and, through :func:`with_rules`, the
credentials the ``shipstation_v2`` backend needs (an ``if``/``then``, not a ``oneOf``: the SDK's
message for a failed ``oneOf`` quotes the whole config, secrets included, while that of a failed
``required`` or ``minLength`` names the setting alone). :func:`config_errors` checks, at
start-up, what the schema cannot say, each message naming the setting: unknown and retired
settings (with what to do instead), database and http(s) URLs (parsed; a database URL is never
quoted, it carries a password), account ids, and what ``attributes`` reads (weights, customs).
"""

from __future__ import annotations

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
from target_fulfillment.shipping import DOMESTIC_DEFAULT, INTERNATIONAL_DEFAULT

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
#: What each ShipStation backend cannot start without.
BACKEND_REQUIRED = {
    "shipstation": ("shipstation_api_key", "shipstation_api_secret"),
    "shipstation_v2": ("shipstation_v2_api_key", "shipstation_v2_warehouse_id"),
}
_LEDGER_DIALECTS = ("sqlite", "postgresql")

#: A carrier or service code: not empty, no surrounding whitespace (a trailing newline included;
#: a pattern's ``$`` would let one through in Python).
_CODE = {"type": "string", "pattern": r"^(?![\s\S]*\s$)\S"}
#: The ``shipping_codes`` setting (target_fulfillment.shipping): not empty; keys
#: DOMESTIC_DEFAULT, INTERNATIONAL_DEFAULT or an upper-case 2-letter destination country; each
#: value exactly a carrier_code and a service_code. Neither default is required: an order that
#: needs a missing entry is held.
SHIPPING_CODES_SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {
        "anyOf": [
            {"enum": [DOMESTIC_DEFAULT, INTERNATIONAL_DEFAULT]},
            {"pattern": "^[A-Z]{2}$", "maxLength": 2},
        ]
    },
    "additionalProperties": {
        "type": "object",
        "properties": {"carrier_code": _CODE, "service_code": _CODE},
        "required": ["carrier_code", "service_code"],
        "additionalProperties": False,
    },
}
#: With ``backend: shipstation`` or ``shipstation_v2``, its credentials are required, not null
#: and not empty. No ``type`` here: its message quotes the value, and a key is a secret (a
#: non-string fails the setting's own type, whose message the SDK prints as it is). ``allOf``
#: reports each failing rule's own message; a ``oneOf`` would quote the whole config.
BACKEND_RULES: dict[str, t.Any] = {
    "allOf": [
        {
            "if": {"properties": {"backend": {"const": backend}}, "required": ["backend"]},
            "then": {
                "required": list(names),
                "properties": {name: {"not": {"type": "null"}, "minLength": 1} for name in names},
            },
        }
        for backend, names in BACKEND_REQUIRED.items()
    ]
}


def with_rules(schema: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``schema`` (the target's settings) with the rules the SDK's type helpers cannot declare.

    ``shipping_codes`` may not be null (the helpers make every optional setting nullable, and an
    explicit null has no services), and each ShipStation backend's credentials are required.
    """
    properties = dict(schema["properties"])
    properties["shipping_codes"] = {**properties["shipping_codes"], "type": "object"}
    return {**schema, "properties": properties, **BACKEND_RULES}


def config_errors(config: Mapping[str, t.Any], schema: Mapping[str, t.Any]) -> list[str]:
    """Every problem of ``config`` that JSON Schema lets through, one message each."""
    errors = unknown_settings(config, schema, RETIRED, UNSUPPORTED)
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
    if config.get("backend") == "shipstation_v2":
        errors += _shipstation_v2(config)
    return errors


def _shipstation_v2(config: Mapping[str, t.Any]) -> list[str]:
    """The package weight, checked as the backend reads it (``attributes.weight``).

    It is optional: without it an order whose items are not all weighed is held. The V2
    credentials are required by the schema (:data:`BACKEND_RULES`).
    """
    if config.get("default_package_weight") is None:
        return []
    try:
        weight(config["default_package_weight"], "default_package_weight")
    except ValueError as error:
        return [str(error)]
    return []


def _database_url(config: Mapping[str, t.Any], name: str) -> list[str]:
    value = config.get(name)
    error = database_url_error(name, value)
    if error:
        return [error]
    if sa.make_url(str(value)).get_backend_name() not in _LEDGER_DIALECTS:
        return [f"{name}: the ledger's database must be one of {', '.join(_LEDGER_DIALECTS)}"]
    return []
