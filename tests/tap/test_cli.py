"""The tap as Meltano runs it: the console script, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from bigcartel_sandbox import Sandbox, SandboxConfig

TAP = [sys.executable, "-m", "tap_bigcartel.tap"]


def _write(path: Path, payload: t.Any) -> str:
    path.write_text(json.dumps(payload))
    return str(path)


def _catalog_selecting(tmp_path: Path, config_file: str, streams: set[str]) -> str:
    discovered = subprocess.run(
        [*TAP, "--config", config_file, "--discover"], capture_output=True, check=True, text=True
    )
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return _write(tmp_path / "catalog.json", catalog)


def test_secrets_appear_nowhere(tmp_path: Path) -> None:
    with Sandbox(SandboxConfig(shops=3, orders_per_shop=30, products_per_shop=10, seed=11)) as sb:
        bearer, revoked, basic = sb.shops
        sb.store.revoke_token(revoked.account_id)
        secrets = [bearer.access_token, revoked.access_token, basic.password]
        multi = {
            "api_url": sb.url,
            "accounts": [
                {"account_id": s.account_id, "access_token": s.access_token}
                for s in (bearer, revoked)
            ],
            "backoff_factor": 0.01,
        }
        personal = {"api_url": sb.url, "subdomain": basic.subdomain, "password": basic.password}
        outputs = []
        for name, config in (("multi", multi), ("personal", personal)):
            config_file = _write(tmp_path / f"{name}.json", config)
            result = subprocess.run(
                [*TAP, "--config", config_file], capture_output=True, text=True, timeout=120
            )
            outputs.append(result)
            state_lines = [line for line in result.stdout.splitlines() if '"type":"STATE"' in line]
            assert state_lines
        failed_run = outputs[0]
        assert failed_run.returncode != 0
        assert revoked.account_id in failed_run.stderr
        assert outputs[1].returncode == 0, outputs[1].stderr[-2000:]
        for result in outputs:
            for secret in secrets:
                assert secret not in result.stdout
                assert secret not in result.stderr


def test_invalid_config_names_the_setting(tmp_path: Path) -> None:
    config_file = _write(tmp_path / "config.json", {"subdomain": "only-half"})
    result = subprocess.run([*TAP, "--config", config_file], capture_output=True, text=True)
    assert result.returncode != 0
    assert "password" in result.stderr


def test_killed_run_resumes_without_a_gap(tmp_path: Path) -> None:
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=1500, products_per_shop=5, seed=9)) as sb:
        shop = sb.shops[0]
        config_file = _write(
            tmp_path / "config.json",
            {
                "api_url": sb.url,
                "access_token": shop.access_token,
                "account_id": shop.account_id,
                "page_size": 50,
            },
        )
        catalog = _catalog_selecting(tmp_path, config_file, {"orders"})
        process = subprocess.Popen(
            [*TAP, "--config", config_file, "--catalog", catalog],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        seen, last_state = set(), None
        for line in process.stdout:
            message = json.loads(line)
            if message["type"] == "RECORD":
                seen.add(message["record"]["id"])
            elif message["type"] == "STATE":
                last_state = message["value"]
            if len(seen) >= 1100:
                process.send_signal(signal.SIGKILL)
                break
        process.wait()
        assert process.returncode == -signal.SIGKILL
        assert last_state and last_state["bookmarks"]["orders"]["partitions"][0].get(
            "replication_key_value"
        ), "no resumable bookmark was emitted mid-stream"

        state_file = _write(tmp_path / "state.json", last_state)
        resumed = subprocess.run(
            [*TAP, "--config", config_file, "--catalog", catalog, "--state", state_file],
            capture_output=True,
            text=True,
            check=True,
        )
        resumed_ids = {
            json.loads(line)["record"]["id"]
            for line in resumed.stdout.splitlines()
            if '"type":"RECORD"' in line
        }
        assert len(resumed_ids) < 1500, "the resumed run started over instead of resuming"
        assert len(seen | resumed_ids) == 1500


@pytest.mark.parametrize("flag", ["--about", "--discover"])
def test_metadata_commands_need_no_network(tmp_path: Path, flag: str) -> None:
    config_file = _write(
        tmp_path / "config.json", {"access_token": "x", "api_url": "http://127.0.0.1:9"}
    )
    result = subprocess.run([*TAP, "--config", config_file, flag], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
