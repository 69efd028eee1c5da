"""Checks of a plugin's settings that JSON Schema cannot say in words a user can act on."""

from __future__ import annotations

import difflib
import json
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit

from bigcartel_core import timestamps

ACCOUNT_ID = re.compile(r"[0-9]+")


def unknown_settings(
    config: Mapping[str, t.Any],
    schema: Mapping[str, t.Any],
    retired: Mapping[str, str] | None = None,
    unsupported: Mapping[str, str] | None = None,
) -> list[str]:
    """One message per config key the plugin does not declare, naming the closest declared one.

    A misspelt setting is otherwise ignored, and the plugin falls back to its default in silence
    (``ledger_uri`` meant a local SQLite ledger instead of the shared PostgreSQL one). ``retired``
    maps settings a former version had to what to do instead; ``unsupported``, settings other
    Singer plugins take that this one refuses, to why.
    """
    declared = list((schema.get("properties") or {}).keys())
    retired = retired or {}
    unsupported = unsupported or {}
    errors = []
    for key in config:
        if key in declared:
            continue
        if key in retired:
            errors.append(f"{key}: setting no longer exists; {retired[key]}")
            continue
        if key in unsupported:
            errors.append(f"{key}: not supported; {unsupported[key]}")
            continue
        close = difflib.get_close_matches(str(key), declared, n=1, cutoff=0.6)
        hint = f", did you mean {close[0]}?" if close else ""
        errors.append(f"{key}: unknown setting{hint}")
    return errors


def account_id_error(setting: str, value: t.Any) -> str | None:
    """A Big Cartel account id is an integer (the Account object's ``id``; the token answer's
    ``account_id``), kept as text: anything else opens no shop, so it is refused by name.

    Empty means unset, as the plugins read it; a value of the wrong type is the schema's to refuse.
    """
    if not isinstance(value, str) or not value.strip() or ACCOUNT_ID.fullmatch(value.strip()):
        return None
    return f"{setting}: {json.dumps(value)} is not a Big Cartel account id (digits only)"


def iso_datetime_error(setting: str, value: t.Any) -> str | None:
    """An ISO 8601 date or date-time, as the plugins parse it (a trailing ``Z`` is UTC).

    The SDK's ``date-time`` format is not checked, so a bad date would otherwise fail mid-run.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        timestamps.parse(value)
    except ValueError:
        return (
            f"{setting}: {json.dumps(value)} is not an ISO 8601 date or date-time "
            "(e.g. 2024-01-01 or 2024-01-01T00:00:00Z)"
        )
    return None


def http_url_error(setting: str, value: t.Any, example: str) -> str | None:
    """An http(s) URL with a host; the value is not echoed, as a URL may carry a password."""
    if not isinstance(value, str):
        return None
    wrong = f"{setting}: not an http:// or https:// URL with a host, e.g. {example}"
    try:
        parts = urlsplit(value)
        _ = parts.port  # a port that is not a number raises ValueError
    except ValueError:
        return wrong
    return None if parts.scheme in ("http", "https") and parts.hostname else wrong


def database_url_error(setting: str, value: t.Any) -> str | None:
    """A URL SQLAlchemy can parse. Neither the value nor SQLAlchemy's words are echoed: the URL
    may hold a password. Empty means unset."""
    if not isinstance(value, str) or not value:
        return None
    import sqlalchemy as sa  # here, not at the top: a tap run without a store never needs it

    try:
        sa.make_url(value)
    except (sa.exc.ArgumentError, ValueError):
        return (
            f"{setting}: not a SQLAlchemy database URL, e.g. sqlite:///path/to/file.db or "
            "postgresql+psycopg://user:password@host/database (the value is not shown)"
        )
    return None


def shop_settings(program: str) -> dict[str, dict[str, t.Any]]:
    """The settings that say which shops a plugin works on and how it reaches the API.

    Both plugins declare them alike (``shops_from_config`` reads them), as JSON Schema
    properties in the form the Singer SDK emits, so ``--about`` and Meltano show them the same.
    """
    secret = {"secret": True, "writeOnly": True}
    return {
        "access_token": {
            "type": ["string", "null"],
            "description": "OAuth access token of one shop (from the OAuth flow of a Big Cartel "
            "app).",
            **secret,
        },
        "account_id": {
            "type": ["string", "null"],
            "description": "The shop's account id; asked of the API (GET /v1/accounts) when "
            "absent.",
        },
        "subdomain": {
            "type": ["string", "null"],
            "description": "Personal projects: the shop's subdomain, used as the HTTP Basic user.",
        },
        "password": {
            "type": ["string", "null"],
            "description": "Personal projects: the shop's password, used as the HTTP Basic "
            "password.",
            **secret,
        },
        "accounts": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "account_id": {"type": ["string"]},
                    "access_token": {"type": ["string"], **secret},
                },
                "required": ["account_id", "access_token"],
                "additionalProperties": True,
            },
            "description": "Many shops in one run: a list of {account_id, access_token}. A shop "
            "whose token is refused does not stop the others.",
        },
        "api_url": {
            "type": ["string", "null"],
            "default": "https://api.bigcartel.com",
            "description": "Base URL of the API, without /v1; point it at a local emulator to "
            "test.",
        },
        "user_agent": {
            "type": ["string", "null"],
            "description": "User-Agent sent with every request; Big Cartel asks for the app's "
            "name and a contact URL or email, so set your own contact here, e.g. "
            '"acme-fulfillment (ops@example.com)". Defaults to '
            f"{program}/<version>, followed by the project's URL only when its package "
            "metadata declares one ([project.urls]).",
        },
    }


def with_shop_settings(schema: dict[str, t.Any], program: str) -> dict[str, t.Any]:
    """``schema`` with the shop settings first, as a plugin's ``config_jsonschema``."""
    return {**schema, "properties": {**shop_settings(program), **schema["properties"]}}


def config_secrets(config: Mapping[str, t.Any], schema: Mapping[str, t.Any]) -> tuple[str, ...]:
    """Every secret value in ``config``, for scrubbing messages before they are shown.

    A secret is what ``schema`` marks ``secret`` (at any depth, so the tokens inside ``accounts``
    too), so a setting declared secret is scrubbed without a list to keep in step. A database
    URL's password is also scrubbed on its own, as drivers quote it apart from the URL.
    """
    found: list[str] = []

    def walk(value: t.Any, prop: Mapping[str, t.Any]) -> None:
        if value is None or value == "":
            return
        if isinstance(value, Mapping):
            for name, inner in (prop.get("properties") or {}).items():
                walk(value.get(name), inner)
        elif isinstance(value, list):
            for item in value:
                walk(item, prop.get("items") or {})
        elif prop.get("secret"):
            text = str(value)
            found.append(text)
            # Only a URL holds a password: a token is neither parsed nor a reason to import
            # SQLAlchemy (a tenth of the tap's start-up).
            if "://" in text:
                from bigcartel_core.webhook_store import url_password

                password = url_password(text)
                if password:
                    found.append(password)

    walk(config, schema)
    return tuple(dict.fromkeys(found))
