"""Run tap-bigcartel | target-fulfillment as two real processes joined by a pipe."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

from bigcartel_sandbox import Sandbox

TAP = [sys.executable, "-m", "tap_bigcartel.tap"]
TARGET = [sys.executable, "-m", "target_fulfillment.target"]


@dataclass
class PipelineRun:
    tap_returncode: int
    target_returncode: int
    state: dict
    stderr: str
    stdout: str

    @property
    def states(self) -> list[t.Any]:
        """Every STATE value the target emitted, in order; lines that are not JSON are skipped."""
        found = []
        for line in self.stdout.splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            # The target writes each state value alone on a line, as singer-sdk targets do.
            if isinstance(message, dict) and message.get("type") == "STATE":
                message = message.get("value")
            found.append(message)
        return found


def tap_config(sandbox: Sandbox) -> dict[str, t.Any]:
    return {
        "api_url": sandbox.url,
        "accounts": [
            {"account_id": shop.account_id, "access_token": shop.access_token}
            for shop in sandbox.shops
        ],
        "backoff_factor": 0.01,
        "max_retry_wait": 0.05,
    }


def target_config(sandbox: Sandbox, workdir: Path, **settings: t.Any) -> dict[str, t.Any]:
    config = {
        "api_url": sandbox.url,
        "accounts": tap_config(sandbox)["accounts"],
        "ledger_url": f"sqlite:///{workdir / 'ledger.db'}",
        "file_outbox_dir": str(workdir / "outbox"),
        "file_inbox_dir": str(workdir / "inbox"),
        "shipping_codes": {
            "DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"},
            "INTERNATIONAL_DEFAULT": {
                "carrier_code": "usps",
                "service_code": "usps_priority_mail_international",
            },
        },
    }
    config.update(settings)
    return config


def _write(path: Path, payload: t.Any) -> str:
    path.write_text(json.dumps(payload))
    return str(path)


def run_pipeline(
    workdir: Path,
    tap_settings: dict[str, t.Any],
    target_settings: dict[str, t.Any],
    state: dict | None = None,
) -> PipelineRun:
    """``tap --config --state | target --config``; the state is what the target emitted last."""
    tap_command = [*TAP, "--config", _write(workdir / "tap.json", tap_settings)]
    if state:
        tap_command += ["--state", _write(workdir / "state.json", state)]
    target_command = [*TARGET, "--config", _write(workdir / "target.json", target_settings)]
    tap_log = (workdir / "tap.log").open("w")
    tap = subprocess.Popen(tap_command, stdout=subprocess.PIPE, stderr=tap_log)
    target = subprocess.run(
        target_command, stdin=tap.stdout, capture_output=True, text=True, timeout=300
    )
    assert tap.stdout is not None
    tap.stdout.close()
    tap.wait(timeout=60)
    tap_log.close()
    states = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    return PipelineRun(
        tap.returncode,
        target.returncode,
        states[-1] if states else {},
        target.stderr,
        target.stdout,
    )


def run_target(workdir: Path, target_settings: dict[str, t.Any], lines: list[dict]) -> PipelineRun:
    """The target alone, fed the given Singer messages, in ``workdir`` (so a default relative
    path lands there)."""
    command = [*TARGET, "--config", _write(workdir / "target.json", target_settings)]
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    target = subprocess.run(
        command, input=payload, capture_output=True, text=True, timeout=300, cwd=workdir
    )
    states = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    return PipelineRun(
        0, target.returncode, states[-1] if states else {}, target.stderr, target.stdout
    )


def record_tap(workdir: Path, sandbox: Sandbox) -> Path:
    """One tap run against ``sandbox``, its Singer messages kept in a file to replay."""
    config = _write(workdir / "tap.json", tap_config(sandbox))
    output = workdir / "messages.jsonl"
    with output.open("w") as out:
        subprocess.run(
            [*TAP, "--config", config], stdout=out, stderr=subprocess.DEVNULL, check=True
        )
    return output


def start_target(
    workdir: Path, target_settings: dict[str, t.Any], messages: Path, name: str = "target"
) -> subprocess.Popen:
    """The target as a process of its own, reading ``messages``, in ``workdir``; its output in
    ``<name>.out`` and ``<name>.err`` there."""
    command = [*TARGET, "--config", _write(workdir / "target.json", target_settings)]
    with (
        messages.open() as stdin,
        (workdir / f"{name}.out").open("w") as out,
        (workdir / f"{name}.err").open("w") as err,
    ):
        return subprocess.Popen(command, stdin=stdin, stdout=out, stderr=err, cwd=workdir)
