"""Product deletes from the webhook store: what they cost the tap's products stream; prints a table.

One shop of 1,000 products in the emulator; a SQLite webhook store that also holds the deletes
of 9 other shops (so the per-shop filter has work to do). For each number of new deletes: a first
run sets the bookmarks, the deletes are stored, a second run emits them, and a third run from
the second's state finds nothing new, which is the steady cost of a large store. The tap runs as
its own process, start-up included; the baseline is the same runs without ``webhook_db_url``.
Run: ``.venv/bin/python benchmarks/deletes_benchmark.py``
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from tap_benchmark import run_tap, tap_config

from bigcartel_core.webhook_store import WebhookStore, delivery_key, webhook_events
from bigcartel_sandbox import Sandbox, SandboxConfig

OTHER_SHOPS = 9


def store_deletes(store: WebhookStore, account_id: str, count: int) -> None:
    """Bulk-insert ``count`` product.deleted events for the shop and for each other shop."""
    now = datetime.now(timezone.utc)
    rows = []
    for shop in [account_id, *(f"other-{n}" for n in range(OTHER_SHOPS))]:
        for n in range(count):
            payload = json.dumps({"id": f"deleted-{n}"})
            body = f"{shop}:{payload}".encode()
            rows.append(
                {
                    "delivery_key": delivery_key(body),
                    "account_id": shop,
                    "topic": "product.deleted",
                    "status": "received",
                    "payload": payload,
                    "received_at": now,
                }
            )
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(sa.insert(webhook_events), rows[start : start + 10_000])


def measure(sandbox: Sandbox, workdir: Path, deletes: int | None) -> tuple[float, int, float]:
    """Seconds and delete records of the run after the deletes; seconds of the run after that."""
    config = {**tap_config(sandbox)}
    store = None
    if deletes is not None:
        store = WebhookStore(f"sqlite:///{workdir / f'webhooks-{deletes}.db'}")
        config |= {"webhook_db_url": str(store.engine.url), "webhook_settle_seconds": 0}
    first = run_tap(config, workdir, {"products"})
    if store is not None:
        store_deletes(store, str(sandbox.shops[0].account_id), deletes or 0)
    second = run_tap(config, workdir, {"products"}, first["state"])
    third = run_tap(config, workdir, {"products"}, second["state"])
    if store is not None:
        store.close()
    emitted = second["counts"]["products"] - third["counts"]["products"]
    return second["seconds"], emitted, third["seconds"]


def main() -> None:
    cfg = SandboxConfig(shops=1, orders_per_shop=10, products_per_shop=1_000, seed=3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Sandbox(cfg) as sandbox:
        workdir = Path(tmp)
        for deletes in (None, 0, 1_000, 10_000, 50_000):
            rows.append((deletes, *measure(sandbox, workdir, deletes)))
    baseline = rows[1][1]  # webhook_db_url set, no deletes stored
    print(
        "| new deletes (shop) | rows in store | run s | delete records | extra s | ms per delete "
        "| next run s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for deletes, seconds, emitted, next_seconds in rows:
        label = "no webhook_db_url" if deletes is None else f"{deletes:,}"
        stored = "-" if deletes is None else f"{deletes * (OTHER_SHOPS + 1):,}"
        extra = seconds - baseline
        per_delete = f"{1000 * extra / emitted:.3f}" if emitted else "-"
        print(
            f"| {label} | {stored} | {seconds:.2f} | {emitted:,} | {extra:+.2f} | {per_delete} "
            f"| {next_seconds:.2f} |"
        )


if __name__ == "__main__":
    main()
