"""JSON:API flattening, exact money, timestamps, Retry-After and auth modes: pure functions."""

from __future__ import annotations

import datetime as dt
import decimal
import random

import pytest
import requests

from bigcartel_core import jsonapi
from bigcartel_core.auth import BearerAuth, shops_from_config
from bigcartel_core.errors import ConfigError, redact
from bigcartel_core.retry import retry_after_seconds, wait_times
from tap_bigcartel.coercion import RecordValueError, decimal_coercer, parse_timestamp
from tap_bigcartel.schemas import ORDERS

ORDER_DOCUMENT = {
    "data": [
        {
            "id": "ABCD-1",
            "type": "orders",
            "attributes": {"total": "10.10", "updated_at": "2026-05-01T12:00:00.000Z"},
            "relationships": {
                "currency": {"data": {"type": "currencies", "id": "USD"}},
                "shipping_country": {"data": None},
                "items": {"data": [{"type": "order_line_items", "id": "7"}]},
                "events": {"data": []},
            },
        }
    ],
    "included": [
        {"id": "USD", "type": "currencies", "attributes": {"name": "US Dollar", "sign": "$"}},
        {
            "id": "7",
            "type": "order_line_items",
            "attributes": {"price": "3.30", "quantity": 3},
            "relationships": {
                "product": {"data": {"type": "products", "id": "55"}},
                "product_option": {"data": {"type": "product_options", "id": "66"}},
            },
        },
    ],
    "meta": {"count": 41},
}


def test_flatten_resolves_included_to_one_and_to_many() -> None:
    [record] = list(jsonapi.records(ORDER_DOCUMENT))
    assert record == {
        "id": "ABCD-1",
        "total": "10.10",
        "updated_at": "2026-05-01T12:00:00.000Z",
        "currency": {"id": "USD", "name": "US Dollar", "sign": "$"},
        "shipping_country": None,
        "items": [
            {
                "id": "7",
                "price": "3.30",
                "quantity": 3,
                "product": {"id": "55"},
                "product_option": {"id": "66"},
            }
        ],
        "events": [],
    }
    assert jsonapi.total_count(ORDER_DOCUMENT) == 41


def test_flatten_single_resource_document_and_relationship_cycles() -> None:
    document = {
        "data": {
            "id": "1",
            "type": "a",
            "relationships": {"b": {"data": {"type": "b", "id": "2"}}},
        },
        "included": [
            {"id": "2", "type": "b", "relationships": {"a": {"data": {"type": "a", "id": "1"}}}},
            {"id": "1", "type": "a", "relationships": {"b": {"data": {"type": "b", "id": "2"}}}},
        ],
    }
    [record] = list(jsonapi.records(document))
    assert record["b"]["a"]["b"] == {"id": "2"}


def test_error_detail_reads_jsonapi_errors() -> None:
    body = {"errors": [{"title": "Bad", "detail": "page[limit] must be a number"}, {"title": "X"}]}
    assert jsonapi.error_detail(body) == "page[limit] must be a number; X"
    assert jsonapi.error_detail(["not", "a", "document"]) is None


def test_money_becomes_exact_decimal_in_nested_arrays() -> None:
    [record] = list(jsonapi.records(ORDER_DOCUMENT))
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


def _response(headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.headers.update(headers)
    return response


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_seconds(_response({"Retry-After": "7"})) == 7.0
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    parsed = retry_after_seconds(
        _response({"Retry-After": future.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    )
    assert parsed is not None and 25 <= parsed <= 30
    assert retry_after_seconds(_response({})) is None
    assert retry_after_seconds(None) is None


class _Failure(Exception):
    def __init__(self, response: requests.Response | None) -> None:
        self.response = response


def test_wait_times_honour_retry_after_and_otherwise_grow_with_jitter() -> None:
    waits = wait_times(factor=1.0, cap=10.0, rng=random.Random(0))
    next(waits)
    assert waits.send(_Failure(_response({"Retry-After": "3"}))) == 3.0
    assert waits.send(_Failure(_response({"Retry-After": "3600"}))) == 10.0
    bounds = [waits.send(_Failure(None)) for _ in range(6)]
    assert all(0 <= wait <= 10.0 for wait in bounds)
    assert max(bounds[3:]) > 1.0


def test_bearer_auth_never_shows_its_token() -> None:
    auth = BearerAuth("very-secret-token")
    assert "very-secret-token" not in repr(auth)
    [shop] = shops_from_config({"access_token": "very-secret-token"})
    assert "very-secret-token" not in repr(shop)


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({}, "access_token"),
        ({"access_token": "t", "subdomain": "s", "password": "p"}, "found access_token"),
        ({"subdomain": "s"}, "password"),
        ({"accounts": [{"account_id": "1"}]}, "accounts[0]"),
        (
            {"accounts": [{"account_id": "1", "access_token": "a"}] * 2},
            "account 1 twice",
        ),
    ],
)
def test_auth_config_errors_name_the_setting(config: dict, setting: str) -> None:
    with pytest.raises(ConfigError, match=r".*" + setting.replace("[", r"\[").replace("]", r"\]")):
        shops_from_config(config)


def test_redact_replaces_every_secret() -> None:
    assert redact("token abc and abc", ["abc", ""]) == "token [redacted] and [redacted]"
