"""The seeded generator: deterministic, varied as the target's rules need, and fast."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from sandbox_helpers import JSONAPI, USER_AGENT

from bigcartel_sandbox import Sandbox, SandboxConfig
from bigcartel_sandbox.data import ANCHOR_MS, WINDOW_START_MS, ShopData, shop_generators
from bigcartel_sandbox.queries import LIST_SPECS, ListQuery, RangeFilter
from bigcartel_sandbox.store import LIST_KINDS, Store


def _generate(**overrides: int) -> list[ShopData]:
    config = SandboxConfig(
        **{"shops": 2, "orders_per_shop": 400, "products_per_shop": 200, **overrides}
    )
    return [generator.generate() for generator in shop_generators(config)]


@pytest.fixture(scope="module")
def shops() -> list[ShopData]:
    return _generate()


def _rendered(store: Store) -> bytes:
    """Every record of every shop, as the API renders it."""
    documents = []
    for shop in store.shops:
        documents.append(store.account_document(shop.account_id, "http://x"))
        for kind in LIST_KINDS:
            query = ListQuery(sort=LIST_SPECS[kind].default_sort, limit=10**6)
            result = store.list_page(shop.account_id, kind, query, "http://x")
            documents.append({"data": result.data, "included": result.included})
    return json.dumps(documents).encode()


def test_same_seed_same_data_byte_for_byte() -> None:
    config = SandboxConfig(shops=2, orders_per_shop=80, products_per_shop=15, seed=11)
    first, second = Store(config), Store(config)
    assert _rendered(first) == _rendered(second)
    assert _generate(seed=3) == _generate(seed=3)


def test_other_seed_other_data() -> None:
    assert _generate(seed=3) != _generate(seed=4)
    one = Store(SandboxConfig(seed=1, orders_per_shop=10))
    two = Store(SandboxConfig(seed=2, orders_per_shop=10))
    assert _rendered(one) != _rendered(two)


def test_a_shop_does_not_depend_on_how_many_shops_there_are() -> None:
    assert _generate(shops=1)[0] == _generate(shops=3)[0]


def test_shop_credentials_and_countries(shops: list[ShopData]) -> None:
    five = [g.shop for g in shop_generators(SandboxConfig(shops=6))]
    assert [s.country for s in five] == ["US", "CA", "GB", "DE", "AU", "US"]
    second = five[1]
    assert (second.account_id, second.subdomain, second.password, second.access_token) == (
        "1002",
        "shop2",
        "sandbox-password-2",
        "sandbox-token-1002",
    )
    assert shops[0].orders[0].id.split("-")[0] != shops[1].orders[0].id.split("-")[0]
    assert re.fullmatch(r"[A-Z]{4}-\d{6}", shops[0].orders[0].id)


def test_product_descriptions_and_options(shops: list[ShopData]) -> None:
    products = [p for shop in shops for p in shop.products]
    with_sku = [p for p in products if "sku:" in p.description.lower()]
    assert 0.55 < len(with_sku) / len(products) < 0.85
    descriptions = [p.description for p in with_sku]
    assert any("SKU:" in d for d in descriptions) and any("sku:" in d for d in descriptions)
    assert any(d.startswith("<p>") for d in descriptions)
    assert any(d != d.strip() for d in descriptions)
    assert any(d.lower().count("sku:") == 2 for d in descriptions)
    single = [p for p in products if len(p.options) == 1]
    assert 0.35 < len(single) / len(products) < 0.65
    names = {o.name for p in products for o in p.options}
    assert {"Default", "SMALL", "MEDIUM", "X-LARGE", "Black"} <= names
    assert {p.status for p in products} == {"active", "hidden", "sold_out", "coming_soon"}


def test_orders_cover_every_status_and_destination(shops: list[ShopData]) -> None:
    for shop in shops:
        orders = shop.orders
        pairs = Counter((o.payment_status, o.shipping_status) for o in orders)
        assert {p for p, _ in pairs} == {"unpaid", "pending", "completed", "failed", "invalid"}
        assert {s for _, s in pairs} == {"shipped", "unshipped"}
        assert pairs["completed", "unshipped"] > len(orders) / 2
        domestic = sum(o.shipping_country.id == shop.shop.country for o in orders)
        assert 0 < domestic < len(orders)
        assert {len(o.items) for o in orders} == {1, 2, 3, 4}
        assert all(o.events and o.adjustments for o in orders)


def test_orders_are_consistent(shops: list[ShopData]) -> None:
    for shop in shops:
        options = {o.id: (p.id, o) for p in shop.products for o in p.options}
        for order in shop.orders:
            assert WINDOW_START_MS <= order.created_at <= order.updated_at < ANCHOR_MS
            if order.completed_at is not None:
                assert order.created_at <= order.completed_at <= order.updated_at
            assert (order.completed_at is not None) == (order.payment_status == "completed")
            for item in order.items:
                product_id, option = options[item.product_option_id]
                assert item.product_id == product_id and item.price == option.price
                shipped = item.quantity if order.shipping_status == "shipped" else 0
                assert item.quantity_shipped == shipped
            assert order.tax_total == sum(item.tax_total for item in order.items)
            for transaction in order.transactions:
                assert transaction.amount == order.total


def test_orders_share_updated_at_in_groups(shops: list[ShopData]) -> None:
    groups = Counter(o.updated_at for o in shops[0].orders)
    assert sum(1 for size in groups.values() if size > 1) >= len(shops[0].orders) // 20


@pytest.fixture(scope="module")
def big_shop() -> Iterator[tuple[Sandbox, float]]:
    started = time.perf_counter()
    sandbox = Sandbox(SandboxConfig(shops=1, orders_per_shop=100_000, products_per_shop=50))
    elapsed = time.perf_counter() - started
    with sandbox:
        yield sandbox, elapsed


def test_one_hundred_thousand_orders_generate_quickly(big_shop: tuple[Sandbox, float]) -> None:
    sandbox, elapsed = big_shop
    assert elapsed < 20, f"generating 100,000 orders took {elapsed:.1f} s"
    query = ListQuery(sort="created_at", limit=1)
    assert sandbox.store.list_page("1001", "orders", query, "http://x").count == 100_000


def test_a_page_of_a_big_shop_is_a_slice_not_a_sort(big_shop: tuple[Sandbox, float]) -> None:
    sandbox, _ = big_shop
    since = "2026-01-01T00:00:00.000Z"
    bounds = (RangeFilter("updated_at", 1_767_225_600_000, None),)

    def median_ms(limit: int) -> float:
        query = ListQuery(sort="updated_at", limit=limit, offset=1_000, ranges=bounds)
        times = []
        for _ in range(9):
            started = time.perf_counter()
            sandbox.store.list_page("1001", "orders", query, "http://x")
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    # Sorting 100,000 records costs far more than either bound.
    assert median_ms(1) < 5
    assert median_ms(100) < 50

    response = requests.get(
        f"{sandbox.url}/v1/accounts/1001/orders",
        params={"sort": "updated_at", "filter[updated_at_from]": since, "page[limit]": 100},
        headers={"User-Agent": USER_AGENT, "Accept": JSONAPI},
        auth=("shop1", "sandbox-password-1"),
    )
    body = response.json()
    stamps = [o["attributes"]["updated_at"] for o in body["data"]]
    assert len(stamps) == 100 and stamps == sorted(stamps) and stamps[0] >= since
    assert 0 < int(body["meta"]["count"]) < 100_000
