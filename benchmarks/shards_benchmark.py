"""Sharding benchmark: 64 shops x 200 orders synced as 1, 2, 4 and 8 shards in parallel, with
150 ms of API latency per request; a markdown table.

Each shard is one ``tap-bigcartel`` process (the tap's console script from .venv, run directly,
not through Meltano: this measures the tap and the split, not Meltano's start-up) given that
shard's ``accounts`` in a 0600 config file; the shards of a run start together. The emulator
(``SandboxConfig(shops=64, orders_per_shop=200, products_per_shop=20)``) runs in this process, one
thread per request, and its fault switch ``delay_seconds`` holds every ``/v1`` answer for the
latency (``--latency-ms``, default 150; 0 for none), as a distant API would. A tap makes one
request at a time, so with latency a shard's wall time is about its requests x the latency: the
fan-out is what makes the run shorter, and the largest shard (jump hashing balances shards
statistically, not exactly) sets the run's time. The request log gives the requests, in all and
per shard ("largest shard" and its floor, requests x latency). Correctness: every shop's orders
emitted once.

64 shops rather than the thousands the DAG is for, to keep the run near 3 minutes on 2 cores
(1 shard alone is ~500 requests x 150 ms); the shape, not the size, is what it measures.

Run: ``.venv/bin/python benchmarks/shards_benchmark.py [--shops 64 --orders 200 --latency-ms 150
--shards 1 2 4 8]``
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bigcartel_sandbox import Sandbox, SandboxConfig  # noqa: E402
from orchestrate.sharding import Shop, shard, write_secret_json  # noqa: E402

TAP = Path(sys.executable).parent / "tap-bigcartel"


def run_shards(sandbox: Sandbox, shops: list[Shop], k: int, workdir: Path) -> dict:
    groups = [group for group in shard(shops, k) if group]
    shard_of = {shop.account_id: index for index, group in enumerate(groups) for shop in group}
    sandbox.clear_requests()
    processes = []
    started = time.perf_counter()
    for index, group in enumerate(groups):
        config = write_secret_json(
            workdir / f"k{k}-shard-{index}.json",
            {
                "api_url": sandbox.url,
                "accounts": [shop.as_setting() for shop in group],
                "page_size": 100,
            },
        )
        out = (workdir / f"k{k}-shard-{index}.jsonl").open("w")
        process = subprocess.Popen(
            [str(TAP), "--config", str(config)], stdout=out, stderr=subprocess.DEVNULL
        )
        processes.append((process, out))
    for process, out in processes:
        process.wait()
        out.close()
    seconds = time.perf_counter() - started
    failed = sum(process.returncode != 0 for process, _ in processes)
    log = sandbox.requests
    requests = len(log)
    per_shard = collections.Counter(
        shard_of.get(entry["path"].split("/")[3], -1)
        for entry in log
        if entry["path"].startswith("/v1/accounts/")
    )
    orders: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for index in range(len(groups)):
        with (workdir / f"k{k}-shard-{index}.jsonl").open() as lines:
            for line in lines:
                if line.startswith('{"type":"RECORD","stream":"orders"'):
                    record = json.loads(line)["record"]
                    orders[record["account_id"]][record["id"]] += 1
    return {
        "groups": [len(group) for group in groups],
        "seconds": seconds,
        "requests": requests,
        "largest_shard_requests": max(count for index, count in per_shard.items() if index >= 0),
        "failed": failed,
        "orders": orders,
    }


def correct(orders: dict[str, collections.Counter], shops: list[Shop], per_shop: int) -> str:
    bad = [
        shop.account_id
        for shop in shops
        if len(orders.get(shop.account_id, {})) != per_shop
        or any(count != 1 for count in orders[shop.account_id].values())
    ]
    extra = set(orders) - {shop.account_id for shop in shops}
    if bad or extra:
        return f"NO: {len(bad)} shops wrong, {len(extra)} unknown"
    return f"yes ({len(shops)}/{len(shops)} shops x {per_shop} orders, once each)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=64)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    config = SandboxConfig(shops=args.shops, orders_per_shop=args.orders, products_per_shop=20)
    latency = args.latency_ms / 1000
    with Sandbox(config) as sandbox, tempfile.TemporaryDirectory() as tmp:
        sandbox.faults.configure(delay_seconds=latency)
        shops = [Shop(s.account_id, s.access_token) for s in sandbox.shops]
        rows = [(k, run_shards(sandbox, shops, k, Path(tmp))) for k in args.shards]
    print(
        f"\n## Shards: {args.shops} shops x {args.orders} orders (20 products), all streams, "
        f"{args.latency_ms:g} ms API latency a request, tap CLI per shard, {os.cpu_count()} cores\n"
    )
    print(
        "| shards | shops per shard | wall time (s) | speed-up | requests | requests/s "
        "| largest shard: requests (x latency, s) | failed shards | correct |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    base = rows[0][1]["seconds"]
    for k, row in rows:
        largest = row["largest_shard_requests"]
        print(
            f"| {k} | {', '.join(map(str, row['groups']))} | {row['seconds']:.1f} "
            f"| {base / row['seconds']:.2f}x | {row['requests']} "
            f"| {row['requests'] / row['seconds']:.0f} | {largest} ({largest * latency:.1f}) "
            f"| {row['failed']} | {correct(row['orders'], shops, args.orders)} |"
        )


if __name__ == "__main__":
    main()
