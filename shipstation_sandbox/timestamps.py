"""ShipStation's date formats: naive Pacific timestamps, so clients meet the live API's quirk."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    PACIFIC: timezone | ZoneInfo = ZoneInfo("America/Los_Angeles")
except ZoneInfoNotFoundError:
    # Systems without a tz database (Windows without the tzdata package) fall back to PST.
    PACIFIC = timezone(timedelta(hours=-8), "PST")

_FRACTION = re.compile(r"\.(\d+)")


def now() -> datetime:
    """The current time as ShipStation reports it: Pacific wall-clock time, no offset."""
    return datetime.now(PACIFIC).replace(tzinfo=None)


def today() -> date:
    """The current Pacific date, used for ship dates."""
    return now().date()


def format_timestamp(moment: datetime) -> str:
    """Render like ShipStation's ``createDate``: ``2015-06-29T08:46:27.0000000``."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0"


def parse_timestamp(text: str) -> datetime:
    """Parse a timestamp or date a client sends; the result is naive Pacific time.

    Accepts a date alone, a space or ``T`` separator, any number of fraction digits (ShipStation
    itself emits seven, more than ``datetime`` reads) and an optional ``Z`` or UTC offset.
    Raises ``ValueError`` for anything else.
    """
    # Not settled by the docs: how ShipStation reads offsets in query dates. Converting them to
    # Pacific is the tolerant reading; naive values are taken as Pacific, as the live API does.
    normalized = text.strip().replace(" ", "T", 1)
    if normalized.endswith(("Z", "z")):
        normalized = normalized[:-1] + "+00:00"
    normalized = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), normalized)
    moment = datetime.fromisoformat(normalized)
    if moment.tzinfo is not None:
        moment = moment.astimezone(PACIFIC).replace(tzinfo=None)
    return moment
