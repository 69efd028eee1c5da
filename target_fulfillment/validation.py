"""What a record must hold before the ledger keys it or the warehouse receives it.

Pure functions: each answers with the value or with a sentence naming the field and the value
at fault, never with an exception from deep inside a database driver or a JSON encoder. Values
that may be customer data (names, addresses) are named by field only, never quoted.
"""

from __future__ import annotations

import decimal
import json
import re
import typing as t

#: Big Cartel account ids are numbers; being digits only, an account id cannot contain the "-"
#: that separates it from the order id in ``bigcartel-<account>-<order>``.
_ACCOUNT_ID = re.compile(r"[0-9]{1,20}")
#: Order, product, option and line item ids: Big Cartel's are like ``ABCD-123456`` or digits. The
#: bound keeps every key within the ledger's columns and a file name; the characters keep it safe
#: as either.
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: C0 controls other than tab, newline and carriage return: no warehouse field holds them, and
#: PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
#: The most characters of a buyer's note sent on. Neither ShipStation API documents a limit for
#: ``customerNotes`` or ``notes_from_buyer`` (notes B5, A3); 1,000 keeps any plausible note whole
#: and bounds what one field of a record can make the warehouse store.
MAX_NOTE = 1000


def shown(value: t.Any, limit: int = 40) -> str:
    """A value as it may appear in a message: JSON-like, ASCII, at most ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(value: t.Any, limit: int = 80) -> str:
    """An id as it may be listed: a string as it is, its unprintable characters escaped, or
    any other value as ``shown`` gives it; at most ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return shown(value, limit)
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value)[:limit]


def id_text(value: t.Any) -> str | None:
    """An id as text: strings as they are, integers in decimal; anything else is no id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else None


def key_problem(account_id: t.Any, record_id: t.Any, stream: str) -> str | None:
    """Why ``(account_id, id)`` cannot key a record of ``stream`` in the ledger, or None."""
    account, record = id_text(account_id), id_text(record_id)
    if account is None or not _ACCOUNT_ID.fullmatch(account):
        return f"{stream} record: account_id {shown(account_id)} is not a Big Cartel account id"
    if record is None or not _RECORD_ID.fullmatch(record):
        return (
            f"{stream} record: id {shown(record_id)} is not a Big Cartel id"
            " (1 to 64 letters, digits, '-' or '_')"
        )
    return None


def record_id_problem(value: t.Any, what: str) -> str | None:
    """Why ``value`` is not a usable id of ``what`` (a product, an option, a line item)."""
    text = id_text(value)
    if text is None or not _RECORD_ID.fullmatch(text):
        return f"{what} id {shown(value)} is not a Big Cartel id"
    return None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as text: not valid Unicode, or holding control characters."""
    if _SURROGATE.search(value):
        return "is not valid Unicode (it holds a lone surrogate)"
    if _CONTROL.search(value):
        return "holds a control character"
    return None


def storable_text(value: str | None) -> str | None:
    """Text any database stores: NUL bytes and lone surrogates become U+FFFD, which
    ``text_problem`` lets through but a SKU may not hold (``sku_problem``)."""
    if value is None:
        return None
    return _SURROGATE.sub(REPLACEMENT, value.replace("\x00", REPLACEMENT))


def note_text(value: str) -> str | None:
    """A buyer's note as a warehouse field holds it, or None when nothing is left.

    A note never holds an order: control characters (other than tab and line breaks) are
    dropped, lone surrogates become U+FFFD, the ends are trimmed, and a note longer than
    :data:`MAX_NOTE` is cut, ending in an ellipsis.
    """
    text = _SURROGATE.sub(REPLACEMENT, _CONTROL.sub("", value)).strip()
    if len(text) > MAX_NOTE:
        text = text[: MAX_NOTE - 1].rstrip() + "\u2026"
    return text or None


def sku_problem(sku: str) -> str | None:
    """Why a derived SKU cannot be sent: a character that was not text in the catalog."""
    if REPLACEMENT in sku or text_problem(sku):
        return f"SKU {shown(sku)} holds a character that is not text (check the description)"
    return None


def whole_number(value: t.Any) -> int | None:
    """An integer, or a string or float that is exactly one; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral():
        return int(value)
    return None


def amount(value: t.Any) -> decimal.Decimal | None:
    """A finite, non-negative money amount; None for anything else (missing, NaN, negative)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | decimal.Decimal):
        return None
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None
