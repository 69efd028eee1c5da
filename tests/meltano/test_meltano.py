"""meltano.yml through the real Meltano CLI, against the in-process emulators and PostgreSQL."""

from __future__ import annotations

import collections
import json
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa
from emulator_api import emulator_ids
from meltano_helpers import (
    POSTGRES_URL,
    SHOP_IDS,
    STATE_ID,
    Project,
    make_project,
    point_at,
)
from webhook_events import ServedApp, store_url

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_sandbox import Sandbox
from bigcartel_webhooks.app import create_app

STREAMS = ("accounts", "artists", "categories", "countries", "discounts", "orders", "products")


def _orders_bookmarks(state: dict) -> dict[str, str]:
    partitions = state["singer_state"]["bookmarks"]["orders"]["partitions"]
    return {p["context"]["account_id"]: p["replication_key_value"] for p in partitions}


def _outbox(project: Project) -> list[str]:
    outbox = project.root / "output" / "meltano-dev" / "outbox"
    return sorted(path.name for path in outbox.glob("*.json"))


def _ledger(project: Project) -> list[tuple[str, str, str]]:
    ledger = project.root / "output" / "meltano-dev" / "ledger.db"
    engine = sa.create_engine(f"sqlite:///{ledger}")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT order_key, state, payload_hash FROM fulfillment_orders"
        ).fetchall()
    engine.dispose()
    return [tuple(row) for row in rows]


def _orders_requests(sandbox: Sandbox) -> list[dict]:
    return [
        entry
        for entry in sandbox.requests
        if entry["path"].endswith("/orders") and entry["method"] == "GET"
    ]


def test_fulfillment_job_runs_then_resumes_from_meltano_state(
    project: Project, sandbox: Sandbox
) -> None:
    point_at(project, sandbox)
    project.meltano("run", "tap-bigcartel", "target-fulfillment")

    first_files = _outbox(project)
    first_ledger = _ledger(project)
    submitted = sorted(f"{key}.json" for key, state, _ in first_ledger if state == "submitted")
    assert submitted, "no order was sent"
    assert first_files == submitted
    first_bookmarks = _orders_bookmarks(project.state("target-fulfillment"))
    assert set(first_bookmarks) == set(SHOP_IDS)

    # A new paid, unshipped order and some changed ones; then the job again.
    new_order = sandbox.store.create_order(SHOP_IDS[0])
    sandbox.store.update_orders(SHOP_IDS[1], 3)
    sandbox.clear_requests()
    project.meltano("run", "fulfillment")

    # Incremental: every orders request of the second run starts at that shop's bookmark.
    requests = _orders_requests(sandbox)
    assert requests
    for entry in requests:
        assert "filter[updated_at_from]" in entry["query"], entry
    second_bookmarks = _orders_bookmarks(project.state("target-fulfillment"))
    assert second_bookmarks[SHOP_IDS[0]] > first_bookmarks[SHOP_IDS[0]]
    assert second_bookmarks[SHOP_IDS[1]] > first_bookmarks[SHOP_IDS[1]]

    # Exactly once: one ledger row and at most one outbox file per order, the new order added.
    second_ledger = _ledger(project)
    keys = [key for key, _, _ in second_ledger]
    assert len(keys) == len(set(keys))
    assert f"bigcartel-{SHOP_IDS[0]}-{new_order}" in keys
    second_files = _outbox(project)
    assert f"bigcartel-{SHOP_IDS[0]}-{new_order}.json" in second_files
    assert set(first_files) <= set(second_files)
    assert len(second_files) == len(first_files) + 1 + _newly_submitted_changes(
        first_ledger, second_ledger, new_order
    )


def _newly_submitted_changes(first: list[tuple], second: list[tuple], new_order: str) -> int:
    """Orders (other than the new one) sent for the first time by the second run: an order
    updated into eligibility. Changed orders already sent are updated in place, same file."""
    before = {key for key, state, _ in first if state == "submitted"}
    return sum(
        1
        for key, state, _ in second
        if state == "submitted" and key not in before and not key.endswith(f"-{new_order}")
    )


def _table_ids(engine: sa.Engine, schema: str, table: str) -> list[tuple[str, str]]:
    account = "account_id" if table != "countries" else "''"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f'SELECT {account}, id FROM "{schema}"."{table}"').fetchall()
    return [(str(a), str(i)) for a, i in rows]


def _assert_warehouse_matches(engine: sa.Engine, schema: str, sandbox: Sandbox) -> None:
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names(schema=schema))
    assert set(STREAMS) <= tables
    for stream in STREAMS:
        loaded = _table_ids(engine, schema, stream)
        duplicates = [k for k, n in collections.Counter(loaded).items() if n > 1]
        assert not duplicates, f"{stream}: duplicate primary keys {duplicates[:5]}"
        assert sorted(loaded) == sorted(emulator_ids(sandbox, stream)), stream


def test_warehouse_postgres_loads_everything_and_merges_changes(
    project: Project, sandbox: Sandbox, postgres_schema: tuple[sa.Engine, str]
) -> None:
    engine, schema = postgres_schema
    point_at(project, sandbox)
    project.env["TARGET_POSTGRES_SQLALCHEMY_URL"] = POSTGRES_URL
    project.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
    project.meltano("run", "tap-bigcartel", "target-postgres")
    _assert_warehouse_matches(engine, schema, sandbox)

    changed = {shop: sandbox.store.update_orders(shop, 5) for shop in SHOP_IDS}
    sandbox.store.update_products(SHOP_IDS[0], 3)
    new_order = sandbox.store.create_order(SHOP_IDS[1])
    project.meltano("run", "tap-bigcartel", "target-postgres")
    _assert_warehouse_matches(engine, schema, sandbox)

    # The changes arrived: the loaded updated_at of each changed order is the emulator's.
    with engine.connect() as conn:
        loaded = dict(
            ((a, i), u)
            for a, i, u in conn.exec_driver_sql(
                f'SELECT account_id, id, updated_at FROM "{schema}".orders'
            )
        )
    assert (SHOP_IDS[1], new_order) in loaded
    for shop, ids in changed.items():
        for order_id in ids:
            document = sandbox.store.document(shop, "orders", order_id, sandbox.url)
            expected = document["data"]["attributes"]["updated_at"]
            assert (
                loaded[(shop, order_id)].isoformat().replace("+00:00", "Z")[:19] == (expected[:19])
            )


def test_a_product_deleted_in_big_cartel_is_soft_deleted_in_postgres(
    project: Project,
    sandbox: Sandbox,
    postgres_schema: tuple[sa.Engine, str],
    tmp_path: Path,
) -> None:
    """Emulator -> signed webhook -> receiver -> store -> tap -> target-postgres."""
    engine, schema = postgres_schema
    store = WebhookStore(f"sqlite:///{tmp_path / 'webhooks.db'}")
    receiver = ServedApp(create_app(store, sandbox.store.credentials.client_secret))
    try:
        sandbox.store.webhook_url = f"{receiver.base}/webhooks/bigcartel"
        point_at(project, sandbox)
        project.env["TAP_BIGCARTEL_WEBHOOK_DB_URL"] = store_url(store)
        project.env["TAP_BIGCARTEL_WEBHOOK_SETTLE_SECONDS"] = "0"
        project.env["TARGET_POSTGRES_SQLALCHEMY_URL"] = POSTGRES_URL
        project.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
        project.meltano("run", "tap-bigcartel", "target-postgres")

        shop = SHOP_IDS[0]
        product_id = emulator_ids(sandbox, "products")[0][1]
        sandbox.store.delete_product(shop, product_id)
        _wait_for_deliveries(sandbox)
        assert [e.topic for e in store.list_events()] == ["product.deleted"]
        project.meltano("run", "tap-bigcartel", "target-postgres")
    finally:
        receiver.stop()
        store.close()

    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f'SELECT account_id, id, _sdc_deleted_at FROM "{schema}".products'
        ).fetchall()
    deleted = sorted((a, i) for a, i, at in rows if at is not None)
    live = sorted((a, i) for a, i, at in rows if at is None)
    assert deleted == [(shop, product_id)]
    assert live == sorted(emulator_ids(sandbox, "products"))


def _wait_for_deliveries(sandbox: Sandbox, deadline: float = 30.0) -> None:
    """Until the emulator's webhook sender has finished every delivery (it retries on failure)."""
    until = time.monotonic() + deadline
    while not all(d.finished for d in sandbox.store.webhooks.deliveries):
        assert time.monotonic() < until, "webhook deliveries did not finish"
        time.sleep(0.05)
    assert all(d.delivered for d in sandbox.store.webhooks.deliveries)


def test_warehouse_job_loads_every_record_into_duckdb(project: Project, sandbox: Sandbox) -> None:
    point_at(project, sandbox)
    project.meltano("run", "warehouse")
    database = project.root / ".meltano" / "bigcartel-dev.duckdb"
    python = project.root / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    script = (
        "import duckdb, json, sys\n"
        "c = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(json.dumps({t: c.execute(f'SELECT count(*), count(DISTINCT ' "
        "+ ('id' if t == 'countries' else 'account_id || id') + f') FROM bigcartel.{t}')"
        ".fetchone() for t in sys.argv[2:]}))\n"
    )
    result = subprocess.run(
        [str(python), "-c", script, str(database), *STREAMS],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    counts = json.loads(result.stdout)
    for stream in STREAMS:
        expected = len(emulator_ids(sandbox, stream))
        assert counts[stream] == [expected, expected], stream


def test_system_database_on_postgres_is_shared_between_project_dirs(
    tmp_path: Path,
    meltano_installed: Path,
    sandbox: Sandbox,
    postgres_schema: tuple[sa.Engine, str],
) -> None:
    engine, schema = postgres_schema
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    database_uri = (
        sa.make_url(POSTGRES_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    first = make_project(tmp_path / "first", meltano_installed)
    second = make_project(tmp_path / "second", meltano_installed)
    for project in (first, second):
        point_at(project, sandbox)
        project.env["MELTANO_DATABASE_URI"] = database_uri

    first.meltano("run", "tap-bigcartel", "target-fulfillment")
    # The state is in PostgreSQL, not in either project directory.
    with engine.connect() as conn:
        state_ids = [
            row[0] for row in conn.exec_driver_sql(f'SELECT state_id FROM "{schema}".state')
        ]
    assert STATE_ID.format(loader="target-fulfillment") in state_ids
    assert not (first.root / ".meltano" / "meltano.db").exists()
    assert first.state("target-fulfillment") == second.state("target-fulfillment")

    # A run from the other directory resumes from it: orders requested from the bookmarks.
    sandbox.clear_requests()
    second.meltano("run", "tap-bigcartel", "target-fulfillment")
    requests = _orders_requests(sandbox)
    assert requests
    assert all("filter[updated_at_from]" in entry["query"] for entry in requests)


def test_config_test_passes_for_both_plugins(project: Project, sandbox: Sandbox) -> None:
    point_at(project, sandbox)
    for plugin in ("tap-bigcartel", "target-fulfillment"):
        result = project.meltano("config", "test", plugin)
        assert "Plugin configuration is valid" in result.stdout + result.stderr, plugin
    # meltano_test_stream is ignored with no side effect: no ledger, no outbox.
    assert not (project.root / "output").exists()
    # And the test can fail: a refused token fails the tap's test.
    project.env["TAP_BIGCARTEL_ACCOUNTS"] = json.dumps(
        [{"account_id": SHOP_IDS[0], "access_token": "wrong"}]
    )
    result = project.meltano("config", "test", "tap-bigcartel", check=False)
    assert result.returncode != 0


def test_the_admin_cli_runs_as_meltano_plugin_commands_with_meltanos_config(
    project: Project, sandbox: Sandbox
) -> None:
    point_at(project, sandbox)
    project.meltano("run", "tap-bigcartel", "target-fulfillment")
    ledger = _ledger(project)
    held = [key for key, state, _ in ledger if state == "held"]
    submitted = [key for key, state, _ in ledger if state == "submitted"]
    assert held and submitted

    holds = project.meltano("invoke", "target-fulfillment:holds").stdout
    for key in held:
        assert key.split("-", 2)[2] in holds
    listing = project.meltano("invoke", "target-fulfillment:ledger").stdout
    assert all(key.split("-", 2)[2] in listing for key in submitted)
    assert "without a SKU" in project.meltano("invoke", "target-fulfillment:skus").stdout
