"""tap-bigcartel benchmarks against the local emulator; prints tables.

1. Incremental cost: one shop of 20,000 orders and 10,000 products; 50 of each change; requests
   per stream of the incremental run, next to the requests a full re-read needs.
2. Throughput: a full sync of the orders through the tap's console script, against a bare loop
   (requests + json) fetching the same pages; the ratio tap/bare. Both are timed as whole
   processes, start-up included.
3. Peak memory (VmHWM of the tap process) of a full orders sync of 20,000 vs 100,000 orders.

The emulator runs in this process; the tap and the bare loop each run as their own process, so
neither shares an interpreter with the server. Run: ``.venv/bin/python benchmarks/tap_benchmark.py``
(``--skip-incremental --orders 20000 100000 --repeat 3`` for the throughput runs alone, repeated:
on a shared machine single runs move by ±20 %).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak_memory import run_with_peak_memory

from bigcartel_sandbox import Sandbox, SandboxConfig

PAGE = 100
BARE_LOOP = """
import json, sys, requests
url, token, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
headers = {"Accept": "application/vnd.api+json", "User-Agent": "bench",
           "Authorization": "Bearer " + token}
session, offset, total = requests.Session(), 0, 0
while True:
    params = {"sort": "updated_at", "page[limit]": limit, "page[offset]": offset}
    data = json.loads(session.get(url, params=params, headers=headers).content)["data"]
    total += len(data)
    offset += len(data)
    if len(data) < limit:
        break
print(json.dumps({"records": total}))
"""


def run_tap(config: dict, workdir: Path, streams: set[str], state: dict | None = None) -> dict:
    """Run the tap CLI; return records per stream, final state, seconds and max RSS (MiB)."""
    config_file = workdir / "config.json"
    config_file.write_text(json.dumps(config))
    catalog_file = workdir / "catalog.json"
    discovered = subprocess.run(
        [sys.executable, "-m", "tap_bigcartel.tap", "--config", str(config_file), "--discover"],
        capture_output=True,
        check=True,
        text=True,
    )
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    catalog_file.write_text(json.dumps(catalog))
    args = ["--config", str(config_file), "--catalog", str(catalog_file)]
    if state is not None:
        state_file = workdir / "state.json"
        state_file.write_text(json.dumps(state))
        args += ["--state", str(state_file)]
    out_file = workdir / "out.jsonl"
    started = time.perf_counter()
    with out_file.open("w") as out:
        process, peak_mib = run_with_peak_memory(
            "tap_bigcartel.tap",
            "TapBigCartel",
            args,
            workdir / "peak-kib",
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"tap failed with exit code {process.returncode}")
    counts: collections.Counter = collections.Counter()
    last_state: dict = {}
    with out_file.open() as out:
        for line in out:
            if line.startswith('{"type":"RECORD"'):
                counts[json.loads(line)["stream"]] += 1
            elif line.startswith('{"type":"STATE"'):
                last_state = json.loads(line)["value"]
    return {
        "counts": counts,
        "state": last_state,
        "seconds": seconds,
        "max_rss_mib": peak_mib,
    }


def requests_by_stream(sandbox: Sandbox) -> collections.Counter:
    counter: collections.Counter = collections.Counter()
    for request in sandbox.requests:
        if request["path"].startswith("/v1/accounts/"):
            parts = request["path"].split("/")
            counter[parts[4] if len(parts) > 4 else "accounts"] += 1
    return counter


def tap_config(sandbox: Sandbox) -> dict:
    shop = sandbox.shops[0]
    return {
        "api_url": sandbox.url,
        "access_token": shop.access_token,
        "account_id": shop.account_id,
        "page_size": PAGE,
    }


def incremental_cost(workdir: Path) -> None:
    cfg = SandboxConfig(shops=1, orders_per_shop=20_000, products_per_shop=10_000, seed=1)
    with Sandbox(cfg) as sandbox:
        config = tap_config(sandbox)
        streams = {"orders", "products", "accounts"}
        sandbox.clear_requests()
        full = run_tap(config, workdir, streams)
        full_requests = requests_by_stream(sandbox)
        shop = sandbox.shops[0].account_id
        changed = {
            "orders": len(sandbox.store.update_orders(shop, 50)),
            "products": len(sandbox.store.update_products(shop, 50)),
        }
        sandbox.clear_requests()
        incremental = run_tap(config, workdir, streams, state=full["state"])
        incremental_requests = requests_by_stream(sandbox)
    print("\n## Incremental cost (1 shop, 20,000 orders, 10,000 products, page size 100)\n")
    print("| stream | changed | emitted | requests (incremental) | requests (full re-read) |")
    print("|---|---:|---:|---:|---:|")
    for stream in ("orders", "products", "accounts"):
        print(
            f"| {stream} | {changed.get(stream, 0)} | {incremental['counts'][stream]} "
            f"| {incremental_requests[stream]} | {full_requests[stream]} |"
        )


def throughput(workdir: Path, orders: int) -> dict:
    cfg = SandboxConfig(shops=1, orders_per_shop=orders, products_per_shop=50, seed=2)
    with Sandbox(cfg) as sandbox:
        shop = sandbox.shops[0]
        tap = run_tap(tap_config(sandbox), workdir, {"orders"})
        started = time.perf_counter()
        bare_out = subprocess.run(
            [
                sys.executable,
                "-c",
                BARE_LOOP,
                f"{sandbox.url}/v1/accounts/{shop.account_id}/orders",
                shop.access_token,
                str(PAGE),
            ],
            capture_output=True,
            check=True,
            text=True,
        )
    bare = {
        "records": json.loads(bare_out.stdout)["records"],
        "seconds": time.perf_counter() - started,
    }
    return {
        "orders": orders,
        "tap_records": tap["counts"]["orders"],
        "tap_seconds": tap["seconds"],
        "bare_records": bare["records"],
        "bare_seconds": bare["seconds"],
        "max_rss_mib": tap["max_rss_mib"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=100_000, help="orders in the memory run")
    parser.add_argument(
        "--orders",
        type=int,
        nargs="+",
        help="shop sizes of the throughput runs (default: 20,000 and --large)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="throughput runs per size; best and median shown"
    )
    parser.add_argument(
        "--skip-incremental", action="store_true", help="only the throughput and memory runs"
    )
    args = parser.parse_args()
    sizes = args.orders or [20_000, args.large]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.skip_incremental:
            incremental_cost(workdir)
        runs = {size: [throughput(workdir, size) for _ in range(args.repeat)] for size in sizes}
    print("\n## Full-sync throughput of orders (tap process vs bare requests+json loop)\n")
    print("| orders | run | tap records/s | bare records/s | tap/bare | tap max RSS (MiB) |")
    print("|---:|---|---:|---:|---:|---:|")
    for size, results in runs.items():
        ratios = []
        for index, run in enumerate(results, 1):
            tap_rate = run["tap_records"] / run["tap_seconds"]
            bare_rate = run["bare_records"] / run["bare_seconds"]
            ratios.append(tap_rate / bare_rate)
            print(
                f"| {size:,} | {index} | {tap_rate:,.0f} | {bare_rate:,.0f} | "
                f"{tap_rate / bare_rate:.2f} | {run['max_rss_mib']:.0f} |"
            )
        if len(results) > 1:
            print(
                f"| {size:,} | best / median | | | {max(ratios):.2f} / "
                f"{statistics.median(ratios):.2f} | |"
            )
    if len(sizes) > 1:
        peak = {size: max(run["max_rss_mib"] for run in runs[size]) for size in sizes}
        print(
            f"\nPeak memory difference {max(sizes):,} vs {min(sizes):,} orders: "
            f"{peak[max(sizes)] - peak[min(sizes)]:+.0f} MiB"
        )


if __name__ == "__main__":
    main()
