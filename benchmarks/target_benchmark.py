"""target-fulfillment benchmarks; prints tables.

1. Throughput: 2,000 eligible orders into the ShipStation emulator with 50 ms added latency per
   request and no rate limit, sequential (``max_concurrency`` 1) vs the default 4; orders/s of the
   whole target process.
2. Ledger overhead per order on SQLite: the order cache write, claim and confirm, in ms.
3. Peak memory (VmHWM) of the target process at 2,000 vs 20,000 orders (file backend).

The input is synthetic Singer messages (one shop, products with ``SKU:`` lines, paid unshipped
orders), so the target alone is measured. Run: ``.venv/bin/python benchmarks/target_benchmark.py``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from peak_memory import run_with_peak_memory

from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.ledger import Ledger
from target_fulfillment.order_cache import OrderCache

SCHEMAS = {
    "accounts": ["account_id", "id"],
    "products": ["account_id", "id"],
    "orders": ["account_id", "id"],
}


def order_record(index: int) -> dict:
    return {
        "id": f"BENCH-{index:06d}",
        "account_id": "1001",
        "payment_status": "completed",
        "shipping_status": "unshipped",
        "customer_first_name": "Ada",
        "customer_last_name": f"Buyer {index}",
        "customer_email": f"buyer{index}@example.com",
        "shipping_address_1": f"{index} Main St",
        "shipping_city": "Springfield",
        "shipping_zip": "12345",
        "shipping_country": {"id": "US" if index % 4 else "CA", "name": "x"},
        "total": "42.50",
        "shipping_total": "5.00",
        "completed_at": "2026-05-01T12:00:00+00:00",
        "updated_at": "2026-05-01T12:00:00+00:00",
        "items": [
            {
                "id": f"{index}1",
                "product": {"id": str(index % 50)},
                "product_option": {"id": f"{index % 50}-2"},
                "product_name": "Tee",
                "quantity": 2,
                "price": "15.00",
            },
            {
                "id": f"{index}2",
                "product": {"id": str(50 + index % 10)},
                "product_option": {"id": f"{50 + index % 10}-1"},
                "product_name": "Mug",
                "quantity": 1,
                "price": "12.50",
            },
        ],
    }


def write_input(path: Path, orders: int) -> None:
    with path.open("w") as out:

        def emit(message: dict) -> None:
            out.write(json.dumps(message) + "\n")

        for stream, keys in SCHEMAS.items():
            emit(
                {
                    "type": "SCHEMA",
                    "stream": stream,
                    "key_properties": keys,
                    "schema": {"type": "object", "properties": {}},
                }
            )
        emit(
            {
                "type": "RECORD",
                "stream": "accounts",
                "record": {"id": "1001", "account_id": "1001", "country": {"id": "US"}},
            }
        )
        for product in range(60):
            options = (
                [
                    {"id": f"{product}-{n}", "name": size}
                    for n, size in enumerate(("SMALL", "MEDIUM", "X-LARGE"), 1)
                ]
                if product < 50
                else [{"id": f"{product}-1", "name": "Default"}]
            )
            emit(
                {
                    "type": "RECORD",
                    "stream": "products",
                    "record": {
                        "id": str(product),
                        "account_id": "1001",
                        "name": f"Product {product}",
                        "description": f"<p>Lovely.</p><p>SKU: P{product}-</p>",
                        "options": options,
                        "updated_at": "2026-01-01T00:00:00+00:00",
                    },
                }
            )
        for index in range(orders):
            emit({"type": "RECORD", "stream": "orders", "record": order_record(index)})
        emit({"type": "STATE", "value": {"bookmarks": {}}})


def run_target(config: dict, workdir: Path, messages: Path) -> tuple[float, float]:
    """Seconds and peak MiB of one target process over the input."""
    config_file = workdir / "target.json"
    config_file.write_text(json.dumps(config))
    started = time.perf_counter()
    with messages.open() as stdin:
        process, peak_mib = run_with_peak_memory(
            "target_fulfillment.target",
            "TargetFulfillment",
            ["--config", str(config_file)],
            workdir / "peak-kib",
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if process.returncode != 0:
        raise SystemExit(f"target failed with exit code {process.returncode}")
    return time.perf_counter() - started, peak_mib


def base_config(workdir: Path) -> dict:
    return {
        "ledger_url": f"sqlite:///{workdir / 'ledger.db'}",
        "file_outbox_dir": str(workdir / "outbox"),
        "file_inbox_dir": str(workdir / "inbox"),
    }


def throughput(root: Path, orders: int) -> list[tuple[int, float, int]]:
    messages = root / "throughput.jsonl"
    write_input(messages, orders)
    rows = []
    for concurrency in (1, 4):
        workdir = root / f"ss-{concurrency}"
        workdir.mkdir()
        with ShipStationSandbox(api_key="k", api_secret="s", latency_seconds=0.05) as ss:
            config = {
                **base_config(workdir),
                "backend": "shipstation",
                "shipstation_api_url": ss.url,
                "shipstation_api_key": "k",
                "shipstation_api_secret": "s",
                "max_concurrency": concurrency,
            }
            seconds, _ = run_target(config, workdir, messages)
            sent = len(ss.store.orders())
        rows.append((concurrency, seconds, sent))
    return rows


def ledger_overhead(root: Path, orders: int) -> dict[str, float]:
    ledger = Ledger(f"sqlite:///{root / 'overhead.db'}")
    cache = OrderCache(ledger.engine)
    records = [order_record(index) for index in range(orders)]
    timings = {}
    started = time.perf_counter()
    for start in range(0, orders, 500):
        cache.put_many(records[start : start + 500])
    timings["order cache write (batches of 500)"] = time.perf_counter() - started
    started = time.perf_counter()
    for record in records:
        ledger.claim("1001", record["id"], f"bigcartel-1001-{record['id']}", "hash", "bench")
    timings["claim (intent, own transaction)"] = time.perf_counter() - started
    started = time.perf_counter()
    for record in records:
        ledger.confirm_submitted("1001", record["id"], "remote", "hash")
    timings["confirm_submitted (own transaction)"] = time.perf_counter() - started
    ledger.close()
    return {name: seconds * 1000 / orders for name, seconds in timings.items()}


def memory(root: Path, sizes: tuple[int, ...]) -> list[tuple[int, float, float]]:
    rows = []
    for orders in sizes:
        workdir = root / f"mem-{orders}"
        workdir.mkdir()
        messages = workdir / "input.jsonl"
        write_input(messages, orders)
        seconds, peak = run_target({**base_config(workdir), "backend": "file"}, workdir, messages)
        rows.append((orders, seconds, peak))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = throughput(root, args.orders)
        overhead = ledger_overhead(root, args.orders)
        memory_rows = memory(root, (args.orders, args.large))
    print(f"\n## Throughput: {args.orders:,} orders to ShipStation, 50 ms latency per request\n")
    print("| max_concurrency | seconds | orders sent | orders/s |")
    print("|---:|---:|---:|---:|")
    for concurrency, seconds, sent in rows:
        print(f"| {concurrency} | {seconds:.1f} | {sent:,} | {sent / seconds:.1f} |")
    print(f"\nSpeed-up 4 vs 1: {rows[0][1] / rows[1][1]:.2f}x (whole process, start-up included)")
    print("\n## Ledger overhead per order (SQLite, WAL)\n")
    print("| step | ms per order |")
    print("|---|---:|")
    for name, ms in overhead.items():
        print(f"| {name} | {ms:.2f} |")
    print("\n## Peak memory of the target process (file backend)\n")
    print("| orders | seconds | peak MiB |")
    print("|---:|---:|---:|")
    for orders, seconds, peak in memory_rows:
        print(f"| {orders:,} | {seconds:.1f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
