"""List documents: shape, paging, sorting and filters."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import Api

from bigcartel_sandbox.documents import timestamp


def _all(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a list, read in one uncapped page."""
    body = api.get(path, params={"page[limit]": 10_000, **params}).json()
    assert body["meta"]["count"] == str(len(body["data"]))  # a string, as the live API sends
    return body["data"]


def test_list_document_shape_and_included_relationships(api: Api) -> None:
    body = api.get("/orders", params={"page[limit]": 5}).json()
    assert set(body) == {"data", "included", "meta", "links"}
    assert len(body["data"]) == 5
    assert body["meta"]["count"] == "60"
    included = {(r["type"], r["id"]): r for r in body["included"]}
    assert len(included) == len(body["included"]), "included resources appear once"
    for order in body["data"]:
        assert order["type"] == "orders"
        assert order["links"]["self"] == f"{api.account_url}/orders/{order['id']}"
        for relationship in order["relationships"].values():
            refs = relationship["data"]
            for ref in refs if isinstance(refs, list) else [refs]:
                assert (ref["type"], ref["id"]) in included
        items = [
            included["order_line_items", r["id"]] for r in order["relationships"]["items"]["data"]
        ]
        assert 1 <= len(items) <= 4
        assert order["attributes"]["item_count"] == sum(i["attributes"]["quantity"] for i in items)


def test_order_totals_add_up(api: Api) -> None:
    for order in _all(api, "/orders"):
        a = order["attributes"]
        cents = {k: round(float(a[k]) * 100) for k in a if k.endswith("_total") or k == "total"}
        assert cents["total"] == (
            cents["item_total"]
            - cents["discount_total"]
            + cents["shipping_total"]
            + cents["tax_total"]
        )


def test_default_page_is_20_with_next_link(api: Api) -> None:
    body = api.get("/orders").json()
    assert len(body["data"]) == 20
    assert "page[offset]=20" in body["links"]["next"]
    following = api.get(body["links"]["next"]).json()
    assert {o["id"] for o in following["data"]}.isdisjoint(o["id"] for o in body["data"])


def test_offset_paging_reads_every_record_once(api: Api) -> None:
    seen: list[str] = []
    url: str | None = f"{api.account_url}/orders?page[limit]=7&sort=updated_at"
    while url:
        body = api.get(url).json()
        seen.extend(o["id"] for o in body["data"])
        url = body["links"].get("next")
    assert len(seen) == len(set(seen)) == 60
    past_end = api.get("/orders", params={"page[offset]": 60}).json()
    assert past_end["data"] == [] and past_end["meta"]["count"] == "60"
    assert "next" not in past_end["links"]


@pytest.mark.parametrize("value", ["0", "-1", "ten"])
def test_bad_page_limit_is_400(api: Api, value: str) -> None:
    assert api.get("/orders", params={"page[limit]": value}).status_code == 400


def test_unknown_paging_parameter_is_400(api: Api) -> None:
    assert api.get("/orders", params={"page[size]": "5"}).status_code == 400


@pytest.mark.parametrize("field", ["updated_at", "created_at", "completed_at"])
def test_order_sorting_both_syntaxes(api: Api, field: str) -> None:
    ascending = _all(api, "/orders", sort=field)
    keys = [_sort_key(o, field) for o in ascending]
    assert keys == sorted(keys)
    descending = [o["id"] for o in _all(api, "/orders", sort=f"-{field}")]
    assert descending == [o["id"] for o in reversed(ascending)]
    assert [o["id"] for o in _all(api, "/orders", sort=field, sort_direction="desc")] == descending
    assert [o["id"] for o in _all(api, "/orders", sort=field, sort_direction="asc")] == [
        o["id"] for o in ascending
    ]


def test_generated_orders_tie_on_updated_at_and_ties_sort_by_id(api: Api) -> None:
    orders = _all(api, "/orders", sort="updated_at")
    stamps = [o["attributes"]["updated_at"] for o in orders]
    assert len(set(stamps)) < len(stamps), "the generator makes deliberate ties"
    keys = [(o["attributes"]["updated_at"], o["id"]) for o in orders]
    assert keys == sorted(keys)


def test_products_sort_by_position_by_default(api: Api) -> None:
    positions = [p["attributes"]["position"] for p in _all(api, "/products")]
    assert positions == sorted(positions) == list(range(1, 21))
    newest_first = [
        p["attributes"]["updated_at"] for p in _all(api, "/products", sort="-updated_at")
    ]
    assert newest_first == sorted(newest_first, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "total"},
        {"sort": "-id"},
        {"sort_direction": "sideways"},
        {"sort": "-updated_at", "sort_direction": "asc"},
    ],
)
def test_bad_sort_is_400(api: Api, params: dict[str, str]) -> None:
    response = api.get("/orders", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["detail"]


def test_updated_at_filters_are_inclusive(api: Api) -> None:
    orders = _all(api, "/orders", sort="updated_at")
    low = orders[10]["attributes"]["updated_at"]
    high = orders[40]["attributes"]["updated_at"]
    expected = [o["id"] for o in orders if low <= o["attributes"]["updated_at"] <= high]
    body = api.get(
        "/orders",
        params={
            "sort": "updated_at",
            "filter[updated_at_from]": low,
            "filter[updated_at_to]": high,
            "page[limit]": 5,
        },
    ).json()
    assert body["meta"]["count"] == str(len(expected))
    assert [o["id"] for o in body["data"]] == expected[:5]
    assert body["data"][0]["attributes"]["updated_at"] == low


def test_completed_at_filter_excludes_unpaid_orders(api: Api) -> None:
    orders = _all(api, "/orders")
    since = min(o["attributes"]["completed_at"] for o in orders if o["attributes"]["completed_at"])
    filtered = _all(api, "/orders", **{"filter[completed_at_from]": since})
    assert {o["id"] for o in filtered} == {
        o["id"] for o in orders if o["attributes"]["completed_at"]
    }
    assert len(filtered) < len(orders)


def test_timestamp_filters_accept_offsets_and_dates(api: Api) -> None:
    a = api.get("/orders", params={"filter[updated_at_from]": "2026-01-01T01:00:00+01:00"}).json()
    b = api.get("/orders", params={"filter[updated_at_from]": "2026-01-01"}).json()
    c = api.get("/orders", params={"filter[updated_at_from]": timestamp(1767225600000)}).json()
    assert a["meta"]["count"] == b["meta"]["count"] == c["meta"]["count"]
    assert int(a["meta"]["count"]) > 0


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", ""])
def test_malformed_date_is_400(api: Api, value: str) -> None:
    response = api.get("/orders", params={"filter[updated_at_from]": value})
    assert response.status_code == 400
    assert "filter[updated_at_from]" in response.json()["errors"][0]["detail"]


def test_unknown_filter_is_400(api: Api) -> None:
    assert api.get("/products", params={"filter[updated_at_from]": "2026-01-01"}).status_code == 400


def test_shipping_status_filter_and_search(api: Api) -> None:
    orders = _all(api, "/orders")
    unshipped = _all(api, "/orders", **{"filter[shipping_status]": "unshipped"})
    assert {o["id"] for o in unshipped} == {
        o["id"] for o in orders if o["attributes"]["shipping_status"] == "unshipped"
    }
    assert 0 < len(unshipped) < len(orders)
    assert api.get("/orders", params={"filter[shipping_status]": "lost"}).status_code == 400

    target = orders[3]["attributes"]
    by_email = _all(api, "/orders", search=target["customer_email"].upper())
    assert orders[3]["id"] in {o["id"] for o in by_email}
    by_id = _all(api, "/orders", search=orders[3]["id"])
    assert [o["id"] for o in by_id] == [orders[3]["id"]]
    full_name = f"{target['customer_first_name']} {target['customer_last_name']}"
    assert all(
        f"{o['attributes']['customer_first_name']} {o['attributes']['customer_last_name']}"
        == full_name
        for o in _all(api, "/orders", search=full_name)
    )


def test_product_filters(api: Api) -> None:
    products = _all(api, "/products")
    body = api.get("/products", params={"page[limit]": 100}).json()
    relations = {p["id"]: p["relationships"] for p in body["data"]}

    statuses = {p["attributes"]["status"] for p in products}
    some = sorted(statuses)[:2]
    by_status = _all(api, "/products", **{"filter[status]": ",".join(some)})
    assert {p["id"] for p in by_status} == {
        p["id"] for p in products if p["attributes"]["status"] in some
    }

    category = relations[products[0]["id"]]["categories"]["data"][0]["id"]
    by_category = _all(api, "/products", **{"filter[category_id]": f"{category},0"})
    assert by_category and {p["id"] for p in by_category} == {
        pid
        for pid, rel in relations.items()
        if category in {c["id"] for c in rel["categories"]["data"]}
    }
    artists = [a["id"] for rel in relations.values() for a in rel["artists"]["data"]]
    by_artist = _all(api, "/products", **{"filter[artist_id]": artists[0]})
    assert by_artist and all(
        artists[0] in {a["id"] for a in relations[p["id"]]["artists"]["data"]} for p in by_artist
    )
    assert api.get("/products", params={"filter[status]": "deleted"}).status_code == 400


def test_discounts_filter_and_small_lists(api: Api) -> None:
    discounts = _all(api, "/discounts")
    active = _all(api, "/discounts", **{"filter[status]": "active"})
    expired = _all(api, "/discounts", **{"filter[status]": "expired"})
    assert len(active) + len(expired) == len(discounts) == 5
    assert all(d["attributes"]["status"] == "active" for d in active)
    # Categories as the live API renders them (integers), artists as the reference does.
    for kind, form in (("artists", str), ("categories", int)):
        records = _all(api, f"/{kind}")
        assert records and [r["attributes"]["position"] for r in records] == [
            form(i) for i in range(1, len(records) + 1)
        ]
        one = api.get(f"/{kind}/{records[0]['id']}").json()["data"]
        assert one == records[0]
    assert api.get("/categories", params={"sort": "name"}).status_code == 400


def test_get_one_record_matches_its_list_entry(api: Api) -> None:
    product = _all(api, "/products")[4]
    body = api.get(f"/products/{product['id']}").json()
    assert body["data"] == product
    assert {r["type"] for r in body["included"]} >= {
        "product_options",
        "product_images",
        "categories",
    }


def _sort_key(order: dict[str, Any], field: str) -> tuple[int, str, str]:
    value = order["attributes"][field]
    # Orders without the value sort last in ascending order.
    return (value is None, value or "", order["id"])
