"""Order records: money as exact decimals and timestamps in UTC, each failure naming its field."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from tap_bigcartel.coercion import RecordValueError, decimal_coercer, parse_timestamp
from tap_bigcartel.schemas import CATEGORIES, ORDERS, PRODUCTS


def test_money_becomes_exact_decimal_in_nested_arrays() -> None:
    record = {
        "id": "ABCD-1",
        "total": "10.10",
        "items": [{"id": "7", "price": "3.30", "quantity": 3}],
    }
    decimal_coercer(ORDERS)(record)
    assert record["total"] == decimal.Decimal("10.10")
    assert record["items"][0]["price"] == decimal.Decimal("3.30")
    assert record["items"][0]["quantity"] == 3


def test_bad_money_names_the_field() -> None:
    record = {"id": "A", "items": [{"price": "three dollars"}]}
    with pytest.raises(RecordValueError, match=r"items\[\]\.price"):
        decimal_coercer(ORDERS)(record)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-05-01T12:00:00.000Z", dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)),
        ("2026-05-01T08:00:00-04:00", dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)),
        ("2026-05-01T12:00:00", dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)),
    ],
)
def test_timestamps_normalise_to_utc(raw: str, expected: dt.datetime) -> None:
    assert parse_timestamp(raw, "updated_at") == expected


@pytest.mark.parametrize("raw", [None, "", "yesterday"])
def test_bad_timestamps_name_the_field(raw: object) -> None:
    with pytest.raises(RecordValueError, match="updated_at"):
        parse_timestamp(raw, "updated_at")


def test_integer_fields_take_the_documented_string_form_too() -> None:
    """A category's position: an integer in live responses, a string in the reference."""
    record = {"id": "P", "position": 4, "categories": [{"id": "1", "position": "12"}, {"id": "2"}]}
    decimal_coercer(PRODUCTS)(record)
    assert record["position"] == 4
    assert record["categories"] == [{"id": "1", "position": 12}, {"id": "2"}]
    for form in ("3", " 3", "+3"):
        category = {"id": "1", "position": form}
        decimal_coercer(CATEGORIES)(category)
        assert category["position"] == 3 and type(category["position"]) is int
    negative = {"id": "1", "position": "-2"}
    decimal_coercer(CATEGORIES)(negative)
    assert negative["position"] == -2


@pytest.mark.parametrize("raw", ["", "first", "1.5", "٣"])
def test_an_integer_field_holding_words_names_the_field(raw: str) -> None:
    with pytest.raises(RecordValueError, match=r"categories\[\]\.position"):
        decimal_coercer(PRODUCTS)({"id": "P", "categories": [{"id": "1", "position": raw}]})
