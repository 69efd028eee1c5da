"""JSON:API documents become flat records; errors are read from their `errors` array."""

from __future__ import annotations

from bigcartel_core import jsonapi

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


# The shape of an order in captured live responses (public test fixtures of other Big Cartel
# clients): adjustments and transactions say what they are only through a namespaced type.
LIVE_ORDER_DOCUMENT = {
    "data": [
        {
            "id": "NGRP-090092",
            "type": "orders",
            "attributes": {"total": "0.5"},
            "relationships": {
                "transactions": {"data": [{"type": "order_transactions/payments", "id": "3"}]},
                "adjustments": {
                    "data": [
                        {"type": "order_adjustments/shipping", "id": "4"},
                        {"type": "order_adjustments/tax", "id": "5"},
                        {"type": "order_adjustments/discount", "id": "6"},
                        {"type": "order_adjustments/shipping", "id": "404"},
                    ]
                },
                "warnings": {"data": []},
                "events": {"links": {"related": "https://api.example/orders/x/events"}},
            },
        }
    ],
    "included": [
        {"id": "3", "type": "order_transactions/payments", "attributes": {"amount": "0.5"}},
        {"id": "4", "type": "order_adjustments/shipping", "attributes": {"amount": "0.25"}},
        {"id": "5", "type": "order_adjustments/tax", "attributes": {"amount": "0.0"}},
        {"id": "6", "type": "order_adjustments/discount", "attributes": {"amount": "1.0"}},
    ],
    "meta": {"count": "5"},
}


def test_a_namespaced_type_keeps_its_kind_resolved_or_not() -> None:
    [record] = list(jsonapi.records(LIVE_ORDER_DOCUMENT))
    assert record["transactions"] == [{"id": "3", "kind": "payments", "amount": "0.5"}]
    assert [(a["id"], a.get("kind")) for a in record["adjustments"]] == [
        ("4", "shipping"),
        ("5", "tax"),
        ("6", "discount"),
        ("404", "shipping"),  # not in `included`: the linkage's type still tells the kind
    ]
    assert record["warnings"] == []
    assert "events" not in record  # links only, no data
    assert "kind" not in record  # `orders` has no slash


def test_kind_is_added_only_for_types_with_a_slash() -> None:
    assert jsonapi.type_kind("order_adjustments/tax") == "tax"
    assert jsonapi.type_kind("a/b/c") == "b/c"
    for plain in ("orders", "order_adjustments", "order_adjustments/", None, 7):
        assert jsonapi.type_kind(plain) is None
    [plain] = list(jsonapi.records({"data": {"id": "1", "type": "order_adjustments"}}))
    assert plain == {"id": "1"}


def test_an_attribute_named_kind_wins_over_the_type() -> None:
    document = {"data": {"id": "1", "type": "things/typed", "attributes": {"kind": "own"}}}
    assert list(jsonapi.records(document)) == [{"id": "1", "kind": "own"}]


def test_total_count_reads_the_live_string_and_the_documented_number() -> None:
    assert jsonapi.total_count(LIVE_ORDER_DOCUMENT) == 5
    assert jsonapi.total_count({"meta": {"count": 41}}) == 41
    assert jsonapi.total_count({"meta": {"count": " 0 "}}) == 0
    for unusable in ("", "five", "4.0", "-1", "٣", -1, 2.0, True, None, [3]):
        assert jsonapi.total_count({"meta": {"count": unusable}}) is None, unusable
    assert jsonapi.total_count({}) is None
    assert jsonapi.total_count({"meta": None}) is None
