"""Write-back of warehouse shipments to Big Cartel: requests per shipment and time; prints a
markdown table.

One Big Cartel shop in the in-process emulator (``bigcartel_sandbox``), sized so that
``--orders`` (833 by default) of its paid orders reach the ShipStation V1 emulator
(``shipstation_sandbox``). Everything goes through the real target process
(``python -m target_fulfillment.target``), fed one recorded tap run:

1. run 1 (not timed) sends the paid orders to ShipStation;
2. the warehouse ships ``--orders`` of them, ``--split-share`` (20 %) in two parcels (one unit of
   the first line, then the rest; only orders with at least two units are split), the others in
   one: 833 orders, 167 of them split, give 1,000 shipments;
3. run 2 (timed, the whole process) collects the shipments and writes each back as its own
   ``POST /v1/accounts/{a}/orders/{o}/shipments``, after one ``GET`` of the order.

The table counts the Big Cartel requests of run 2 by method (the emulator's request log), the
ShipStation requests of run 2, requests per shipment, the process's wall time, the span from the
first to the last Big Cartel request (the write-back itself) and shipments/s. Every row is
checked first: each parcel is on its Big Cartel order exactly once, with its tracking number,
and every order is ``written_back`` in the ledger. The second row repeats the whole setup with
``--latency`` seconds (50 ms by default, ``0`` to skip) added to every Big Cartel answer, the
cost of a real API's round trips: each shop is written back one request at a time. The third
row spreads the same orders over ``--shops`` shops (4), which the target writes back
``max_concurrency`` (4) at once.

Run: ``.venv/bin/python benchmarks/writeback_benchmark.py`` (~4 min;
``--orders 833 --split-share 0.2 --latency 0.05 --shops 4`` are the defaults)
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.ledger import Ledger

SS_KEY, SS_SECRET = "wb-bench-key", "wb-bench-secret"
SEED = 11
# Of the emulator's orders, 11 in 20 are paid and unshipped, and of those about half name only
# products with a ``SKU:`` line (the others are held): 824 of 2,800 orders were sent at seed 11.
SENT_SHARE = 0.28
TAP = [sys.executable, "-m", "tap_bigcartel.tap"]
TARGET = [sys.executable, "-m", "target_fulfillment.target"]


@dataclass
class Row:
    shops: int
    latency: float
    shop_orders: int
    sent: int
    orders: int
    split: int
    shipments: int
    bc_requests: collections.Counter[str]
    ss_requests: int
    seconds: float
    span: float

    @property
    def requests(self) -> int:
        return sum(self.bc_requests.values())


class Timestamps:
    """WSGI middleware noting when the first ``/v1`` request arrived and the last was answered."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.first: float | None = None
        self.last: float | None = None

    def reset(self) -> None:
        with self._lock:
            self.first = self.last = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        api = environ.get("PATH_INFO", "").startswith("/v1/")
        if api:
            with self._lock:
                self.first = time.perf_counter() if self.first is None else self.first
        try:
            return self._app(environ, start_response)
        finally:
            if api:
                with self._lock:
                    self.last = time.perf_counter()

    @property
    def span(self) -> float:
        return (self.last or 0.0) - (self.first or 0.0)


def _write(path: Path, payload: Any) -> str:
    path.write_text(json.dumps(payload))
    return str(path)


def accounts(bc: Sandbox) -> list[dict[str, str]]:
    return [{"account_id": s.account_id, "access_token": s.access_token} for s in bc.shops]


def record_tap(workdir: Path, bc: Sandbox) -> Path:
    """One tap run against the shop, its Singer messages kept to feed both target runs."""
    config = {
        "api_url": bc.url,
        "accounts": accounts(bc),
        "backoff_factor": 0.01,
        "max_retry_wait": 0.05,
    }
    output = workdir / "messages.jsonl"
    with output.open("w") as out:
        subprocess.run(
            [*TAP, "--config", _write(workdir / "tap.json", config)],
            stdout=out,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    return output


def target_config(bc: Sandbox, ss: ShipStationSandbox, workdir: Path) -> dict[str, Any]:
    return {
        "api_url": bc.url,
        "accounts": accounts(bc),
        "ledger_url": f"sqlite:///{workdir / 'ledger.db'}",
        "file_outbox_dir": str(workdir / "outbox"),
        "file_inbox_dir": str(workdir / "inbox"),
        "backend": "shipstation",
        "shipstation_api_url": ss.url,
        "shipstation_api_key": SS_KEY,
        "shipstation_api_secret": SS_SECRET,
        "shipping_codes": {
            "DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"},
            "INTERNATIONAL_DEFAULT": {
                "carrier_code": "usps",
                "service_code": "usps_priority_mail_international",
            },
        },
    }


def run_target(workdir: Path, config: dict[str, Any], messages: Path, name: str) -> float:
    """One target process over the recorded messages; its wall time in seconds."""
    command = [*TARGET, "--config", _write(workdir / "target.json", config)]
    started = time.perf_counter()
    with (
        messages.open() as stdin,
        (workdir / f"{name}.out").open("w") as out,
        (workdir / f"{name}.err").open("w") as err,
    ):
        process = subprocess.run(command, stdin=stdin, stdout=out, stderr=err, cwd=workdir)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        tail = (workdir / f"{name}.err").read_text()[-3000:]
        raise SystemExit(f"target {name} failed ({process.returncode}):\n{tail}")
    return seconds


def units(order: dict[str, Any]) -> int:
    return sum(int(item["quantity"]) for item in order["items"])


def ship(ss: ShipStationSandbox, wanted: int, share: float) -> dict[str, list[str]]:
    """Ship ``wanted`` of the sent orders, ``share`` of them in two parcels; the tracking
    numbers by order key."""
    sent = sorted(ss.store.orders(), key=lambda order: order["orderKey"])
    if len(sent) < wanted:
        print(f"only {len(sent)} orders reached ShipStation; shipping all of them", flush=True)
        wanted = len(sent)
    chosen = sent[:wanted]
    splittable = [order["orderKey"] for order in chosen if units(order) >= 2]
    split_count = round(wanted * share)
    if len(splittable) < split_count:
        print(f"only {len(splittable)} orders with two units or more; all split", flush=True)
        split_count = len(splittable)
    split = set(random.Random(SEED).sample(splittable, split_count))
    parcels: dict[str, list[str]] = collections.defaultdict(list)
    for order in chosen:
        key = order["orderKey"]
        if key in split:
            first = [{"lineItemKey": order["items"][0]["lineItemKey"], "quantity": 1}]
            ss.store.ship(key, tracking_number=f"{key}-1", items=first)
            parcels[key].append(f"{key}-1")
        ss.store.ship(key, tracking_number=f"{key}-{len(parcels[key]) + 1}")
        parcels[key].append(f"{key}-{len(parcels[key]) + 1}")
    return parcels


def check_exactly_once(bc: Sandbox, ledger_url: str, parcels: dict[str, list[str]]) -> None:
    """Each parcel on its Big Cartel order once, and each order written back in the ledger."""
    wrong = []
    for key, tracking in parcels.items():
        account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
        written = [s["tracking_number"] for s in bc.store.shipments(account_id, order_id)]
        if sorted(written) != sorted(tracking):
            wrong.append(f"{key}: expected {sorted(tracking)}, Big Cartel has {sorted(written)}")
    assert not wrong, f"{len(wrong)} orders wrong, e.g. {wrong[:5]}"
    ledger = Ledger(ledger_url)
    try:
        finished = {entry.order_key for entry in ledger.by_state("written_back")}
        states = collections.Counter(
            row.state
            for key in parcels
            for row in ledger.shipments.of_order(*key.removeprefix("bigcartel-").split("-", 1))
        )
    finally:
        ledger.close()
    assert finished == set(parcels), f"{len(set(parcels) - finished)} orders not written_back"
    assert states == {"written_back": sum(map(len, parcels.values()))}, states


def scenario(root: Path, orders: int, share: float, latency: float, shops: int) -> Row:
    workdir = root / f"latency-{latency}-shops-{shops}"
    workdir.mkdir()
    # Orders per shop for at least ``orders`` sent ones; a few more for margin.
    size = math.ceil(orders / SENT_SHARE / shops) + 20
    config = SandboxConfig(shops=shops, orders_per_shop=size, products_per_shop=40, seed=SEED)
    bc = Sandbox(config)
    # Outermost, as the sandbox adds its own middlewares: the added latency is inside the span.
    timestamps = Timestamps(bc.app.wsgi_app)
    bc.app.wsgi_app = timestamps  # type: ignore[method-assign]
    with bc, ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET) as ss:
        messages = record_tap(workdir, bc)
        settings = target_config(bc, ss, workdir)
        run_target(workdir, settings, messages, "send")
        sent = len(ss.store.orders())
        parcels = ship(ss, orders, share)
        bc.clear_requests()
        ss.clear_requests()
        timestamps.reset()
        bc.faults.configure(delay_seconds=latency)
        seconds = run_target(workdir, settings, messages, "writeback")
        bc.faults.reset()
        bc_requests = collections.Counter(entry["method"] for entry in bc.requests)
        other = [e for e in bc.requests if not 200 <= e["status"] < 300]
        assert not other, f"{len(other)} Big Cartel requests failed, e.g. {other[:3]}"
        ss_requests = len(ss.requests)
        check_exactly_once(bc, settings["ledger_url"], parcels)
    return Row(
        shops=shops,
        latency=latency,
        shop_orders=size * shops,
        sent=sent,
        orders=len(parcels),
        split=sum(len(p) == 2 for p in parcels.values()),
        shipments=sum(map(len, parcels.values())),
        bc_requests=bc_requests,
        ss_requests=ss_requests,
        seconds=seconds,
        span=timestamps.span,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=833, help="orders shipped (default 833)")
    parser.add_argument(
        "--split-share", type=float, default=0.2, help="share shipped in two parcels (0.2)"
    )
    parser.add_argument(
        "--shops", type=int, default=4, help="shops of the third row (4; 1: no third row)"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.05,
        help="seconds added to each Big Cartel answer in the second row (0.05; 0: no second row)",
    )
    args = parser.parse_args()
    runs = [(0.0, 1)]
    if args.latency > 0:
        runs.append((args.latency, 1))
        if args.shops > 1:
            runs.append((args.latency, args.shops))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for latency, shops in runs:
            rows.append(scenario(Path(tmp), args.orders, args.split_share, latency, shops))
            done = f"{latency * 1000:.0f} ms, {shops} shops done ({rows[-1].seconds:.1f} s)"
            print(done, flush=True)
    first = rows[0]
    print(
        f"\n## Write-back: {first.shipments:,} shipments of {first.orders:,} orders,"
        f" {first.split:,} of them in two parcels\n"
    )
    print(
        f"The shop has {first.shop_orders:,} orders; run 1 sent {first.sent:,} to ShipStation,"
        f" of which {first.orders:,} were shipped.\n"
    )
    print(
        "| shops | Big Cartel latency | shipments | orders | split | GET | POST | PATCH"
        " | requests/shipment | ShipStation requests | run s | write-back s | shipments/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.shops} | {row.latency * 1000:.0f} ms | {row.shipments:,}"
            f" | {row.orders:,} | {row.split:,}"
            f" | {row.bc_requests['GET']:,} | {row.bc_requests['POST']:,}"
            f" | {row.bc_requests['PATCH']:,} | {row.requests / row.shipments:.2f}"
            f" | {row.ss_requests:,} | {row.seconds:.1f} | {row.span:.1f}"
            f" | {row.shipments / row.seconds:.1f} |"
        )
    others = {m: n for m, n in first.bc_requests.items() if m not in ("GET", "POST", "PATCH")}
    if others:
        print(f"\nOther Big Cartel methods: {others}")
    print(
        "\nrun s: the whole target process (start-up, the recorded tap output, collecting the"
        " shipments, the write-back); write-back s: first to last Big Cartel request;"
        " shipments/s over run s. Each shop is written back one request at a time, and up to"
        " max_concurrency (4) shops at once. Each parcel was checked on its Big Cartel order"
        " exactly once."
    )


if __name__ == "__main__":
    main()
