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
