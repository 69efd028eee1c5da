"""tap-bigcartel | target-fulfillment end to end, over HTTP, against both emulators."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from backend_calls import create_requests, creates_per_key
from emulator_api import documents
from pipeline import run_pipeline, run_target, tap_config, target_config
from webhook_events import deliver, store_url

from bigcartel_core import jsonapi
from bigcartel_core.webhook_store import WebhookStore
from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox import ShipStationSandbox
from tap_bigcartel.schemas import PRODUCTS
from target_fulfillment.ledger import Ledger

SS_KEY, SS_SECRET = "ss-api-key-for-tests", "ss-api-secret-for-tests"


def bc_orders(sandbox: Sandbox) -> dict[str, dict]:
    """Every order of every shop, by order key, read through the emulator's API."""
    return {
        f"bigcartel-{shop.account_id}-{order['id']}": order
        for shop in sandbox.shops
        for page in documents(sandbox, shop, f"/v1/accounts/{shop.account_id}/orders")
        for order in jsonapi.records(page)
    }


def eligible(orders: dict[str, dict]) -> set[str]:
    return {
        key
        for key, order in orders.items()
        if order["payment_status"] == "completed" and order["shipping_status"] == "unshipped"
    }


@pytest.fixture
def bc() -> t.Iterator[Sandbox]:
    with Sandbox(SandboxConfig(shops=2, orders_per_shop=40, products_per_shop=15, seed=4)) as sb:
        yield sb


@pytest.fixture
def ss() -> t.Iterator[ShipStationSandbox]:
    with ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET) as sandbox:
        yield sandbox


def shipstation_settings(bc: Sandbox, ss: ShipStationSandbox, workdir: Path, **extra):
    settings = {
        "backend": "shipstation",
        "shipstation_api_url": ss.url,
        "shipstation_api_key": SS_KEY,
        "shipstation_api_secret": SS_SECRET,
    }
    return target_config(bc, workdir, **{**settings, **extra})


def test_shipstation_end_to_end(bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path) -> None:
    settings = shipstation_settings(bc, ss, tmp_path)
    first = run_pipeline(tmp_path, tap_config(bc), settings)
    assert (first.tap_returncode, first.target_returncode) == (0, 0), first.stderr[-3000:]

    orders = bc_orders(bc)
    sent = {order["orderKey"]: order for order in ss.store.orders()}
    ledger = Ledger(settings["ledger_url"])
    held = {entry.order_key: entry.hold_reason for entry in ledger.by_state("held")}
    # Every paid, unshipped order is at the warehouse or held with a reason; nothing else is.
    assert set(sent) | set(held) == eligible(orders)
    assert not set(sent) & set(held)
    assert sent and held, "the seeded shops have both SKU'd and SKU-less products"
    assert all(reason for reason in held.values())
    for key, order in sent.items():
        assert order["orderStatus"] == "awaiting_shipment"
        assert order["orderNumber"] == orders[key]["id"]
        assert all(item["sku"] for item in order["items"])
        assert order["requestedShippingService"] in ("DOMESTIC_DEFAULT", "INTERNATIONAL_DEFAULT")
        domestic = order["shipTo"]["country"] == next(
            s.country for s in bc.shops if key.startswith(f"bigcartel-{s.account_id}-")
        )
        assert (order["requestedShippingService"] == "DOMESTIC_DEFAULT") is domestic
    assert "held" in first.stderr and "sent" in first.stderr

    # A second run with nothing new sends nothing again.
    posts_before = create_requests(ss.requests)
    second = run_pipeline(tmp_path, tap_config(bc), settings, state=first.state)
    assert second.target_returncode == 0, second.stderr[-3000:]
    assert create_requests(ss.requests) == posts_before

    # The warehouse ships three orders; the next run writes tracking back to Big Cartel, once.
    shipped = sorted(sent)[:3]
    tracking = {key: ss.store.ship(key)["trackingNumber"] for key in shipped}
    third = run_pipeline(tmp_path, tap_config(bc), settings, state=second.state)
    assert third.target_returncode == 0, third.stderr[-3000:]
    for key in shipped:
        account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
        shipments = bc.store.shipments(account_id, order_id)
        assert len(shipments) == 1
        assert shipments[0]["tracking_number"] == tracking[key]
        assert ledger.find_by_key(key).state == "written_back"
    assert {k for k, o in bc_orders(bc).items() if o["shipping_status"] == "shipped"} >= set(
        shipped
    )
    fourth = run_pipeline(tmp_path, tap_config(bc), settings, state=third.state)
    assert fourth.target_returncode == 0
    for key in shipped:
        account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
        assert len(bc.store.shipments(account_id, order_id)) == 1


def test_file_backend_end_to_end(bc: Sandbox, tmp_path: Path) -> None:
    settings = target_config(bc, tmp_path, backend="file")
    first = run_pipeline(tmp_path, tap_config(bc), settings)
    assert first.target_returncode == 0, first.stderr[-3000:]
    outbox = tmp_path / "outbox"
    files = {path.stem: json.loads(path.read_text()) for path in outbox.glob("bigcartel-*.json")}
    ledger = Ledger(settings["ledger_url"])
    held = {entry.order_key for entry in ledger.by_state("held")}
    assert set(files) | held == eligible(bc_orders(bc))

    key = sorted(files)[0]
    confirmation = {
        "format": "bigcartel-fulfillment/shipment@1",
        "order_key": key,
        "carrier": "ups",
        "tracking_number": "1Z999",
        "tracking_url": "https://www.ups.com/track?tracknum=1Z999",
        "shipped_at": "2026-11-20T10:00:00Z",
        "items": [
            {"line_item_key": item["line_item_key"], "quantity": item["quantity"]}
            for item in files[key]["items"]
        ],
    }
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "shipment-1.json").write_text(json.dumps(confirmation))
    second = run_pipeline(tmp_path, tap_config(bc), settings, state=first.state)
    assert second.target_returncode == 0, second.stderr[-3000:]
    account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
    [shipment] = bc.store.shipments(account_id, order_id)
    assert (shipment["carrier"], shipment["tracking_number"]) == ("ups", "1Z999")


def test_write_back_falls_back_to_patch(bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path):
    settings = shipstation_settings(bc, ss, tmp_path)
    first = run_pipeline(tmp_path, tap_config(bc), settings)
    key = sorted(o["orderKey"] for o in ss.store.orders())[0]
    ss.store.ship(key)
    bc.store.shipments_enabled = False
    run_target(tmp_path, settings, [])
    assert bc_orders(bc)[key]["shipping_status"] == "shipped"
    assert Ledger(settings["ledger_url"]).find_by_key(key).writeback_method == "patch"
    assert first.target_returncode == 0


def test_a_held_order_is_sent_once_an_override_names_its_sku(
    bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path
) -> None:
    settings = shipstation_settings(bc, ss, tmp_path)
    run_pipeline(tmp_path, tap_config(bc), settings)
    ledger = Ledger(settings["ledger_url"])
    entry = ledger.by_state("held")[0]
    order = bc_orders(bc)[entry.order_key]
    overrides = {
        str(item["product"]["id"]): f"OVERRIDE-{item['product']['id']}" for item in order["items"]
    }
    # No new tap data: the held order is re-evaluated from the target's own store.
    result = run_target(tmp_path, {**settings, "sku_overrides": overrides}, [])
    assert result.target_returncode == 0, result.stderr[-3000:]
    assert ledger.find_by_key(entry.order_key).state == "submitted"
    [sent] = [o for o in ss.store.orders() if o["orderKey"] == entry.order_key]
    assert {item["sku"] for item in sent["items"]} <= set(overrides.values())


def test_address_change_updates_the_open_order_and_is_reported_once_locked(
    bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path
) -> None:
    settings = shipstation_settings(bc, ss, tmp_path)
    first = run_pipeline(tmp_path, tap_config(bc), settings)
    open_key, locked_key = sorted(o["orderKey"] for o in ss.store.orders())[:2]
    before = {o["orderKey"]: o for o in ss.store.orders()}
    ss.store.ship(locked_key)
    for key in (open_key, locked_key):
        account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
        bc.store.update_order(account_id, order_id, shipping_address_1="99 New Road")
    second = run_pipeline(tmp_path, tap_config(bc), settings, state=first.state)
    assert second.target_returncode == 0, second.stderr[-3000:]
    after = {o["orderKey"]: o for o in ss.store.orders()}
    assert after[open_key]["shipTo"]["street1"] == "99 New Road"
    assert after[open_key]["orderId"] == before[open_key]["orderId"]
    assert after[locked_key]["shipTo"]["street1"] != "99 New Road"
    ledger = Ledger(settings["ledger_url"])
    assert ledger.find_by_key(locked_key).pending_change
    assert locked_key in second.stderr


def test_an_order_whose_payment_fails_after_sending_is_cancelled(
    bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path
) -> None:
    settings = shipstation_settings(bc, ss, tmp_path)
    first = run_pipeline(tmp_path, tap_config(bc), settings)
    key = sorted(o["orderKey"] for o in ss.store.orders())[0]
    account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
    bc.store.update_order(account_id, order_id, payment_status="failed")
    second = run_pipeline(tmp_path, tap_config(bc), settings, state=first.state)
    assert second.target_returncode == 0, second.stderr[-3000:]
    [order] = [o for o in ss.store.orders() if o["orderKey"] == key]
    assert order["orderStatus"] == "cancelled"
    assert Ledger(settings["ledger_url"]).find_by_key(key).state == "cancelled"


def test_dry_run_sends_and_writes_nothing(bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path):
    settings = shipstation_settings(bc, ss, tmp_path, dry_run=True)
    run = run_pipeline(tmp_path, tap_config(bc), settings)
    assert run.target_returncode == 0, run.stderr[-3000:]
    assert ss.store.orders() == []
    assert "dry run" in run.stderr
    assert Ledger(settings["ledger_url"]).counts().get("submitted", 0) == 0


def test_unknown_streams_are_ignored_without_side_effects(bc: Sandbox, tmp_path: Path) -> None:
    settings = target_config(bc, tmp_path, backend="file")
    lines = [
        {
            "type": "SCHEMA",
            "stream": "meltano_test_stream",
            "key_properties": [],
            "schema": {"type": "object", "properties": {"anything": {"type": "string"}}},
        },
        {"type": "RECORD", "stream": "meltano_test_stream", "record": {"anything": "x"}},
    ]
    run = run_target(tmp_path, settings, lines)
    assert run.target_returncode == 0
    output = (run.stdout + run.stderr).lower()
    assert "error" not in output and "exception" not in output
    assert not (tmp_path / "ledger.db").exists()
    assert not (tmp_path / "outbox").exists()


def test_secrets_stay_out_of_logs(bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path) -> None:
    settings = shipstation_settings(bc, ss, tmp_path, shipstation_api_secret="wrong-" + SS_SECRET)
    run = run_pipeline(tmp_path, tap_config(bc), settings)
    secrets = [SS_KEY, "wrong-" + SS_SECRET, *(s.access_token for s in bc.shops)]
    logs = run.stdout + run.stderr + (tmp_path / "tap.log").read_text()
    assert "401" in run.stderr or "shipstation_api_key" in run.stderr
    for secret in secrets:
        assert secret not in logs


def test_invalid_config_names_the_setting(bc: Sandbox, tmp_path: Path) -> None:
    settings = target_config(bc, tmp_path, backend="shipstation")
    run = run_target(tmp_path, settings, [])
    assert run.target_returncode != 0
    assert "shipstation_api_key" in run.stderr


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_an_ambiguous_timeout_is_settled_without_a_duplicate(
    bc: Sandbox, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    with ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET, timeout_hang_seconds=1.5) as ss:
        # One batch, one create call: its answer is lost (it was one call per order before).
        ss.store.timeout_next_create(1)
        settings = shipstation_settings(
            bc, ss, tmp_path, request_timeout=1, ledger_url=request.getfixturevalue(database)
        )
        first = run_pipeline(tmp_path, tap_config(bc), settings)
        assert first.target_returncode == 0, first.stderr[-3000:]
        second = run_pipeline(tmp_path, tap_config(bc), settings, state=first.state)
        assert second.target_returncode == 0, second.stderr[-3000:]
        sends = creates_per_key(ss.requests)
        assert ss.store.pending_create_timeouts == 0, "the emulator's timeout switch did not fire"
        assert set(sends) == {o["orderKey"] for o in ss.store.orders()}
        assert max(sends.values()) == 1
        ledger = Ledger(settings["ledger_url"])
        assert {e.order_key for e in ledger.by_state("submitted")} == set(sends)
        ledger.close()


def test_admin_cli_lists_the_ledger_holds_and_skus(bc: Sandbox, tmp_path: Path) -> None:
    settings = target_config(bc, tmp_path, backend="file")
    run_pipeline(tmp_path, tap_config(bc), settings)
    ledger = Ledger(settings["ledger_url"])
    held = ledger.by_state("held")
    submitted = ledger.by_state("submitted")

    def admin(*args: str) -> str:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "target_fulfillment.admin",
                "--config",
                str(tmp_path / "target.json"),
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    holds = admin("holds")
    for entry in held:
        assert entry.order_id in holds and entry.hold_reason.split(";")[0] in holds
    listing = admin("ledger", "--state", "submitted")
    assert all(entry.order_id in listing for entry in submitted)
    assert not any(entry.order_id in listing for entry in held)
    skus = admin("skus")
    assert "MISSING" in skus and "without a SKU" in skus
    products_without_sku = {
        p.product_id for p in ledger.products() if "sku:" not in (p.description or "").lower()
    }
    for line in skus.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[1] in products_without_sku:
            assert "MISSING" in line


def test_write_back_is_retried_through_429_and_5xx(
    bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path
) -> None:
    settings = shipstation_settings(bc, ss, tmp_path)
    run_pipeline(tmp_path, tap_config(bc), settings)
    key = sorted(o["orderKey"] for o in ss.store.orders())[0]
    ss.store.ship(key)
    bc.faults.fail_next(1, status=429, retry_after=0)
    bc.faults.fail_next(1, status=503)
    bc.faults.drop_next(1)
    result = run_target(tmp_path, settings, [])
    assert result.target_returncode == 0, result.stderr[-3000:]
    account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
    assert len(bc.store.shipments(account_id, order_id)) == 1
    assert Ledger(settings["ledger_url"]).find_by_key(key).state == "written_back"
    statuses = collections.Counter(r["status"] for r in bc.requests)
    assert statuses[429] and statuses[503] and statuses[0]


def test_bad_records_are_held_by_name_and_the_run_goes_on(bc: Sandbox, tmp_path: Path) -> None:
    settings = target_config(bc, tmp_path, backend="file", origin_country="US")
    schema = {"type": "object", "properties": {}}
    good = {
        "id": "GOOD-1",
        "account_id": "1001",
        "payment_status": "completed",
        "shipping_status": "unshipped",
        "customer_first_name": "Ada",
        "shipping_address_1": "1 Main St",
        "shipping_city": "Springfield",
        "shipping_country": {"id": "US"},
        "total": "10.00",
        "items": [{"id": "1", "product": {"id": "P1"}, "quantity": 1, "price": "10.00"}],
    }
    no_items = {**good, "id": "BAD-NO-ITEMS", "items": []}
    unknown_product = {
        **good,
        "id": "BAD-PRODUCT",
        "items": [{"id": "2", "product": {"id": "NOPE"}, "quantity": 1, "price": "10.00"}],
    }
    lines = [
        {"type": "SCHEMA", "stream": "products", "key_properties": ["id"], "schema": schema},
        {
            "type": "RECORD",
            "stream": "products",
            "record": {
                "id": "P1",
                "account_id": "1001",
                "description": "SKU: ONE",
                "options": [{"id": "O1", "name": "Default"}],
                "updated_at": "2026-01-01T00:00:00Z",
            },
        },
        {"type": "SCHEMA", "stream": "orders", "key_properties": ["id"], "schema": schema},
        *(
            {"type": "RECORD", "stream": "orders", "record": r}
            for r in (no_items, unknown_product, good)
        ),
    ]
    run = run_target(tmp_path, settings, lines)
    assert run.target_returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "outbox" / "bigcartel-1001-GOOD-1.json").exists()
    ledger = Ledger(settings["ledger_url"])
    assert "items" in ledger.get("1001", "BAD-NO-ITEMS").hold_reason
    assert "NOPE" in ledger.get("1001", "BAD-PRODUCT").hold_reason
    assert "BAD-NO-ITEMS" in run.stderr and "BAD-PRODUCT" in run.stderr


def test_invalid_shipping_codes_fail_at_start_naming_the_setting(bc: Sandbox, tmp_path: Path):
    settings = target_config(bc, tmp_path, shipping_codes={"DOMESTIC_DEFAULT": {"carrier": "x"}})
    run = run_target(tmp_path, settings, [])
    assert run.target_returncode != 0
    assert "shipping_codes" in run.stderr


def test_a_deauthorized_shop_is_not_written_back_until_it_reconnects(
    bc: Sandbox, ss: ShipStationSandbox, tmp_path: Path
) -> None:
    store = WebhookStore(f"sqlite:///{tmp_path / 'webhooks.db'}")
    url = store_url(store)
    tap_settings = {**tap_config(bc), "webhook_db_url": url}
    settings = shipstation_settings(bc, ss, tmp_path, webhook_db_url=url)
    first = run_pipeline(tmp_path, tap_settings, settings)
    assert first.target_returncode == 0, first.stderr[-3000:]
    shop = bc.shops[0].account_id
    key = sorted(o["orderKey"] for o in ss.store.orders() if f"-{shop}-" in o["orderKey"])[0]
    account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)

    # The warehouse ships an order of a shop that then deauthorizes the app.
    ss.store.ship(key)
    bc.store.revoke_token(shop)
    deliver(store, shop, "account.deauthorized", {"id": shop})
    bc.clear_requests()
    second = run_pipeline(tmp_path, tap_settings, settings, state=first.state)
    assert (second.tap_returncode, second.target_returncode) == (0, 0), second.stderr[-3000:]
    ledger = Ledger(settings["ledger_url"])
    assert ledger.find_by_key(key).state == "shipped", "kept for when the shop reconnects"
    assert not [r for r in bc.requests if f"/accounts/{shop}" in r["path"]], "no 401 to collect"
    assert key in second.stderr and "deauthorized" in second.stderr

    # The owner approves the app again: the next run writes the shipment back, once.
    credentials = bc.store.credentials
    code = credentials.issue_code(shop, credentials.client_id, "http://127.0.0.1/callback")
    credentials.redeem_code(code, credentials.client_id, None)
    store.mark_connected(shop, "test")
    third = run_pipeline(tmp_path, tap_settings, settings, state=second.state)
    assert third.target_returncode == 0, third.stderr[-3000:]
    assert ledger.find_by_key(key).state == "written_back"
    assert len(bc.store.shipments(account_id, order_id)) == 1
    store.close()


def test_a_delete_record_keeps_the_product_in_the_catalog(bc: Sandbox, tmp_path: Path) -> None:
    settings = target_config(bc, tmp_path)
    product = {
        "id": "p1",
        "account_id": "1001",
        "name": "Tee",
        "description": "Soft. SKU: TEE-",
        "updated_at": "2026-11-01T10:00:00Z",
        "options": [{"id": "o1", "name": "SMALL"}, {"id": "o2", "name": "LARGE"}],
    }
    deleted = {
        "id": "p1",
        "account_id": "1001",
        "updated_at": None,
        "_sdc_deleted_at": "2026-11-02T10:00:00Z",
    }
    schema = {"type": "SCHEMA", "stream": "products", "key_properties": ["account_id", "id"]}
    lines = [
        {**schema, "schema": PRODUCTS},
        {"type": "RECORD", "stream": "products", "record": product},
        {"type": "RECORD", "stream": "products", "record": deleted},
    ]
    run = run_target(tmp_path, settings, lines)
    assert run.target_returncode == 0, run.stderr[-3000:]
    kept = Ledger(settings["ledger_url"]).product("1001", "p1")
    assert kept is not None and kept.description == "Soft. SKU: TEE-"
