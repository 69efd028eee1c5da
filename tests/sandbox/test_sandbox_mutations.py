"""Changes made by the store's helpers, and records changing while a client pages."""

from __future__ import annotations

from sandbox_helpers import Api

from bigcartel_sandbox import Sandbox
from bigcartel_sandbox.data import ANCHOR_MS
from bigcartel_sandbox.documents import timestamp


def _naive_offset_paging(api: Api, sort: str, limit: int = 10) -> list[str]:
    """Read a list the way a naive client does: offsets until a short page."""
    seen: list[str] = []
    offset = 0
    while True:
        body = api.get(
            "/orders", params={"sort": sort, "page[limit]": limit, "page[offset]": offset}
        )
        page = body.json()["data"]
        seen.extend(order["id"] for order in page)
        if len(page) < limit:
            return seen
        offset += limit


def _all_ids(api: Api) -> set[str]:
    return {o["id"] for o in api.get("/orders", params={"page[limit]": 1000}).json()["data"]}


def test_without_mutations_offset_paging_sees_everything(api: Api) -> None:
    seen = _naive_offset_paging(api, "-updated_at")
    assert len(seen) == len(set(seen)) == 60


def test_unread_records_change_and_a_descending_pager_misses_them(
    api: Api, sandbox: Sandbox
) -> None:
    sandbox.store.mutate_while_paging = {"orders": 2}
    assert sandbox.store.mutate_while_paging_mode == "unread"
    seen = _naive_offset_paging(api, "-updated_at")
    sandbox.store.mutate_while_paging = {}
    missed = _all_ids(api) - set(seen)
    assert missed, "changed records jumped ahead of the client's offset"
    newest = api.get("/orders", params={"sort": "-updated_at", "page[limit]": 1}).json()
    assert newest["data"][0]["attributes"]["updated_at"] > timestamp(ANCHOR_MS)


def test_read_records_change_and_an_ascending_pager_skips_others(
    api: Api, sandbox: Sandbox
) -> None:
    sandbox.store.mutate_while_paging_mode = "read"
    sandbox.store.mutate_while_paging = {"orders": 1}
    seen = _naive_offset_paging(api, "updated_at")
    sandbox.store.mutate_while_paging = {}
    assert _all_ids(api) - set(seen), "records shifted back past the client's offset"
    assert len(seen) != len(set(seen)), "changed records come round again at the end"


def test_mutations_only_follow_list_pages_of_their_resource(api: Api, sandbox: Sandbox) -> None:
    sandbox.store.mutate_while_paging = {"products": 3}
    before = api.get("/orders", params={"page[limit]": 1000}).json()
    assert api.get("/orders", params={"page[limit]": 1000}).json() == before
    products = api.get("/products", params={"sort": "updated_at", "page[limit]": 10}).json()["data"]
    after = api.get("/products", params={"sort": "updated_at", "page[limit]": 100}).json()["data"]
    changed = [p for p in after if p["attributes"]["updated_at"] > timestamp(ANCHOR_MS)]
    assert len(changed) == 3
    assert {p["id"] for p in changed}.isdisjoint(p["id"] for p in products)


def test_update_helpers_touch_records_with_the_real_clock(api: Api, sandbox: Sandbox) -> None:
    store = sandbox.store
    ids = store.update_orders(api.shop.account_id, 4)
    assert len(set(ids)) == 4
    since = timestamp(ANCHOR_MS)
    recent = api.get("/orders", params={"filter[updated_at_from]": since, "page[limit]": 100})
    assert {o["id"] for o in recent.json()["data"]} == set(ids)

    product_ids = store.update_products(api.shop.account_id, 2)
    for product_id in product_ids:
        product = api.get(f"/products/{product_id}").json()["data"]
        assert product["attributes"]["updated_at"] > since

    store.update_order(api.shop.account_id, ids[0], payment_status="completed", customer_note="x")
    order = api.get(f"/orders/{ids[0]}").json()["data"]["attributes"]
    assert order["payment_status"] == "completed" and order["completed_at"] is not None
    assert order["customer_note"] == "x"


def test_create_and_delete_records(api: Api, sandbox: Sandbox) -> None:
    store = sandbox.store
    order_id = store.create_order(api.shop.account_id)
    order = api.get(f"/orders/{order_id}").json()["data"]["attributes"]
    assert (order["payment_status"], order["shipping_status"]) == ("completed", "unshipped")
    assert api.get("/orders").json()["meta"]["count"] == "61"
    newest = api.get("/orders", params={"page[limit]": 1}).json()["data"][0]
    assert newest["id"] == order_id, "orders list newest first by default"

    product_id = store.create_product(api.shop.account_id)
    products = api.get("/products", params={"page[limit]": 100}).json()["data"]
    assert products[-1]["id"] == product_id and products[-1]["attributes"]["position"] == 21
    store.delete_product(api.shop.account_id, product_id)
    assert api.get(f"/products/{product_id}").status_code == 404
    assert api.get("/products").json()["meta"]["count"] == "20"
