"""Each capability meltano.yml declares for tap-bigcartel and target-fulfillment, through `meltano`.

The lists covered here must equal the `capabilities:` of meltano.yml, so a capability declared
later without a test fails `test_every_declared_capability_is_covered`. Env-var-only tests share
one project directory and one emulator (module scope); tests that write meltano.yml (select) or
state get their own project.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from meltano_helpers import MELTANO_SH, REPO, SHOP_IDS, Project, make_project, point_at

from bigcartel_sandbox import Sandbox, SandboxConfig

# capability -> the test(s) exercising it through the meltano CLI.
TAP_CAPABILITIES = {
    "catalog": "test_tap_catalog_and_discover_select_limits_what_invoke_emits",
    "discover": "test_tap_catalog_and_discover_select_limits_what_invoke_emits",
    "state": "test_tap_state_second_run_starts_from_the_bookmark",
    "about": "test_tap_about_lists_the_settings",
    "stream-maps": "test_tap_stream_maps_drop_and_rename_properties",
    "schema-flattening": "test_tap_schema_flattening",
    "activate-version": "test_tap_activate_version",
    "batch": "test_tap_batch_messages_and_files",
    "structured-logging": "test_tap_structured_logging",
}
TARGET_CAPABILITIES = {
    "about": "test_target_about_lists_the_settings",
    "stream-maps": "test_target_stream_maps_filter_what_reaches_the_ledger",
    "structured-logging": "test_target_structured_logging",
    # validate-records: not a Meltano capability name (see the comment in meltano.yml), so not
    # declared there and not tested here.
}


def _declared(kind: str, name: str) -> list[str]:
    config = yaml.safe_load((REPO / "meltano.yml").read_text())
    (plugin,) = [p for p in config["plugins"][kind] if p["name"] == name]
    return plugin.get("capabilities", [])


def test_every_declared_capability_is_covered() -> None:
    assert sorted(_declared("extractors", "tap-bigcartel")) == sorted(TAP_CAPABILITIES)
    assert sorted(_declared("loaders", "target-fulfillment")) == sorted(TARGET_CAPABILITIES)
    names = {name for name, value in globals().items() if callable(value)}
    assert set(TAP_CAPABILITIES.values()) | set(TARGET_CAPABILITIES.values()) <= names


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_sandbox() -> t.Iterator[Sandbox]:
    with Sandbox(SandboxConfig(orders_per_shop=10, products_per_shop=4)) as sandbox:
        assert tuple(shop.account_id for shop in sandbox.shops) == SHOP_IDS
        yield sandbox


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory, meltano_installed: Path) -> Path:
    return make_project(tmp_path_factory.mktemp("capabilities") / "project", meltano_installed).root


@pytest.fixture
def shared(shared_root: Path, shared_sandbox: Sandbox) -> Project:
    """The module's project dir with a fresh env of this test's own."""
    project = Project(shared_root)
    point_at(project, shared_sandbox)
    return project


def _messages(stdout: str) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _invoke_tap(project: Project, *streams: str) -> list[dict[str, t.Any]]:
    """`meltano invoke tap-bigcartel` of the given streams only (the `select` extra by env)."""
    project.env["TAP_BIGCARTEL__SELECT"] = json.dumps([f"{s}.*" for s in streams])
    return _messages(project.meltano("invoke", "tap-bigcartel").stdout)


def _of(messages: list[dict[str, t.Any]], kind: str, stream: str | None = None) -> list[dict]:
    return [
        m for m in messages if m["type"] == kind and (stream is None or m.get("stream") == stream)
    ]


def _invoke_with_input(
    project: Project, stdin: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        **project.env,
    }
    env.pop("MELTANO_PROJECT_ROOT", None)
    result = subprocess.run(
        ["bash", str(MELTANO_SH), *args],
        cwd=project.root,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    return result


def _plugin_logs(stderr: str, plugin: str) -> list[dict[str, t.Any]]:
    """The plugin's log records as Meltano relays them with `--log-format=json`.

    structured-logging (singer-sdk 0.54, helpers/capabilities.py): the plugin logs JSON
    (singer_sdk.logging.StructuredFormatter) when Meltano asks it to, and Meltano parses each
    record, keeping its fields: `plugin_logger` (the plugin's logger name), `app_name`, `pid`,
    and `metric_info` for a METRIC. Without the capability Meltano relays the raw text lines.
    """
    logs = []
    for line in stderr.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and f"meltano.plugin.stderr.{plugin}" in value.get(
            "_logger", ""
        ):
            logs.append(value)
    return logs


def _assert_structured(logs: list[dict[str, t.Any]], logger: str, stream: str) -> None:
    assert logs
    assert any(log.get("plugin_logger") == logger for log in logs), logs[:5]
    assert all(log.get("app_name") == "singer-sdk" for log in logs), logs[:5]
    metrics = [log["metric_info"] for log in logs if isinstance(log.get("metric_info"), dict)]
    assert any(
        m["metric"] == "record_count" and m["tags"].get("stream") == stream for m in metrics
    ), metrics


# --- tap-bigcartel --------------------------------------------------------------------------


def test_tap_catalog_and_discover_select_limits_what_invoke_emits(
    project: Project, sandbox: Sandbox
) -> None:
    point_at(project, sandbox)
    listing = project.meltano("select", "tap-bigcartel", "--list", "--all").stdout
    listed = set(re.findall(r"^\s*\[[a-z ]+\] ([a-z_]+)\.\S+$", listing, re.MULTILINE))
    streams = {"accounts", "artists", "categories", "countries", "discounts", "orders"}
    assert streams | {"products"} <= listed

    project.meltano("select", "tap-bigcartel", "countries", "*")
    project.meltano("select", "tap-bigcartel", "categories", "id")
    messages = _messages(project.meltano("invoke", "tap-bigcartel").stdout)
    emitted = {m["stream"] for m in _of(messages, "RECORD")}
    assert emitted == {"countries", "categories"}
    # Only the selected property (and the keys) of categories.
    for record in _of(messages, "RECORD", "categories"):
        assert set(record["record"]) <= {"id", "account_id"}, record
    assert any("name" in m["record"] for m in _of(messages, "RECORD", "countries"))


def test_tap_state_second_run_starts_from_the_bookmark(project: Project, sandbox: Sandbox) -> None:
    # test_meltano.py's test_fulfillment_job_runs_then_resumes_from_meltano_state asserts this
    # on the full job; here on one incremental stream, with `meltano state get`.
    point_at(project, sandbox)
    project.env["TAP_BIGCARTEL__SELECT"] = json.dumps(["accounts.*", "orders.*", "products.*"])
    project.meltano("run", "tap-bigcartel", "target-fulfillment")
    state = project.state("target-fulfillment")
    partitions = state["singer_state"]["bookmarks"]["orders"]["partitions"]
    assert {p["context"]["account_id"] for p in partitions} == set(SHOP_IDS)

    sandbox.clear_requests()
    project.meltano("run", "tap-bigcartel", "target-fulfillment")
    orders = [e for e in sandbox.requests if e["path"].endswith("/orders") and e["method"] == "GET"]
    assert orders
    assert all("filter[updated_at_from]" in e["query"] for e in orders), orders


def test_tap_about_lists_the_settings(shared: Project) -> None:
    about = shared.meltano("invoke", "tap-bigcartel", "--about", "--format", "json").stdout
    info = json.loads(about[about.index("{") :])
    settings = set(info["settings"]["properties"])
    assert {"access_token", "accounts", "api_url", "start_date", "stream_maps"} <= settings
    assert "batch" in info["capabilities"]


def test_tap_stream_maps_drop_and_rename_properties(shared: Project) -> None:
    shared.env["TAP_BIGCARTEL_STREAM_MAPS"] = json.dumps(
        {"countries": {"name": None, "country_name": "name"}}
    )
    messages = _invoke_tap(shared, "countries")
    records = _of(messages, "RECORD", "countries")
    assert records
    for record in records:
        assert "name" not in record["record"], record
        assert "country_name" in record["record"], record
    (schema,) = _of(messages, "SCHEMA", "countries")
    assert "country_name" in schema["schema"]["properties"]


def test_tap_schema_flattening(shared: Project) -> None:
    shared.env["TAP_BIGCARTEL_FLATTENING_ENABLED"] = "true"
    shared.env["TAP_BIGCARTEL_FLATTENING_MAX_DEPTH"] = "1"
    messages = _invoke_tap(shared, "accounts")
    schemas = _of(messages, "SCHEMA", "accounts")
    assert schemas
    properties = schemas[0]["schema"]["properties"]
    assert "currency__id" in properties
    assert "currency" not in properties
    records = _of(messages, "RECORD", "accounts")
    assert len(records) == len(SHOP_IDS)
    for record in records:
        assert "currency__id" in record["record"], record
        assert "currency" not in record["record"], record


def test_tap_activate_version(shared: Project) -> None:
    shared.env["TAP_BIGCARTEL_EMIT_ACTIVATE_VERSION_MESSAGES"] = "true"
    messages = _invoke_tap(shared, "countries")
    activations = _of(messages, "ACTIVATE_VERSION", "countries")
    assert activations
    versions = {m["version"] for m in activations}
    records = _of(messages, "RECORD", "countries")
    assert records
    assert {r.get("version") for r in records} <= versions


def test_tap_batch_messages_and_files(shared: Project, tmp_path: Path) -> None:
    root = tmp_path / "batches"
    root.mkdir()
    shared.env["TAP_BIGCARTEL_BATCH_CONFIG"] = json.dumps(
        {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": f"file://{root}", "prefix": "cap-"},
        }
    )
    messages = _invoke_tap(shared, "countries")
    assert not _of(messages, "RECORD", "countries")
    batches = _of(messages, "BATCH", "countries")
    assert batches
    rows = []
    for batch in batches:
        assert batch["encoding"]["format"] == "jsonl"
        for uri in batch["manifest"]:
            path = Path(uri.removeprefix("file://"))
            assert path.parent == root and path.name.startswith("cap-"), uri
            with gzip.open(path, "rt") as lines:
                rows += [json.loads(line) for line in lines if line.strip()]
    assert rows
    assert all("id" in row and "name" in row for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)


def test_tap_structured_logging(shared: Project) -> None:
    shared.env["TAP_BIGCARTEL__SELECT"] = json.dumps(["countries.*"])
    result = shared.meltano("--log-format=json", "invoke", "tap-bigcartel")
    logs = _plugin_logs(result.stderr, "extractors.tap-bigcartel")
    _assert_structured(logs, "tap-bigcartel", "countries")


# --- target-fulfillment ---------------------------------------------------------------------


def test_target_about_lists_the_settings(shared: Project) -> None:
    about = shared.meltano("invoke", "target-fulfillment", "--about", "--format", "json").stdout
    info = json.loads(about[about.index("{") :])
    settings = set(info["settings"]["properties"])
    assert {"backend", "ledger_url", "file_outbox_dir", "stream_maps"} <= settings
    assert "stream-maps" in info["capabilities"]


def _ledger_keys(project: Project) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{project.root / 'output' / 'meltano-dev' / 'ledger.db'}")
    with engine.connect() as conn:
        keys = [row[0] for row in conn.exec_driver_sql("SELECT order_key FROM fulfillment_orders")]
    engine.dispose()
    return keys


def test_target_stream_maps_filter_what_reaches_the_ledger(
    project: Project, sandbox: Sandbox
) -> None:
    point_at(project, sandbox)
    project.env["TAP_BIGCARTEL__SELECT"] = json.dumps(["accounts.*", "orders.*", "products.*"])
    project.env["TARGET_FULFILLMENT_STREAM_MAPS"] = json.dumps(
        {"orders": {"__filter__": f"account_id == '{SHOP_IDS[0]}'"}}
    )
    project.meltano("run", "tap-bigcartel", "target-fulfillment")
    keys = _ledger_keys(project)
    assert keys
    shops = {key.split("-")[1] for key in keys}
    assert shops == {SHOP_IDS[0]}, keys


def test_target_structured_logging(shared: Project) -> None:
    stdin = "\n".join(
        json.dumps(m)
        for m in (
            {
                "type": "SCHEMA",
                "stream": "meltano_test_stream",
                "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                "key_properties": ["id"],
            },
            {"type": "RECORD", "stream": "meltano_test_stream", "record": {"id": 1}},
        )
    )
    result = _invoke_with_input(
        shared, stdin + "\n", "--log-format=json", "invoke", "target-fulfillment"
    )
    logs = _plugin_logs(result.stderr, "loaders.target-fulfillment")
    _assert_structured(logs, "target-fulfillment", "meltano_test_stream")
    assert any("No Big Cartel stream" in log["event"] for log in logs), logs
