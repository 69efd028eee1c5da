"""The main job on the embedded default, through Meltano: a Big Cartel sandbox shop, the
fulfillment pipeline with a file warehouse (3PL), and a DuckDB data warehouse.

Starts the Big Cartel emulator (two shops, port 8765, the `dev` environment of meltano.yml), then
runs two rounds of ``meltano run fulfillment`` (tap-bigcartel → target-fulfillment) and
``meltano run warehouse`` (tap-bigcartel → target-duckdb). Between the rounds the 3PL confirms
three shipments (files in the inbox) and the shops change a few orders and products; the second
round is incremental (Meltano state), sends only what changed and writes tracking numbers back to
the shops. It prints a report from the ledger and the warehouse, and stops the emulator.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

from bigcartel_sandbox import Sandbox, SandboxConfig
from target_fulfillment.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ["bash", str(ROOT / "scripts" / "meltano.sh")]
DEV_OUTPUT = ROOT / "output" / "meltano-dev"
RECORD_COUNT = re.compile(r"tap-bigcartel METRIC .*metric_name=record_count metric_value=(\d+)")
DUCKDB_FILE = ROOT / ".meltano" / "bigcartel-dev.duckdb"
DUCKDB_PYTHON = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
COUNT_ROWS = """
import duckdb, json, sys
db = duckdb.connect(sys.argv[1], read_only=True)
tables = db.execute("select table_schema, table_name from information_schema.tables "
                    "where table_schema = 'bigcartel' order by table_name").fetchall()
print(json.dumps({name: db.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
                  for schema, name in tables}))
"""


def meltano(log: t.TextIO, *args: str) -> int:
    """Run meltano, appending its output to the log; returns the records the tap read."""
    log.write(f"\n$ meltano {' '.join(args)}\n")
    log.flush()
    result = subprocess.run([*MELTANO, *args], cwd=ROOT, capture_output=True, text=True)
    log.write(result.stdout + result.stderr)
    if result.returncode:
        raise SystemExit(f"meltano {' '.join(args)} failed; see {log.name}")
    return sum(int(n) for n in RECORD_COUNT.findall(result.stderr))


def confirm_shipments(outbox: Path, inbox: Path, how_many: int) -> list[str]:
    """Play the 3PL: collect order files and confirm a few as shipped."""
    inbox.mkdir(parents=True, exist_ok=True)
    shipped = []
    for order_file in sorted(outbox.glob("bigcartel-*.json"))[:how_many]:
        order = json.loads(order_file.read_text())
        confirmation = {
            "format": "bigcartel-fulfillment/shipment@1",
            "order_key": order["key"],
            "carrier": "usps",
            "tracking_number": f"9400{len(shipped) + 1:018d}",
            "items": [
                {"line_item_key": item["line_item_key"], "quantity": item["quantity"]}
                for item in order["items"]
            ],
        }
        temporary = inbox / f".{order['key']}.tmp"
        temporary.write_text(json.dumps(confirmation))
        temporary.rename(inbox / f"{order['key']}.json")
        order_file.unlink()  # the 3PL collected it
        shipped.append(order["key"])
    return shipped


def report(title: str, ledger: Ledger) -> None:
    counts = ledger.counts()
    print(f"\n{title}")
    print("  fulfillment ledger: " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items())))
    holds = ledger.by_state("held")
    for entry in holds[:5]:
        print(f"    held {entry.order_key}: {entry.hold_reason}")
    if len(holds) > 5:
        print(f"    ... {len(holds) - 5} more: target-fulfillment-admin holds")
    rows = json.loads(
        subprocess.run(
            [str(DUCKDB_PYTHON), "-c", COUNT_ROWS, str(DUCKDB_FILE)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print("  warehouse rows (DuckDB): " + ", ".join(f"{k} {v}" for k, v in rows.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300, help="orders per shop")
    parser.add_argument("--products", type=int, default=80, help="products per shop")
    args = parser.parse_args()

    output = ROOT / "output"
    output.mkdir(exist_ok=True)
    shutil.rmtree(DEV_OUTPUT, ignore_errors=True)
    DUCKDB_FILE.unlink(missing_ok=True)
    log_path = output / "main-job.log"
    with log_path.open("w") as log:
        print("Installing the Meltano plugins (first time only)...", flush=True)
        meltano(log, "install")
        config = SandboxConfig(
            shops=2,
            orders_per_shop=args.orders,
            products_per_shop=args.products,
            seed=1,
            port=8765,
        )
        with Sandbox(config) as sandbox:
            print(f"Big Cartel sandbox: {sandbox.url} (shops 1001, 1002)", flush=True)
            read = meltano(log, "--environment", "dev", "run", "--full-refresh", "fulfillment")
            meltano(log, "--environment", "dev", "run", "--full-refresh", "warehouse")
            ledger = Ledger(f"sqlite:///{DEV_OUTPUT / 'ledger.db'}")
            report(f"Round 1 (full): the tap read {read} records", ledger)

            shipped = confirm_shipments(DEV_OUTPUT / "outbox", DEV_OUTPUT / "inbox", 3)
            for shop in sandbox.shops:
                sandbox.store.update_orders(shop.account_id, 5)
                sandbox.store.update_products(shop.account_id, 3)
            print(
                f"\nThe 3PL confirmed {len(shipped)} shipments; each shop changed 5 orders "
                "and 3 products.",
                flush=True,
            )

            read = meltano(log, "--environment", "dev", "run", "fulfillment")
            meltano(log, "--environment", "dev", "run", "warehouse")
            report(
                f"Round 2 (incremental, from Meltano state): the tap read {read} records", ledger
            )
            written = sum(
                bool(sandbox.store.shipments(*key.removeprefix("bigcartel-").split("-", 1)))
                for key in shipped
            )
            ledger.close()
    print(f"  tracking written back to Big Cartel: {written} of {len(shipped)} shipped orders")
    print(f"\nLedger, outbox, inbox: {DEV_OUTPUT}   Warehouse: {DUCKDB_FILE}")
    print(f"Meltano output: {log_path}")


if __name__ == "__main__":
    sys.exit(main())
