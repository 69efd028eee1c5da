"""The one timestamp parser, formatter and clock of the project."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from bigcartel_core import timestamps

UTC = dt.timezone.utc
PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T17:15:00Z", dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)),
        ("2024-05-01T17:15:00z", dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)),
        ("2024-05-01T17:15:00+00:00", dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)),
        ("2024-05-01T19:15:00+02:00", dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)),
        ("2024-05-01T17:15:00", dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)),
        ("  2024-05-01T17:15:00Z\n", dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)),
        ("2024-05-01", dt.datetime(2024, 5, 1, tzinfo=UTC)),
        # Fractions of any length: ShipStation sends seven digits, Big Cartel three.
        ("2024-05-01T17:15:00.5Z", dt.datetime(2024, 5, 1, 17, 15, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T17:15:00.123Z", dt.datetime(2024, 5, 1, 17, 15, 0, 123000, tzinfo=UTC)),
        ("2024-05-01T17:15:00.1234567", dt.datetime(2024, 5, 1, 17, 15, 0, 123456, tzinfo=UTC)),
        (
            "2024-05-01T17:15:00.1234567+01:00",
            dt.datetime(2024, 5, 1, 16, 15, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_parse_gives_aware_utc(text: str, expected: dt.datetime) -> None:
    parsed = timestamps.parse(text)
    assert parsed == expected
    assert parsed.utcoffset() == dt.timedelta(0)


def test_a_naive_time_is_in_the_given_zone() -> None:
    # ShipStation's times are Pacific wall-clock times without an offset (PDT in May).
    parsed = timestamps.parse("2024-05-01T10:15:00.0000000", naive_zone=PACIFIC)
    assert parsed == dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    # An explicit offset wins over the zone.
    assert timestamps.parse("2024-05-01T17:15:00Z", naive_zone=PACIFIC) == parsed


@pytest.mark.parametrize(
    "text", ["", "   ", "yesterday", "2024-13-01T00:00:00Z", "Z", "2024-05-01T"]
)
def test_parse_refuses_what_is_not_a_timestamp(text: str) -> None:
    with pytest.raises(ValueError):
        timestamps.parse(text)


def test_as_utc() -> None:
    naive = dt.datetime(2024, 5, 1, 17, 15)
    assert timestamps.as_utc(naive) == dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC)
    assert timestamps.as_utc(naive, PACIFIC) == dt.datetime(2024, 5, 2, 0, 15, tzinfo=UTC)
    shifted = dt.datetime(2024, 5, 1, 19, 15, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert timestamps.as_utc(shifted).tzinfo is UTC
    assert timestamps.as_utc(shifted) == shifted


def test_format_spells_each_instant_once() -> None:
    expected = "2024-05-01T17:15:00.000000+00:00"
    assert timestamps.format(dt.datetime(2024, 5, 1, 17, 15)) == expected
    assert timestamps.format(timestamps.parse("2024-05-01T19:15:00+02:00")) == expected
    assert timestamps.parse(expected) == timestamps.parse("2024-05-01T17:15:00Z")
    earlier = timestamps.format(timestamps.parse("2024-05-01T17:14:59.999999Z"))
    assert earlier < expected, "texts compare as the instants"


def test_now_is_aware_utc() -> None:
    before = dt.datetime.now(UTC)
    moment = timestamps.now()
    assert moment.tzinfo is UTC
    assert before <= moment <= dt.datetime.now(UTC)


def test_format_millis_rounds_down_to_milliseconds() -> None:
    value = dt.datetime(2026, 5, 1, 12, 0, 0, 999_999, tzinfo=dt.timezone.utc)
    assert timestamps.format_millis(value) == "2026-05-01T12:00:00.999Z"
    assert timestamps.format_millis(value.replace(tzinfo=None)) == "2026-05-01T12:00:00.999Z"
