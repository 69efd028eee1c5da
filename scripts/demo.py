"""The main job on the embedded default, through Meltano: a Big Cartel sandbox shop, the
fulfillment pipeline with a file warehouse (3PL), and a DuckDB data warehouse.

Starts the Big Cartel emulator (two shops, on --port, 8765 by default as in the `dev` environment
of meltano.yml; every Meltano call is pointed at it through TAP_BIGCARTEL_API_URL and
TARGET_FULFILLMENT_API_URL), and only then deletes the previous run's outputs. It runs two rounds
of ``meltano run fulfillment`` (tap-bigcartel → target-fulfillment) and ``meltano run warehouse``
(tap-bigcartel → target-duckdb). The seeded shops include products without ``SKU:`` on purpose,
so some orders are held. Between the rounds the 3PL confirms three shipments (files in the
inbox), the shops change a few orders and products, and one order held for a missing ``SKU:`` is
released with an SKU override (TARGET_FULFILLMENT_SKU_OVERRIDES); the second round is incremental
(Meltano state), sends what changed and the released order (held orders are re-evaluated on
every run, so the tap need not read it again) and writes tracking numbers back to the shops. It
prints a report from the ledger and the warehouse, and stops the emulator.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

from bigcartel_sandbox import Sandbox, SandboxConfig
from target_fulfillment.ledger import Ledger, OrderEntry

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ["bash", str(ROOT / "scripts" / "meltano.sh")]
DEV_OUTPUT = ROOT / "output" / "meltano-dev"
RECORD_COUNT = re.compile(r"tap-bigcartel METRIC .*metric_name=record_count metric_value=(\d+)")
MISSING_SKU = re.compile(r"product (\S+) has no 'SKU:' in its description")
# The admin CLI as a Meltano plugin command, with the dev environment's ledger_url.
HOLDS_COMMAND = "bash scripts/meltano.sh invoke target-fulfillment:holds"
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


def meltano(log: t.TextIO, *args: str, env: dict[str, str] | None = None) -> int:
    """Run meltano, appending its output to the log; returns the records the tap read."""
    log.write(f"\n$ meltano {' '.join(args)}\n")
    log.flush()
    result = subprocess.run([*MELTANO, *args], cwd=ROOT, capture_output=True, text=True, env=env)
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
        print(f"    ... {len(holds) - 5} more: {HOLDS_COMMAND}")
    rows = json.loads(
        subprocess.run(
            [str(DUCKDB_PYTHON), "-c", COUNT_ROWS, str(DUCKDB_FILE)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print("  warehouse rows (DuckDB): " + ", ".join(f"{k} {v}" for k, v in rows.items()))


def hold_to_release(ledger: Ledger, changed: set[str]) -> tuple[OrderEntry, str] | None:
    """A held order whose one reason is a product without ``SKU:``, and that product's id.

    Orders the shops just changed are passed over, so round 2 shows the hold released by
    re-evaluation, not by the tap reading the order again.
    """
    for entry in ledger.by_state("held"):
        match = MISSING_SKU.fullmatch(entry.hold_reason or "")
        if match and entry.order_key not in changed:
            return entry, match.group(1)
    return None


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def reread_by_tap(
    sandbox: Sandbox, entry: OrderEntry, requests: list[dict[str, t.Any]]
) -> bool | None:
    """Whether an orders request of the shop could have returned the order again; None when
    the log holds no orders request of the shop (nothing to tell from)."""
    document = sandbox.store.document(entry.account_id, "orders", entry.order_id, sandbox.url)
    updated_at = _instant(document["data"]["attributes"]["updated_at"])
    seen = False
    for request in requests:
        if request["method"] == "GET" and request["path"].endswith(
            f"/accounts/{entry.account_id}/orders"
        ):
            seen = True
            since = request["query"].get("filter[updated_at_from]")
            if since is None or _instant(since) <= updated_at:
                return True
    return False if seen else None


def start(config: SandboxConfig) -> Sandbox:
    """The started emulator; a busy port stops the job, naming it, before anything is deleted.

    The port is tried first because werkzeug's server exits the process on a busy port.
    """
    busy = SystemExit(
        f"port {config.port} is busy, so the Big Cartel sandbox cannot start there; nothing "
        "was deleted. Choose another with --port N, or --port 0 for a free one."
    )
    if config.port:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((config.host, config.port))
            except OSError:
                raise busy from None
    try:
        return Sandbox(config).start()
    except (OSError, SystemExit):
        raise busy from None


def port_number(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 picks a free one)")
    return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300, help="orders per shop")
    parser.add_argument("--products", type=int, default=80, help="products per shop")
    parser.add_argument(
        "--port", type=port_number, default=8765, help="emulator port (0: a free one)"
    )
    args = parser.parse_args()

    config = SandboxConfig(
        shops=2,
        orders_per_shop=args.orders,
        products_per_shop=args.products,
        seed=1,
        port=args.port,
    )
    sandbox = start(config)
    with contextlib.ExitStack() as at_exit:
        at_exit.callback(sandbox.stop)
        # Only now that the emulator is up: a failed start leaves the last run's results.
        output = ROOT / "output"
        output.mkdir(exist_ok=True)
        shutil.rmtree(DEV_OUTPUT, ignore_errors=True)
        DUCKDB_FILE.unlink(missing_ok=True)
        env = {
            **os.environ,
            "TAP_BIGCARTEL_API_URL": sandbox.url,
            "TARGET_FULFILLMENT_API_URL": sandbox.url,
        }
        log_path = output / "main-job.log"
        with log_path.open("w") as log:
            print("Installing the Meltano plugins (first time only)...", flush=True)
            meltano(log, "install")
            print(f"Big Cartel sandbox: {sandbox.url} (shops 1001, 1002)", flush=True)
            print(
                "The seeded shops include products without 'SKU:' in their descriptions on "
                f"purpose, so some orders are held; list them: {HOLDS_COMMAND}",
                flush=True,
            )
            dev = ("--environment", "dev", "run")
            read = meltano(log, *dev, "--full-refresh", "fulfillment", env=env)
            meltano(log, *dev, "--full-refresh", "warehouse", env=env)
            ledger = Ledger(f"sqlite:///{DEV_OUTPUT / 'ledger.db'}")
            report(f"Round 1 (full): the tap read {read} records", ledger)

            shipped = confirm_shipments(DEV_OUTPUT / "outbox", DEV_OUTPUT / "inbox", 3)
            changed = {
                f"bigcartel-{shop.account_id}-{order_id}"
                for shop in sandbox.shops
                for order_id in sandbox.store.update_orders(shop.account_id, 5)
            }
            for shop in sandbox.shops:
                sandbox.store.update_products(shop.account_id, 3)
            print(
                f"\nThe 3PL confirmed {len(shipped)} shipments; each shop changed 5 orders "
                "and 3 products.",
                flush=True,
            )
            chosen = hold_to_release(ledger, changed)
            if chosen is None:
                raise SystemExit("no order is held for a missing 'SKU:' alone: nothing to release")
            held, product_id = chosen
            overrides = {product_id: f"DEMO-{product_id}"}
            also = sum(
                entry.hold_reason == held.hold_reason and entry.order_key != held.order_key
                for entry in ledger.by_state("held")
            )
            print(
                f"Releasing the hold on {held.order_key} (product {product_id} has no 'SKU:'): "
                f"TARGET_FULFILLMENT_SKU_OVERRIDES='{json.dumps(overrides)}' for round 2"
                + (f" ({also} other held orders wait only on that product too)." if also else "."),
                flush=True,
            )

            sandbox.clear_requests()
            read = meltano(
                log,
                *dev,
                "fulfillment",
                env={**env, "TARGET_FULFILLMENT_SKU_OVERRIDES": json.dumps(overrides)},
            )
            reread = reread_by_tap(sandbox, held, sandbox.requests)
            meltano(log, *dev, "warehouse", env=env)
            report(
                f"Round 2 (incremental, from Meltano state): the tap read {read} records", ledger
            )
            released = ledger.find_by_key(held.order_key)
            order_file = DEV_OUTPUT / "outbox" / f"{held.order_key}.json"
            if released is None or released.state == "held" or not order_file.exists():
                state = released.state if released else "missing"
                raise SystemExit(
                    f"the released order {held.order_key} was not sent (ledger: {state}, "
                    f"outbox file: {'yes' if order_file.exists() else 'no'})"
                )
            print(
                f"  released hold: {held.order_key} {released.state}, in the outbox "
                f"({order_file.relative_to(ROOT)}); "
                + {
                    True: "the tap may have read it again this round",
                    False: "the tap did not read it again (re-evaluated from the ledger)",
                    None: "no orders request of the shop was logged",
                }[reread]
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
