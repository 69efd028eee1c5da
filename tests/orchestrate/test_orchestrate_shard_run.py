"""One shard's real ``meltano run`` (shard_command as the DAG builds it) against the emulator.

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
        env = {
            **os.environ,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_BIGCARTEL_API_URL": sandbox.url,
            "TARGET_FULFILLMENT_API_URL": sandbox.url,
            "TARGET_FULFILLMENT_FILE_OUTBOX_DIR": str(tmp_path / "outbox"),
            "TARGET_FULFILLMENT_FILE_INBOX_DIR": str(tmp_path / "inbox"),
            "TARGET_FULFILLMENT_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
            **secret_env,
        }
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
