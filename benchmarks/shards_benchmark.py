"""Sharding benchmark: 200 shops x 200 orders synced as 1 shard vs 4 shards in parallel; a table.

Each shard is one ``tap-bigcartel`` process (the tap's console script from .venv, run directly,
not through Meltano: this measures the tap and the split, not Meltano's start-up) given that
shard's ``accounts`` in a 0600 config file; the shards of a run start together. The emulator
(``SandboxConfig(shops=200, orders_per_shop=200, products_per_shop=20)``) runs in this process
and its request log gives the request count. Correctness: every shop's 200 orders emitted once.

Run: ``.venv/bin/python benchmarks/shards_benchmark.py [--shops 200 --orders 200 --shards 1 4]``
"""

from __future__ import annotations

import argparse
import collections
import json
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
    requests = len(sandbox.requests)
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
    parser.add_argument("--shops", type=int, default=200)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    config = SandboxConfig(shops=args.shops, orders_per_shop=args.orders, products_per_shop=20)
    with Sandbox(config) as sandbox, tempfile.TemporaryDirectory() as tmp:
        shops = [Shop(s.account_id, s.access_token) for s in sandbox.shops]
        rows = [(k, run_shards(sandbox, shops, k, Path(tmp))) for k in args.shards]
    print(
        f"\n## Shards: {args.shops} shops x {args.orders} orders (20 products), all streams, "
        "tap CLI per shard, 2 cores\n"
    )
    print("| shards | shops per shard | wall time (s) | requests | failed shards | correct |")
    print("|---:|---|---:|---:|---:|---|")
    for k, row in rows:
        print(
            f"| {k} | {', '.join(map(str, row['groups']))} | {row['seconds']:.1f} "
            f"| {row['requests']} | {row['failed']} "
            f"| {correct(row['orders'], shops, args.orders)} |"
        )


if __name__ == "__main__":
    main()
