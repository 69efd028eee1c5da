"""The main job on the embedded default: a Big Cartel sandbox, the pipeline, a file warehouse.

Starts the Big Cartel emulator (two shops), then runs ``tap-bigcartel | target-fulfillment`` with
the file backend twice. Between the runs the "warehouse" confirms three shipments (files in the
inbox) and the shops change a few orders and products; the second run is incremental, sends only
what is new and writes the tracking numbers back to the shops. Every record also lands in
``output/records/<stream>.jsonl``; the ledger, outbox and inbox are under ``output/fulfillment``.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

from bigcartel_sandbox import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parent.parent
SUMMARY_TITLE = "target-fulfillment run summary"


def run_pipeline(
    output: Path, state: dict | None, log: t.TextIO
) -> tuple[collections.Counter, dict, str]:
    """``tap | target``, copying each record to JSONL on the way; returns counts, state, summary."""
    tap_command = [sys.executable, "-m", "tap_bigcartel.tap", "--config", str(output / "tap.json")]
    if state:
        (output / "state.json").write_text(json.dumps(state, indent=2))
        tap_command += ["--state", str(output / "state.json")]
    target_command = [
        sys.executable,
        "-m",
        "target_fulfillment.target",
        "--config",
        str(output / "target.json"),
    ]
    counts: collections.Counter = collections.Counter()
    files: dict[str, t.TextIO] = {}
    target_out = output / "target-state.jsonl"
    target_err = output / "target-run.log"
    with target_out.open("w") as out, target_err.open("w") as err:
        tap = subprocess.Popen(tap_command, stdout=subprocess.PIPE, stderr=log, text=True)
        target = subprocess.Popen(
            target_command, stdin=subprocess.PIPE, stdout=out, stderr=err, text=True
        )
        assert tap.stdout is not None and target.stdin is not None
        try:
            for line in tap.stdout:
                target.stdin.write(line)
                message = json.loads(line)
                if message["type"] == "RECORD":
                    stream = message["stream"]
                    if stream not in files:
                        files[stream] = (output / "records" / f"{stream}.jsonl").open("a")
                    files[stream].write(json.dumps(message["record"]) + "\n")
                    counts[stream] += 1
        finally:
            for handle in files.values():
                handle.close()
            target.stdin.close()
        tap.wait()
        target.wait()
    stderr = target_err.read_text()
    log.write(stderr)
    if tap.returncode or target.returncode:
        raise SystemExit(
            f"the pipeline failed (tap {tap.returncode}, target {target.returncode}); "
            f"see {log.name}"
        )
    states = [json.loads(line) for line in target_out.read_text().splitlines() if line.strip()]
    summary = stderr[stderr.rfind(SUMMARY_TITLE) :] if SUMMARY_TITLE in stderr else ""
    return counts, states[-1] if states else {}, _shorten(summary.strip())


def _shorten(summary: str, holds_shown: int = 5) -> str:
    """The counts and the first few holds; the full summary is in the log."""
    lines, listed = [], 0
    for line in summary.splitlines():
        if line.startswith("    "):
            listed += 1
            if listed > holds_shown:
                continue
        elif listed > holds_shown:
            lines.append("    ... the rest: target-fulfillment-admin holds")
            listed = 0
        lines.append(line)
    if listed > holds_shown:
        lines.append("    ... the rest: target-fulfillment-admin holds")
    return "\n".join(lines)


def confirm_shipments(outbox: Path, inbox: Path, how_many: int) -> list[str]:
    """Play the warehouse: collect order files and confirm a few as shipped."""
    inbox.mkdir(parents=True, exist_ok=True)
    shipped = []
    for order_file in sorted(outbox.glob("bigcartel-*.json"))[:how_many]:
        order = json.loads(order_file.read_text())
        confirmation = {
            "format": "bigcartel-fulfillment/shipment@1",
            "order_key": order["key"],
            "carrier": "usps",
            "tracking_number": f"9400{len(shipped):018d}",
            "tracking_url": None,
            "items": [
                {"line_item_key": item["line_item_key"], "quantity": item["quantity"]}
                for item in order["items"]
            ],
        }
        temporary = inbox / f".{order['key']}.tmp"
        temporary.write_text(json.dumps(confirmation))
        temporary.rename(inbox / f"{order['key']}.json")
        order_file.unlink()  # the warehouse collected it
        shipped.append(order["key"])
    return shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shops", type=int, default=2)
    parser.add_argument("--orders", type=int, default=300, help="orders per shop")
    parser.add_argument("--products", type=int, default=80, help="products per shop")
    parser.add_argument("--output", type=Path, default=ROOT / "output")
    args = parser.parse_args()

    output: Path = args.output
    shutil.rmtree(output, ignore_errors=True)
    (output / "records").mkdir(parents=True)
    fulfillment = output / "fulfillment"
    sandbox_config = SandboxConfig(
        shops=args.shops, orders_per_shop=args.orders, products_per_shop=args.products, seed=1
    )
    with Sandbox(sandbox_config) as sandbox, (output / "pipeline.log").open("w") as log:
        print(f"Big Cartel sandbox: {sandbox.url} ({args.shops} shops)")
        accounts = [
            {"account_id": shop.account_id, "access_token": shop.access_token}
            for shop in sandbox.shops
        ]
        for name, config in (
            ("tap", {"api_url": sandbox.url, "accounts": accounts}),
            (
                "target",
                {
                    "api_url": sandbox.url,
                    "accounts": accounts,
                    "backend": "file",
                    "ledger_url": f"sqlite:///{fulfillment / 'ledger.db'}",
                    "file_outbox_dir": str(fulfillment / "outbox"),
                    "file_inbox_dir": str(fulfillment / "inbox"),
                },
            ),
        ):
            path = output / f"{name}.json"
            path.write_text(json.dumps(config, indent=2))
            path.chmod(0o600)

        first, state, first_summary = run_pipeline(output, None, log)
        shipped = confirm_shipments(fulfillment / "outbox", fulfillment / "inbox", 3)
        for shop in sandbox.shops:
            sandbox.store.update_orders(shop.account_id, 5)
            sandbox.store.update_products(shop.account_id, 3)
        second, state, second_summary = run_pipeline(output, state, log)
        (output / "state.json").write_text(json.dumps(state, indent=2))
        written_back = [
            key
            for key in shipped
            if sandbox.store.shipments(*key.removeprefix("bigcartel-").split("-", 1))
        ]

    print(f"\n{'stream':<12}{'first run':>10}{'second run':>12}")
    for stream in sorted(first):
        print(f"{stream:<12}{first[stream]:>10}{second.get(stream, 0):>12}")
    print(f"\nFirst run:\n{first_summary}\n")
    print(
        f"The warehouse confirmed {len(shipped)} shipments; the shops changed 5 orders and 3 "
        "products each.\n"
    )
    print(f"Second run (incremental):\n{second_summary}\n")
    print(
        f"Tracking written back to Big Cartel for {len(written_back)} of {len(shipped)} "
        "shipped orders."
    )
    print(f"Records: {output / 'records'}/<stream>.jsonl   State: {output / 'state.json'}")
    print(f"Warehouse files: {fulfillment}   Logs: {output / 'pipeline.log'}")


if __name__ == "__main__":
    main()
