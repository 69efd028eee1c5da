"""The tap as Meltano runs it: the console script, its exit code, stdout and stderr."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError
from webhook_events import deliver, store_url

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_sandbox import Sandbox, SandboxConfig
from tap_bigcartel.streams import STREAM_TYPES
from tap_bigcartel.tap import TapBigCartel

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


def test_bad_settings_exit_1_naming_each_without_a_traceback(tmp_path: Path) -> None:
    config_file = _write(
        tmp_path / "config.json",
        {
            "access_token": "t0ken-never-shown",
            "api_uri": "http://127.0.0.1:9",
            "webhook_db_url": "postgresql+psycopg://fulfil:s3cret-pw@db.example:port/webhooks",
        },
    )
    result = subprocess.run([*TAP, "--config", config_file], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(line.endswith("api_uri: unknown setting, did you mean api_url?") for line in lines)
    assert any(re.search(r"\bwebhook_db_url: ", line) for line in lines)
    for secret in ("t0ken-never-shown", "s3cret-pw"):
        assert secret not in result.stdout + result.stderr


SKIPPED = re.compile(r"^tap-bigcartel: skipped deauthorized shops: ([0-9, ]+) \(reconnect .*\)$")


def test_deauthorized_shops_are_named_in_the_last_line_of_a_successful_run(
    tmp_path: Path,
) -> None:
    with Sandbox(SandboxConfig(shops=3, orders_per_shop=20, products_per_shop=5, seed=13)) as sb:
        store = WebhookStore(f"sqlite:///{tmp_path / 'webhooks.db'}")
        config = {
            "api_url": sb.url,
            "accounts": [
                {"account_id": s.account_id, "access_token": s.access_token} for s in sb.shops
            ],
            "webhook_db_url": store_url(store),
            "backoff_factor": 0.01,
        }
        config_file = _write(tmp_path / "config.json", config)
        catalog = _catalog_selecting(tmp_path, config_file, {"orders"})
        command = [*TAP, "--config", config_file, "--catalog", catalog]
        first = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
        assert not SKIPPED.match(first.stderr.splitlines()[-1])

        gone = sorted(s.account_id for s in sb.shops[1:])
        for account_id in gone:
            sb.store.revoke_token(account_id)
            deliver(store, account_id, "account.deauthorized", {"id": account_id})
        store.close()
        before = _last_state(first.stdout)
        state_file = _write(tmp_path / "state.json", before)
        second = subprocess.run(
            [*command, "--state", state_file], capture_output=True, text=True, timeout=120
        )
    assert second.returncode == 0, second.stderr[-3000:]
    found = SKIPPED.match(second.stderr.splitlines()[-1])
    assert found, second.stderr[-2000:]
    assert found.group(1).split(", ") == gone
    after = _last_state(second.stdout)
    for account_id in gone:
        assert _partition(after, account_id) == _partition(before, account_id)


def _last_state(stdout: str) -> dict:
    states = [json.loads(line) for line in stdout.splitlines() if '"type":"STATE"' in line]
    return states[-1]["value"]


def _partition(state: dict, account_id: str) -> dict:
    (found,) = [
        entry
        for entry in state["bookmarks"]["orders"]["partitions"]
        if entry["context"]["account_id"] == account_id
    ]
    return found


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


CONSOLE_SCRIPT = str(Path(sys.executable).with_name("tap-bigcartel"))
CREDENTIAL_SETTINGS = ("access_token", "subdomain", "password", "accounts")


def _without_tap_settings() -> dict[str, str]:
    """The environment less any TAP_BIGCARTEL_* variable, so that nothing is configured."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TAP_BIGCARTEL_")}


@pytest.mark.parametrize("config", [None, {}, {"api_url": "http://127.0.0.1:9"}])
def test_discovery_needs_no_credentials(tmp_path: Path, config: dict | None) -> None:
    """What `meltano select --list` runs before anything is configured."""
    args = [CONSOLE_SCRIPT, "--discover"]
    if config is not None:
        args += ["--config", _write(tmp_path / "config.json", config)]
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=60, env=_without_tap_settings()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    catalog = json.loads(result.stdout)
    schemas = {entry["tap_stream_id"]: entry["schema"] for entry in catalog["streams"]}
    assert set(schemas) == {stream.name for stream in STREAM_TYPES}
    for stream in STREAM_TYPES:
        assert schemas[stream.name]["properties"].keys() == stream.schema["properties"].keys()


@pytest.mark.parametrize("config", [None, {}])
def test_a_sync_without_credentials_fails_naming_the_settings(
    tmp_path: Path, config: dict | None
) -> None:
    args = [CONSOLE_SCRIPT]
    if config is not None:
        args += ["--config", _write(tmp_path / "config.json", config)]
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=60, env=_without_tap_settings()
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout == "", "nothing is emitted before the config is refused"
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "Configure exactly one way" in line]
    assert line.endswith("found none.")
    for setting in CREDENTIAL_SETTINGS:
        assert f"`{setting}`" in line


def test_a_tap_built_for_discovery_checks_credentials_where_the_shops_are_needed() -> None:
    tap = TapBigCartel(config={}, validate_config=False)
    assert set(tap.streams) == {stream.name for stream in STREAM_TYPES}
    with pytest.raises(ConfigValidationError, match="found none") as raised:
        tap.shops  # noqa: B018
    assert all(f"`{setting}`" in raised.value.errors[0] for setting in CREDENTIAL_SETTINGS)
    with (
        pytest.raises(ConfigValidationError, match="found none"),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        tap.sync_all()
    with pytest.raises(ConfigValidationError, match="found none"):
        TapBigCartel(config={}, validate_config=True)
