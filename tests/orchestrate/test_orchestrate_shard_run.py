"""Real ``meltano run``s against the emulator: one shard as the DAG builds its command, and the
whole DAG under ``airflow dags test`` with two shards (the README's recipe).

Uses scripts/meltano.sh (Meltano in .venv-meltano) and the repository's meltano.yml, environment
``dev``; installs the two plugins when their venvs are missing. Meltano's system database (the
state) and target-fulfillment's ledger and outbox live in a tmp dir.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from airflow_runs import airflow_env, assert_clean_task_logs, dags_test, migrate_db, task_states

from bigcartel_sandbox import Sandbox, SandboxConfig
from orchestrate.sharding import Shop, shard, shard_command, state_id

ROOT = Path(__file__).resolve().parents[2]
MELTANO = ["bash", str(ROOT / "scripts" / "meltano.sh")]
PLUGIN_BINARIES = (
    ROOT / ".meltano" / "extractors" / "tap-bigcartel" / "venv" / "bin" / "tap-bigcartel",
    ROOT / ".meltano" / "loaders" / "target-fulfillment" / "venv" / "bin" / "target-fulfillment",
)


@pytest.fixture(scope="module")
def meltano_plugins() -> None:
    if not (ROOT / "meltano.yml").exists():
        pytest.fail("meltano.yml is missing: the shard command needs the Meltano project")
    if not all(path.exists() for path in PLUGIN_BINARIES):
        subprocess.run(
            [*MELTANO, "install", "tap-bigcartel", "target-fulfillment"],
            cwd=ROOT,
            check=True,
            timeout=900,
        )


def emulator_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """Meltano's and the plugins' settings for a run against the emulator, state in tmp_path."""
    return {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_BIGCARTEL_API_URL": sandbox.url,
        "TARGET_FULFILLMENT_API_URL": sandbox.url,
        "TARGET_FULFILLMENT_FILE_OUTBOX_DIR": str(tmp_path / "outbox"),
        "TARGET_FULFILLMENT_FILE_INBOX_DIR": str(tmp_path / "inbox"),
        "TARGET_FULFILLMENT_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }


def test_one_shard_through_meltano(meltano_plugins: None, tmp_path: Path) -> None:
    config = SandboxConfig(shops=5, orders_per_shop=30, products_per_shop=5, seed=3)
    with Sandbox(config) as sandbox:
        shops = [Shop(s.account_id, s.access_token) for s in sandbox.shops]
        groups = shard(shops, 3)
        index = 2
        group = groups[index]
        others = {shop.account_id for shop in shops} - {shop.account_id for shop in group}
        assert group
        assert others
        argv, secret_env = shard_command(index, group, "dev", meltano=MELTANO)
        env = {**os.environ, **emulator_env(sandbox, tmp_path), **secret_env}
        process = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        output = process.stdout + process.stderr
        assert process.returncode == 0, output[-5000:]
        requested = {
            request["path"].split("/")[3]
            for request in sandbox.requests
            if request["path"].startswith("/v1/accounts/")
        }
    for shop in shops:
        assert shop.access_token not in output
    assert requested == {shop.account_id for shop in group}

    state = subprocess.run(
        [*MELTANO, "--environment", "dev", "state", "get", state_id("dev", index)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    bookmarks = json.loads(state.stdout)["singer_state"]["bookmarks"]
    partitions = {p["context"]["account_id"] for p in bookmarks["orders"]["partitions"]}
    assert partitions == {shop.account_id for shop in group}
    assert all(p.get("replication_key_value") for p in bookmarks["orders"]["partitions"])

    sent = list((tmp_path / "outbox").rglob("*.json"))
    assert sent
    for order_file in sent:
        assert json.loads(order_file.read_text())["key"].split("-")[1] in partitions


def test_dags_test_two_shards_against_the_emulator(
    meltano_plugins: None, airflow_python: Path, tmp_path: Path
) -> None:
    """``airflow dags test`` of the DAG, 2 shards, real meltano; one shop's token is refused.

    The shard holding that shop fails naming it (and only it), the other shard syncs, and the
    task logs carry no ANSI escape (Meltano's plugin error panel is in them), no false error and
    no token.
    """
    home = tmp_path / "airflow"
    home.mkdir()
    config = SandboxConfig(shops=6, orders_per_shop=10, products_per_shop=3, seed=5)
    with Sandbox(config) as sandbox:
        shops = [Shop(s.account_id, s.access_token) for s in sandbox.shops]
        groups = shard(shops, 2)
        assert all(groups), [len(group) for group in groups]
        refused = groups[0][-1].account_id
        listed = [
            Shop(shop.account_id, "revoked-do-not-leak") if shop.account_id == refused else shop
            for shop in shops
        ]
        shops_file = tmp_path / "shops.json"
        shops_file.write_text(json.dumps([shop.as_setting() for shop in listed]))
        env = airflow_env(
            home,
            BIGCARTEL_SHOPS_SOURCE=shops_file.as_uri(),
            BIGCARTEL_MELTANO_BIN=f"bash {ROOT / 'scripts' / 'meltano.sh'}",
            BIGCARTEL_MELTANO_PROJECT_DIR=str(ROOT),
            BIGCARTEL_MELTANO_ENVIRONMENT="dev",
            BIGCARTEL_SHARD_RETRIES="0",
            **emulator_env(sandbox, tmp_path),
        )
        migrate_db(airflow_python, env)
        returncode, output = dags_test(airflow_python, env, {"shards": 2})
        requested = {
            request["path"].split("/")[3]
            for request in sandbox.requests
            if request["path"].startswith("/v1/accounts/")
        }
    assert returncode != 0, output[-5000:]
    states = task_states(home)
    assert states[("run_shard", 0)][0] == "failed", output[-5000:]
    assert states[("run_shard", 1)][0] == "success", output[-5000:]
    assert states[("summarize", -1)][0] == "failed"
    assert requested == {shop.account_id for shop in shops}

    size = len(groups[0])
    named = f"1 of its {size} shops could not be synced: {refused}"
    assert f"shard 0: meltano exited with code 1; {named}\n" in output, output[-5000:]
    assert f"1 of 2 shards failed: shard-0 ({named})" in output
    assert "Error details" in output  # Meltano's plugin error panel, rendered without escapes
    assert_clean_task_logs(output)
    for shop in listed:
        assert shop.access_token not in output
