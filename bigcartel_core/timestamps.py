"""Timestamps as the project reads, writes and takes them: aware, in UTC.

One parser for every source (Big Cartel, the Singer messages, ShipStation, the command lines):
ISO 8601 with a ``Z`` suffix and a fraction of a second of any length (ShipStation sends seven
digits). A time without an offset is in a given zone, UTC unless told.
"""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc

_FRACTION = re.compile(r"\.(\d+)")


def parse(text: str, naive_zone: dt.tzinfo = UTC) -> dt.datetime:
    """An ISO-8601 timestamp or date as an aware UTC datetime; raises ``ValueError``.

    Surrounding blanks are ignored; a fraction of a second is cut or padded to microseconds.
    A timestamp without an offset is in ``naive_zone``.
    """
    normalized = text.strip()
    if normalized[-1:] in ("Z", "z"):
        normalized = normalized[:-1] + "+00:00"
    normalized = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), normalized)
    return as_utc(dt.datetime.fromisoformat(normalized), naive_zone)


def as_utc(moment: dt.datetime, naive_zone: dt.tzinfo = UTC) -> dt.datetime:
    """The same instant in UTC; a naive datetime is in ``naive_zone`` (UTC, as Big Cartel's)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive_zone)
    return moment.astimezone(UTC)


def format(moment: dt.datetime) -> str:
    """The instant in UTC as ISO 8601 with microseconds: one spelling per instant, so texts of
    timestamps compare as the instants do."""
    return as_utc(moment).isoformat(timespec="microseconds")


def format_millis(moment: dt.datetime) -> str:
    """The instant in UTC with milliseconds and ``Z``, as Big Cartel renders and filters them.

    Rounds down, so a filter built from a bookmark never excludes the bookmark's own instant.
    """
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(UTC)
