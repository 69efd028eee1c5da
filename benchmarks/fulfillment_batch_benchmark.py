"""Orders one per request vs 100 per createorders, into the ShipStation V1 emulator under its
rate limit; prints a markdown table.

2,000 paid orders, decided and sent by the target's fulfillment service in-process (a real
SQLite ledger and order cache, the real ShipStation backend, ``max_concurrency`` 4) against the
emulator with ShipStation's documented 40 requests per window and 50 ms added per request. The
window is shortened from 60 s to ``--window`` seconds (2 by default) so the per-order run takes
minutes, not the 50 it would take against the real window; the batched run needs fewer requests
than one window allows, so its time would be the same with 60 s. Per-order is the same service
with ``batch_size`` forced to 1. Run: ``.venv/bin/python benchmarks/fulfillment_batch_benchmark.py``
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.backends import ShipStationBackend
from target_fulfillment.fulfillment import Fulfillment, Settings
from target_fulfillment.ledger import Ledger
from target_fulfillment.order_cache import OrderCache
from target_fulfillment.summary import RunSummary

SHOP = "1001"
KEY, SECRET = "bench-key", "bench-secret"
RATE_LIMIT = 40  # ShipStation V1: 40 requests a minute per key and secret
CODES = {"DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"}}


def order_record(index: int) -> dict[str, Any]:
    order_id = f"BENCH-{index:06d}"
    return {
        "id": order_id,
        "account_id": SHOP,
        "payment_status": "completed",
        "shipping_status": "unshipped",
        "customer_first_name": "Ada",
        "shipping_address_1": f"{index} Main St",
        "shipping_city": "Springfield",
        "shipping_country": {"id": "US"},
        "total": "9.00",
        "updated_at": "2026-05-01T12:00:00+00:00",
        "items": [{"id": f"{index}1", "product_id": "10", "quantity": 1, "price": "9.00"}],
    }


def run(orders: int, window: float, batch_size: int | None) -> dict[str, Any]:
    """One run on a fresh ledger and emulator: create requests, 429s, seconds, sent twice."""
    with (
        tempfile.TemporaryDirectory() as workdir,
        ShipStationSandbox(
            KEY,
            SECRET,
            latency_seconds=0.05,
            rate_limit=RATE_LIMIT,
            rate_limit_window_seconds=window,
        ) as ss,
    ):
        ledger = Ledger(f"sqlite:///{Path(workdir) / 'ledger.db'}")
        ledger.upsert_product(SHOP, "10", "Mug", "SKU: MUG", [], None)
        ledger.upsert_shop(SHOP, "US", "Shop")
        cache = OrderCache(ledger.engine)
        cache.put_many(order_record(index) for index in range(orders))
        backend = ShipStationBackend(KEY, SECRET, api_url=ss.url, rate_limit_max_wait=window)
        if batch_size is not None:
            backend.batch_size = batch_size
        summary = RunSummary()
        settings = Settings(
            sku_overrides={},
            shipping_codes=CODES,
            origin_country=None,
            max_concurrency=4,
            dry_run=False,
            notify_customer=False,
        )
        service = Fulfillment(
            ledger=ledger,
            cache=cache,
            backend=backend,
            writer=None,
            settings=settings,
            summary=summary,
            logger=logging.getLogger("benchmark"),
        )
        started = time.perf_counter()
        service.run()
        seconds = time.perf_counter() - started
        backend.close()
        ledger.close()
        log = ss.requests
    creates = [r for r in log if r["path"].startswith("/orders/createorder")]
    # Orders the emulator took (a 429 refuses the whole request and stores nothing).
    per_key = Counter(
        order["orderKey"]
        for r in creates
        if r["status"] in (200, None)
        for order in (r["body"] if isinstance(r["body"], list) else [r["body"]])
    )
    return {
        "creates": len(creates),
        "too_many": sum(r["status"] == 429 for r in log),
        "requests": len(log),
        "seconds": seconds,
        "sent": summary.counts["sent"],
        "twice": sum(count > 1 for count in per_key.values()),
        "failed": len(summary.failures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--window", type=float, default=2.0, help="rate-limit window, seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("target_fulfillment.backends.shipstation.client").setLevel(logging.ERROR)
    print(
        f"{args.orders} paid orders; ShipStation V1 emulator at {RATE_LIMIT} requests per"
        f" {args.window:g} s (the documented window of 60 s shortened {60 / args.window:g}x),"
        " 50 ms per request, max_concurrency 4\n"
    )
    results = {
        "per order (batch_size 1)": run(args.orders, args.window, 1),
        "batched (batch_size 100)": run(args.orders, args.window, None),
    }
    print(
        "| mode | create requests | answered 429 | all requests | seconds | orders/s | sent"
        " | sent twice |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode, r in results.items():
        print(
            f"| {mode} | {r['creates']:,} | {r['too_many']} | {r['requests']:,} |"
            f" {r['seconds']:.1f} | {r['sent'] / r['seconds']:.1f} | {r['sent']:,} | {r['twice']} |"
        )
    single, batched = results.values()
    print(
        f"\nbatched: {batched['creates']} create requests (goal <= ceil(n/100)+2 ="
        f" {math.ceil(args.orders / 100) + 2}), {single['seconds'] / batched['seconds']:.1f}x"
        " faster (goal >= 20x)"
    )


if __name__ == "__main__":
    main()
