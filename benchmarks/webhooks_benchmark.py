"""Throughput and latency of the webhook receiver: N signed deliveries from C concurrent senders.

The receiver runs as its own process (``python -m bigcartel_webhooks serve``, waitress, 8 threads,
SQLite in WAL with ``synchronous = FULL``) so the senders' Python threads do not share its GIL.
Each concurrency level gets a fresh database. Latency is per delivery, from send to 2xx.

    .venv/bin/python benchmarks/webhooks_benchmark.py --deliveries 2000 --concurrency 1 4 16
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bigcartel_core.webhook_store import WebhookStore  # noqa: E402
from bigcartel_webhooks.app import signature  # noqa: E402

SECRET = "benchmark-client-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_receiver(db_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "BIGCARTEL_CLIENT_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bigcartel_webhooks", "--db", db_url, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/webhooks/bigcartel"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the receiver did not start")


def _bodies(count: int) -> list[bytes]:
    """Distinct order.updated deliveries about the size of a real order document (~2 KB)."""
    items = [
        {"id": str(i), "product_name": "Tee", "quantity": 1, "price": "20.0"} for i in range(8)
    ]
    return [
        json.dumps(
            {
                "account_id": 1000 + n % 7,
                "type": "order.updated",
                "payload": {
                    "data": {"id": str(n), "type": "orders", "attributes": {"items": items}}
                },
            }
        ).encode()
        for n in range(count)
    ]


def run(deliveries: int, concurrency: int, workdir: Path) -> dict[str, float]:
    db_url = f"sqlite:///{workdir / f'webhooks-c{concurrency}.db'}"
    process, url = _start_receiver(db_url)
    bodies = _bodies(deliveries)
    local = threading.local()

    def send(body: bytes) -> float:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Signature": signature(SECRET, body),
        }
        started = time.perf_counter()
        response = local.session.post(url, data=body, headers=headers, timeout=60)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"delivery answered {response.status_code}")
        return elapsed

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            latencies = sorted(pool.map(send, bodies))
        wall = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    store = WebhookStore(db_url)
    stored = store.count()
    store.close()
    return {
        "concurrency": concurrency,
        "deliveries": deliveries,
        "seconds": wall,
        "per_second": deliveries / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "stored": stored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    header = f"{'senders':>7} {'deliveries':>10} {'seconds':>8} {'per s':>8} {'p50 ms':>8}"
    print(f"{header} {'p99 ms':>8} {'stored':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for concurrency in args.concurrency:
            r = run(args.deliveries, concurrency, Path(tmp))
            print(
                f"{r['concurrency']:>7} {r['deliveries']:>10} {r['seconds']:>8.2f}"
                f" {r['per_second']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
                f" {r['stored']:>7}",
                flush=True,
            )


if __name__ == "__main__":
    main()
