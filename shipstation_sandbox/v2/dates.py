"""V2 timestamps: ISO 8601 in UTC, not V1's naive Pacific wall-clock time."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from shipstation_sandbox.timestamps import parse_timestamp

UTC = timezone.utc

# A trailing ``Z`` or ``±HH[:MM]`` after the time part.
_OFFSET = re.compile(r"(?:[Zz]|([+-])(\d{2}):?(\d{2})?)$")


def utc_now() -> datetime:
    """The current time, aware, in UTC, to the millisecond the API shows."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_datetime(moment: datetime) -> str:
    """Render like ``2026-12-02T01:23:16.123Z``.

    Not settled by the docs: the exact text of V2 timestamps beyond "ISO 8601 date-time"; UTC
    with milliseconds and ``Z`` is the form of ShipStation's (ShipEngine-based) examples.
    """
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def format_date(day: date) -> str:
    """A ship date: ``2026-12-02``."""
    return day.isoformat()


def parse_datetime(text: str) -> datetime:
    """Parse a query date (``created_at_start`` ...) into an aware UTC datetime.

    The tolerant parsing (date alone, space or ``T``, any number of fraction digits) is V1's
    ``timestamps.parse_timestamp`` applied to the text without its offset. Raises ``ValueError``.
    """
    stripped = text.strip()
    separator = "T" if "T" in stripped else " " if " " in stripped else None
    offset = timedelta(0)
    if separator is not None:
        head, time_part = stripped.split(separator, 1)
        match = _OFFSET.search(time_part)
        if match is not None:
            if match.group(1):
                sign = -1 if match.group(1) == "-" else 1
                offset = sign * timedelta(
                    hours=int(match.group(2)), minutes=int(match.group(3) or 0)
                )
            time_part = time_part[: match.start()]
        stripped = f"{head}T{time_part}"
    # Not settled by the docs: how V2 reads a date without an offset; it is taken as UTC, the
    # zone every V2 timestamp is given in.
    naive = parse_timestamp(stripped)
    return (naive - offset).replace(tzinfo=UTC)


def parse_stored(text: str) -> datetime:
    """Read back a timestamp this emulator wrote."""
    return parse_datetime(text)
