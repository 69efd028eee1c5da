"""Orders one per request vs in batches, into the ShipStation V1 and V2 emulators under their
rate limits; prints one markdown table for both APIs.

2,000 paid orders, decided and sent by the target's fulfillment service in-process (a real
SQLite ledger and order cache, the real ShipStation backend, ``max_concurrency`` 4) against each
emulator with 50 ms added per request and its documented budget: V1 40 requests a minute
(``POST /orders/createorders``, ``X-Rate-Limit-*`` headers), V2 200 a minute
(``POST /v2/shipments``, a 429 with ``Retry-After``). Both windows are shortened from 60 s to
``--window`` seconds (2 by default, 30x) so the per-order runs take minutes, not the hour they
would take against the real windows; a batched run needs fewer requests than one window allows,
so its time would be the same with 60 s. Per-order is the same service with ``batch_size``
forced to 1; batched uses the backend's own ``batch_size`` (100 for both: V1's documented
maximum, and for V2, whose docs state none, the cap of ShipStation's own MCP tool, which the V2
emulator enforces and marks as not settled by the docs). ``--api v1`` or ``--api v2`` runs one.
Run: ``.venv/bin/python benchmarks/fulfillment_batch_benchmark.py``
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from shipstation_sandbox import ShipStationSandbox
from shipstation_sandbox.v2 import DEFAULT_RATE_LIMIT as V2_RATE_LIMIT
from shipstation_sandbox.v2 import ShipStationV2Sandbox
from target_fulfillment.backends import ShipStationBackend, ShipStationV2Backend
from target_fulfillment.backends.base import Backend
from target_fulfillment.domain import Weight
from target_fulfillment.fulfillment import Fulfillment, Settings
from target_fulfillment.ledger import Ledger
from target_fulfillment.order_cache import OrderCache
from target_fulfillment.summary import RunSummary

SHOP = "1001"
KEY, SECRET = "bench-key", "bench-secret"
V1_RATE_LIMIT = 40  # ShipStation V1: 40 requests a minute per key and secret
REAL_WINDOW = 60.0  # both APIs count their budget per minute
V2_WAREHOUSE = "se-1000001"
V2_PACKAGE_WEIGHT = Weight(Decimal("12"), "ounce")
LATENCY = 0.05
CODES = {"DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"}}


@dataclass(frozen=True)
class Api:
    """One ShipStation API: its name, documented budget and create route."""

    name: str
    rate_limit: int
    create_path: str


V1 = Api("V1", V1_RATE_LIMIT, "/orders/createorders")
V2 = Api("V2", V2_RATE_LIMIT, "/v2/shipments")
APIS = {"v1": V1, "v2": V2}


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


def _v1(window: float) -> tuple[ShipStationSandbox, Any]:
    emulator = ShipStationSandbox(
        KEY,
        SECRET,
        latency_seconds=LATENCY,
        rate_limit=V1_RATE_LIMIT,
        rate_limit_window_seconds=window,
    )

    def backend(url: str) -> Backend:
        return ShipStationBackend(KEY, SECRET, api_url=url, rate_limit_max_wait=window)

    return emulator, backend


def _v2(window: float) -> tuple[ShipStationV2Sandbox, Any]:
    emulator = ShipStationV2Sandbox(
        KEY,
        latency_seconds=LATENCY,
        rate_limit=V2_RATE_LIMIT,
        rate_limit_window_seconds=window,
    )

    def backend(url: str) -> Backend:
        return ShipStationV2Backend(
            KEY,
            warehouse_id=V2_WAREHOUSE,
            package_weight=V2_PACKAGE_WEIGHT,
            api_url=url,
            rate_limit_max_wait=window,
        )

    return emulator, backend


def _created_keys(api: Api, body: Any) -> Iterator[str]:
    """The order keys one create request carried."""
    if api is V1:
        for order in body if isinstance(body, list) else [body]:
            yield order["orderKey"]
    else:
        for shipment in body["shipments"]:
            yield shipment["external_shipment_id"]


def run(api: Api, orders: int, window: float, batch_size: int | None) -> dict[str, Any]:
    """One run on a fresh ledger and emulator: create requests, 429s, seconds, sent twice."""
    emulator, make = _v1(window) if api is V1 else _v2(window)
    with tempfile.TemporaryDirectory() as workdir, emulator as ss:
        ledger = Ledger(f"sqlite:///{Path(workdir) / 'ledger.db'}")
        ledger.upsert_product(SHOP, "10", "Mug", "SKU: MUG", [], None)
        ledger.upsert_shop(SHOP, "US", "Shop")
        cache = OrderCache(ledger.engine)
        cache.put_many(order_record(index) for index in range(orders))
        backend = make(ss.url)
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
        size = backend.batch_size
        backend.close()
        ledger.close()
        log = ss.requests
    creates = [r for r in log if r["method"] == "POST" and r["path"] == api.create_path]
    # Orders the emulator took, per key (a 429 refuses the whole request and stores nothing;
    # None is a request taken whose answer was lost).
    per_key = Counter(
        key for r in creates if r["status"] in (200, None) for key in _created_keys(api, r["body"])
    )
    return {
        "batch_size": size,
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
    parser.add_argument("--api", choices=["v1", "v2", "both"], default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("target_fulfillment.backends.shipstation.client").setLevel(logging.ERROR)
    apis = list(APIS.values()) if args.api == "both" else [APIS[args.api]]
    shortened = REAL_WINDOW / args.window
    print(
        f"{args.orders} paid orders; each emulator at its documented requests per minute with"
        f" the 60 s window shortened to {args.window:g} s ({shortened:g}x), {LATENCY * 1000:g} ms"
        " per request, max_concurrency 4\n"
    )
    results: dict[Api, tuple[dict[str, Any], dict[str, Any]]] = {}
    for api in apis:
        results[api] = (
            run(api, args.orders, args.window, 1),
            run(api, args.orders, args.window, None),
        )
    print(
        "| API | rate limit (shortened) | mode | create requests | answered 429 | all requests"
        " | seconds | orders/s | sent | sent twice | failed | speed-up |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for api, (single, batched) in results.items():
        limit = f"{api.rate_limit}/{args.window:g} s (60 s ÷ {shortened:g})"
        for mode, r in (("per order (batch_size 1)", single), ("batched", batched)):
            if r is batched:
                mode = f"batched (batch_size {r['batch_size']})"
            speed_up = f"{single['seconds'] / r['seconds']:.1f}x" if r is batched else ""
            print(
                f"| {api.name} | {limit} | {mode} | {r['creates']:,} | {r['too_many']} |"
                f" {r['requests']:,} | {r['seconds']:.1f} | {r['sent'] / r['seconds']:.1f} |"
                f" {r['sent']:,} | {r['twice']} | {r['failed']} | {speed_up} |"
            )
    print()
    for api, (single, batched) in results.items():
        goal = math.ceil(args.orders / batched["batch_size"]) + 2
        # What the budget alone costs at the real window: every window but the last is waited out.
        floor = (math.ceil(single["requests"] / api.rate_limit) - 1) * REAL_WINDOW
        print(
            f"{api.name} batched: {batched['creates']} create requests (goal <="
            f" ceil(n/{batched['batch_size']})+2 = {goal}),"
            f" {single['seconds'] / batched['seconds']:.1f}x faster (goal >= 20x);"
            f" per order at the real 60 s window: at least {floor / 60:.0f} min of rate limit"
        )
        if single["too_many"] == 0:
            print(
                f"  {api.name} per order never reached its shortened limit: its time is the"
                f" {LATENCY * 1000:g} ms per request over 4 threads, not the budget"
            )


if __name__ == "__main__":
    main()
