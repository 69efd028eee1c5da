"""webhook_db_url: product deletes read from the webhook store, and deauthorized shops skipped."""

from __future__ import annotations

import json
import typing as t
from datetime import datetime, timedelta, timezone

import pytest
from tap_runner import fast_config, run_tap
from webhook_events import deliver, store_url

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_sandbox import Sandbox
from tap_bigcartel.tap import TapBigCartel

BOOKMARK = "deletes_received_before"


@pytest.fixture
def store(sqlite_url: str) -> t.Iterator[WebhookStore]:
    webhook_store = WebhookStore(sqlite_url)
    yield webhook_store
    webhook_store.close()


def config(sandbox: Sandbox, store: WebhookStore, **overrides: t.Any) -> dict[str, t.Any]:
    return fast_config(
        sandbox, **{"webhook_db_url": store_url(store), "webhook_settle_seconds": 0, **overrides}
    )


def deletes(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["account_id"], r["id"]) for r in records if r.get("_sdc_deleted_at")]


def partition(state: dict, stream: str, account_id: str) -> dict:
    for entry in state["bookmarks"][stream]["partitions"]:
        if entry["context"]["account_id"] == account_id:
            return entry
    raise AssertionError(f"no {stream} partition for {account_id}")


def test_a_deleted_product_becomes_one_delete_record(sandbox: Sandbox, store: WebhookStore) -> None:
    shop, other = (s.account_id for s in sandbox.shops)
    first = run_tap(config(sandbox, store), streams=["products"])
    assert first.error is None
    assert deletes(first.records["products"]) == []
    product_id = first.ids("products")[0][1]

    sandbox.store.delete_product(shop, product_id)
    deliver(store, shop, "product.deleted", {"id": product_id})
    second = run_tap(config(sandbox, store), state=first.state, streams=["products"])
    assert second.error is None
    records = [r for r in second.records["products"] if r.get("_sdc_deleted_at")]
    assert [(r["account_id"], r["id"]) for r in records] == [(shop, product_id)]
    (record,) = records
    assert record["updated_at"] is None
    assert datetime.fromisoformat(record["_sdc_deleted_at"]) <= datetime.now(timezone.utc)

    # The deletes bookmark is kept apart: the updated_at bookmark stays Big Cartel's.
    before, after = (partition(run.state, "products", shop) for run in (first, second))
    assert after["replication_key_value"] == before["replication_key_value"]
    assert after[BOOKMARK] > before[BOOKMARK]
    assert BOOKMARK in partition(second.state, "products", other), "every shop has its own"

    # Emitted once per state: a third run from the second's state has no deletes.
    third = run_tap(config(sandbox, store), state=second.state, streams=["products"])
    assert deletes(third.records.get("products", [])) == []
    # From the first state again (a run that failed before saving its state): again.
    replay = run_tap(config(sandbox, store), state=first.state, streams=["products"])
    assert deletes(replay.records["products"]) == [(shop, product_id)]


def test_deletes_of_the_settle_window_wait_for_the_next_run(
    sandbox: Sandbox, store: WebhookStore
) -> None:
    shop = sandbox.shops[0].account_id
    now = datetime.now(timezone.utc)
    deliver(store, shop, "product.deleted", {"id": "old"}, received_at=now - timedelta(hours=1))
    deliver(store, shop, "product.deleted", {"id": "new"}, received_at=now)
    run = run_tap(config(sandbox, store, webhook_settle_seconds=600), streams=["products"])
    assert deletes(run.records["products"]) == [(shop, "old")]
    next_run = run_tap(config(sandbox, store), state=run.state, streams=["products"])
    assert deletes(next_run.records["products"]) == [(shop, "new")]


def test_start_date_bounds_the_first_runs_deletes(sandbox: Sandbox, store: WebhookStore) -> None:
    shop = sandbox.shops[0].account_id
    now = datetime.now(timezone.utc)
    deliver(store, shop, "product.deleted", {"id": "ancient"}, received_at=now - timedelta(days=9))
    deliver(store, shop, "product.deleted", {"id": "recent"}, received_at=now - timedelta(days=1))
    start = (now - timedelta(days=2)).isoformat()
    run = run_tap(config(sandbox, store, start_date=start), streams=["products"])
    assert deletes(run.records["products"]) == [(shop, "recent")]


def test_ignored_and_malformed_deletes_make_no_records(
    sandbox: Sandbox, store: WebhookStore
) -> None:
    shop = sandbox.shops[0].account_id
    deliver(store, shop, "product.deleted", {"id": "switched-off"}, status="ignored")
    deliver(store, shop, "product.deleted", {"name": "no id"})
    run = run_tap(config(sandbox, store), streams=["products"])
    assert run.error is None
    assert deletes(run.records["products"]) == []
    (failed,) = store.list_events(status="failed")
    assert failed.error == "product.deleted payload without an id"


def test_a_deauthorized_shop_is_skipped_and_the_run_succeeds(
    sandbox: Sandbox, store: WebhookStore
) -> None:
    shop, other = (s.account_id for s in sandbox.shops)
    first = run_tap(config(sandbox, store), streams=["orders"])
    sandbox.store.revoke_token(shop)
    deliver(store, shop, "account.deauthorized", {"id": shop})
    sandbox.store.update_orders(other, 2)

    sandbox.clear_requests()
    second = run_tap(config(sandbox, store), state=first.state, streams=["orders"])
    assert second.error is None, "a deauthorized shop is not a failure"
    assert {account for account, _ in second.ids("orders")} == {other}
    assert not [r for r in sandbox.requests if f"/accounts/{shop}" in r["path"]]
    assert partition(second.state, "orders", shop) == partition(first.state, "orders", shop)

    # The owner approves the app again (its token works again), and the shop is marked
    # connected: synced again, from its kept bookmark.
    credentials = sandbox.store.credentials
    code = credentials.issue_code(shop, credentials.client_id, "http://127.0.0.1/callback")
    credentials.redeem_code(code, credentials.client_id, None)
    store.mark_connected(shop, "test")
    changed = sandbox.store.update_orders(shop, 1)
    third = run_tap(config(sandbox, store), state=second.state, streams=["orders"])
    assert third.error is None
    assert {(shop, order_id) for order_id in changed} <= set(third.ids("orders"))
    assert len(third.ids("orders")) < 10, "incremental, from the kept bookmark"


def test_a_replayed_deauthorization_after_a_reconnect_does_not_skip_the_shop(
    sandbox: Sandbox, db_url: str
) -> None:
    shop, other = (s.account_id for s in sandbox.shops)
    store = WebhookStore(db_url)
    deliver(store, shop, "account.deauthorized", {"id": shop})
    store.mark_connected(shop, "test")
    # Big Cartel retries the old delivery (our 2xx was lost): the same body, after the reconnect.
    deliver(store, shop, "account.deauthorized", {"id": shop})
    run = run_tap(config(sandbox, store), streams=["orders"])
    store.close()
    assert run.error is None
    assert {account for account, _ in run.ids("orders")} == {shop, other}


def test_all_shops_deauthorized_is_an_empty_successful_run(
    sandbox: Sandbox, store: WebhookStore
) -> None:
    for shop in sandbox.shops:
        deliver(store, shop.account_id, "account.deauthorized", {"id": shop.account_id})
    sandbox.clear_requests()
    run = run_tap(config(sandbox, store))
    assert run.error is None
    assert run.records == {}
    assert sandbox.requests == []


def test_an_unreachable_store_is_a_clear_error_without_the_password(sandbox: Sandbox) -> None:
    url = "postgresql+psycopg://fulfil:s3cret-pw@127.0.0.1:1/webhooks"
    run = run_tap(fast_config(sandbox, webhook_db_url=url), streams=["products"])
    assert run.error is not None
    assert "webhook_db_url" in str(run.error)
    assert "s3cret-pw" not in str(run.error)
    assert "s3cret-pw" not in json.dumps(run.messages)


def test_the_webhook_url_is_a_secret() -> None:
    assert TapBigCartel.config_jsonschema["properties"]["webhook_db_url"].get("secret") is True
