"""tap-bigcartel against the emulator over real HTTP: completeness, increments, faults, auth."""

from __future__ import annotations

import collections
import decimal
import math
import time

import pytest
import requests
from emulator_api import emulator_ids
from tap_runner import fast_config, run_tap

from bigcartel_core.errors import BigCartelAPIError
from bigcartel_core.version import package_version, project_contact
from bigcartel_sandbox import Sandbox, SandboxConfig
from tap_bigcartel.exceptions import ShopsFailedError
from tap_bigcartel.tap import TapBigCartel

ACCOUNT_STREAMS = ("accounts", "artists", "categories", "discounts", "orders", "products")


def _ids(sandbox: Sandbox, resource: str) -> set[tuple[str, str]]:
    return set(emulator_ids(sandbox, resource))


def test_full_sync_emits_every_record_of_every_stream_once(sandbox: Sandbox) -> None:
    run = run_tap(fast_config(sandbox))
    assert run.error is None
    for stream in ("artists", "categories", "discounts", "orders", "products"):
        emitted = run.ids(stream)
        assert set(emitted) == _ids(sandbox, stream), stream
        assert len(emitted) == len(set(emitted)), f"{stream} has duplicates"
    assert {r["id"] for r in run.records["accounts"]} == {s.account_id for s in sandbox.shops}
    assert len(run.records["countries"]) > 10
    assert "account_id" not in run.records["countries"][0]
    for stream in ACCOUNT_STREAMS:
        assert all(r["account_id"] for r in run.records[stream])


def test_records_follow_the_reference_model(sandbox: Sandbox) -> None:
    run = run_tap(fast_config(sandbox), streams=["orders", "products", "accounts"])
    order = run.records["orders"][0]
    assert isinstance(order["id"], str)
    assert set(order["currency"]) >= {"id", "name", "sign", "locale"}
    assert set(order["shipping_country"]) == {"id", "name"}
    item = order["items"][0]
    assert set(item) >= {"id", "product_name", "quantity", "price", "product", "product_option"}
    assert set(item["product"]) == {"id"}
    assert "quantity_unshipped" in item
    assert isinstance(order["total"], (int, float))
    product = run.records["products"][0]
    assert isinstance(product["options"], list) and "name" in product["options"][0]
    account = run.records["accounts"][0]
    assert {"currency", "country", "plan"} <= set(account)


def test_money_is_exact_on_the_wire(sandbox: Sandbox) -> None:
    run = run_tap(fast_config(sandbox), streams=["orders"])
    for order in run.records["orders"]:
        items_total = sum(decimal.Decimal(str(i["total"])) for i in order["items"])
        assert decimal.Decimal(str(order["item_total"])) == items_total


def test_second_run_emits_exactly_the_changed_records(sandbox: Sandbox) -> None:
    config = fast_config(sandbox)
    first = run_tap(config)
    assert first.error is None
    shop = sandbox.shops[0]
    changed_orders = set(sandbox.store.update_orders(shop.account_id, 7))
    changed_products = set(sandbox.store.update_products(shop.account_id, 5))

    second = run_tap(config, state=first.state)
    assert second.error is None
    orders = {r["id"] for r in second.records.get("orders", [])}
    products = {r["id"] for r in second.records.get("products", [])}
    assert changed_orders <= orders
    assert changed_products <= products
    # Only boundary duplicates (records sharing the bookmark's instant) may come again.
    assert len(orders - changed_orders) <= 2 * len(sandbox.shops)
    assert len(products - changed_products) <= 2 * len(sandbox.shops)


def test_bookmarks_are_kept_per_shop(sandbox: Sandbox) -> None:
    run = run_tap(fast_config(sandbox), streams=["orders"])
    partitions = run.state["bookmarks"]["orders"]["partitions"]
    assert {p["context"]["account_id"] for p in partitions} == {s.account_id for s in sandbox.shops}
    assert all(p["replication_key_value"] for p in partitions)


def test_no_request_is_wasted_on_an_empty_last_page(sandbox: Sandbox) -> None:
    config = fast_config(sandbox, page_size=10)
    sandbox.clear_requests()
    run = run_tap(config, streams=["categories", "orders"])
    assert run.error is None
    per_shop = collections.Counter(
        (r["path"].split("/")[3], r["path"].split("/")[-1]) for r in sandbox.requests
    )
    for shop in sandbox.shops:
        categories = sum(1 for r in run.records["categories"] if r["account_id"] == shop.account_id)
        assert per_shop[(shop.account_id, "categories")] == max(1, math.ceil(categories / 10))
        orders = sum(1 for r in run.records["orders"] if r["account_id"] == shop.account_id)
        assert per_shop[(shop.account_id, "orders")] <= math.ceil(orders / 10) + 2


@pytest.mark.parametrize(
    ("stream", "mode"),
    [
        # Ascending offset paging skips a record each time an already-read one is updated;
        # newest-first offset paging skips when an unread one is (it jumps to the front).
        ("orders", "read"),
        ("orders", "random"),
        ("products", "unread"),
        ("products", "random"),
    ],
)
def test_concurrent_updates_while_paging_lose_nothing(stream: str, mode: str) -> None:
    config_kwargs = {"shops": 1, "orders_per_shop": 300, "products_per_shop": 300, "seed": 3}
    with Sandbox(SandboxConfig(**config_kwargs)) as sandbox:
        before = _ids(sandbox, stream)
        sandbox.store.mutate_while_paging = {stream: 4}
        sandbox.store.mutate_while_paging_mode = mode
        config = fast_config(sandbox, page_size=20)
        first = run_tap(config, streams=[stream])
        assert first.error is None
        sandbox.store.mutate_while_paging = {}
        # Records updated during the run may come in this run or the next, never in neither.
        second = run_tap(config, state=first.state, streams=[stream])
        assert before <= set(first.ids(stream)) | set(second.ids(stream))
        if stream == "orders":
            assert before <= set(first.ids(stream)), "seek paging must not need a second run"


def test_faults_at_ten_percent_lose_nothing() -> None:
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=400, products_per_shop=150, seed=5)) as sb:
        expected = {name: _ids(sb, name) for name in ("orders", "products", "categories")}
        sb.faults.retry_after = 0
        sb.faults.error_rate = 0.04
        sb.faults.rate_limit_rate = 0.03
        sb.faults.drop_rate = 0.03
        # One of each kind for certain, whatever the random draws do.
        sb.faults.fail_next(1, status=429, retry_after=0)
        sb.faults.drop_next(1)
        sb.faults.fail_next(1, status=502)
        run = run_tap(fast_config(sb, page_size=10, max_retries=10), streams=list(expected))
        assert run.error is None
        statuses = collections.Counter(r["status"] for r in sb.requests)
        assert statuses[429] and statuses[0] and sum(statuses[s] for s in (500, 502, 503))
        faulted = sum(statuses[s] for s in (0, 429, 500, 502, 503))
        assert faulted >= 0.05 * sum(statuses.values())
        for name, ids in expected.items():
            assert set(run.ids(name)) == ids, name


def test_retry_after_is_honoured(sandbox: Sandbox) -> None:
    sandbox.faults.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    run = run_tap(fast_config(sandbox, max_retry_wait=5), streams=["countries"])
    assert run.error is None
    assert time.monotonic() - started >= 1.0


def test_every_request_identifies_itself(sandbox: Sandbox) -> None:
    sandbox.clear_requests()
    run_tap(fast_config(sandbox, user_agent="acme-fulfillment (ops@example.com)"))
    assert sandbox.requests
    for request in sandbox.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["user-agent"] == "acme-fulfillment (ops@example.com)"
        assert headers["accept"] == "application/vnd.api+json"


def test_default_user_agent_names_the_tap(sandbox: Sandbox) -> None:
    sandbox.clear_requests()
    run_tap(fast_config(sandbox), streams=["countries"])
    agent = {k.lower(): v for k, v in sandbox.requests[0]["headers"].items()}["user-agent"]
    contact = project_contact()  # from [project.urls]; none declared yet, so no contact
    assert agent == f"tap-bigcartel/{package_version()}" + (f" (+{contact})" if contact else "")


def test_basic_auth_discovers_the_account(sandbox: Sandbox) -> None:
    shop = sandbox.shops[1]
    config = fast_config(sandbox, subdomain=shop.subdomain, password=shop.password)
    del config["accounts"]
    run = run_tap(config, streams=["accounts", "orders"])
    assert run.error is None
    assert {r["account_id"] for r in run.records["orders"]} == {shop.account_id}
    auth_headers = {
        {k.lower(): v for k, v in r["headers"].items()}["authorization"].split()[0]
        for r in sandbox.requests
    }
    assert auth_headers == {"Basic"}


def test_bearer_token_without_account_id_discovers_it(sandbox: Sandbox) -> None:
    shop = sandbox.shops[0]
    config = fast_config(sandbox, access_token=shop.access_token)
    del config["accounts"]
    run = run_tap(config, streams=["accounts"])
    assert run.error is None
    assert [r["id"] for r in run.records["accounts"]] == [shop.account_id]


@pytest.mark.parametrize(("max_retries", "found"), [(0, False), (3, True)])
def test_the_account_lookup_retries_as_the_settings_say(
    sandbox: Sandbox, max_retries: int, found: bool
) -> None:
    shop = sandbox.shops[0]
    config = fast_config(sandbox, access_token=shop.access_token, max_retries=max_retries)
    del config["accounts"]
    sandbox.faults.fail_next(3, status=503)
    run = run_tap(config, streams=["accounts"])
    assert (run.error is None) is found
    assert [r["id"] for r in run.records.get("accounts", [])] == (
        [shop.account_id] if found else []
    )


def test_one_revoked_token_does_not_stop_the_other_shops(sandbox: Sandbox) -> None:
    revoked, healthy = sandbox.shops
    healthy_orders = {key for key in _ids(sandbox, "orders") if key[0] == healthy.account_id}
    sandbox.store.revoke_token(revoked.account_id)
    run = run_tap(fast_config(sandbox), streams=["orders", "products", "categories"])
    assert isinstance(run.error, ShopsFailedError)
    assert set(run.error.failures) == {revoked.account_id}
    assert "401" in run.error.failures[revoked.account_id]
    assert {r["account_id"] for r in run.records["orders"]} == {healthy.account_id}
    assert set(run.ids("orders")) == healthy_orders
    # The revoked shop's bookmark did not move.
    partitions = run.state["bookmarks"]["orders"]["partitions"]
    by_shop = {p["context"]["account_id"]: p for p in partitions}
    assert "replication_key_value" not in by_shop.get(revoked.account_id, {})


def test_unknown_account_is_a_clear_error(sandbox: Sandbox) -> None:
    config = fast_config(sandbox)
    config["accounts"].append({"account_id": "999999", "access_token": "whatever"})
    run = run_tap(config, streams=["categories"])
    assert isinstance(run.error, ShopsFailedError)
    assert "999999" in run.error.failures


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Accept": "application/json", "User-Agent": "t"}, 406),
        ({"Accept": "x", "User-Agent": ""}, 400),
    ],
)
def test_client_errors_carry_the_apis_own_words(sandbox: Sandbox, headers, status) -> None:
    shop = sandbox.shops[0]
    response = requests.get(
        f"{sandbox.url}/v1/accounts/{shop.account_id}/orders",
        headers={**headers, "Authorization": f"Bearer {shop.access_token}"},
        timeout=10,
    )
    assert response.status_code == status
    detail = response.json()["errors"][0]["detail"]
    stream = TapBigCartel(config=fast_config(sandbox)).streams["orders"]
    with pytest.raises(BigCartelAPIError) as raised:
        stream.validate_response(response)
    assert str(status) in str(raised.value) and detail in str(raised.value)
    assert shop.access_token not in str(raised.value)


def test_start_date_bounds_the_first_run(sandbox: Sandbox) -> None:
    everything = run_tap(fast_config(sandbox), streams=["orders", "products"])
    stamps = sorted(r["updated_at"] for r in everything.records["orders"])
    start = stamps[len(stamps) // 2]
    bounded = run_tap(fast_config(sandbox, start_date=start), streams=["orders", "products"])
    assert bounded.error is None
    expected = {r["id"] for r in everything.records["orders"] if r["updated_at"] >= start}
    assert {r["id"] for r in bounded.records["orders"]} == expected
    assert len(expected) < len(everything.records["orders"])
    assert all(r["updated_at"] >= start for r in bounded.records["products"])


@pytest.mark.parametrize("emit", [False, True])
def test_activate_version_is_emitted_for_full_table_streams_when_switched_on(
    sandbox: Sandbox, emit: bool
) -> None:
    run = run_tap(
        fast_config(sandbox, emit_activate_version_messages=emit), streams=["countries", "orders"]
    )
    assert run.error is None
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == ({"countries"} if emit else set())
