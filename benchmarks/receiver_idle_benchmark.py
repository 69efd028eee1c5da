"""The webhook receiver under idle connections: its threads, a delivery's answer, the timeout.

Issue 9: under werkzeug's threaded server 2,000 idle connections held 2,002 threads and were
never closed. For each connection limit this runs ``bigcartel-webhooks serve`` as its own process
(SQLite store) on 127.0.0.1, opens ``--idle`` connections that send nothing, then sends one
signed delivery, and waits until the server has closed every idle connection or three channel
timeouts plus a minute have passed. Reported: the server's peak thread count and resident memory,
the delivery's status and latency, how many idle connections the server closed and how long after
each had connected.

    .venv/bin/python benchmarks/receiver_idle_benchmark.py --idle 2000 --channel-timeout 10
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bigcartel_core.webhook_store import WebhookStore  # noqa: E402
from bigcartel_webhooks.app import signature  # noqa: E402
from bigcartel_webhooks.server import DEFAULT_CONNECTION_LIMIT, DEFAULT_THREADS  # noqa: E402

SECRET = "benchmark-client-secret"
# Open files of this process besides the idle sockets: the delivery's socket, stdio, imports.
SPARE_FILES = 256
SAMPLE_SECONDS = 0.5  # how often the server's threads and memory are read while waiting


@dataclass
class Result:
    connection_limit: int
    idle: int = 0
    peak_threads: int = 0
    peak_rss_mib: float = 0.0
    status: str = "-"
    latency_s: float | None = None
    stored: int = 0
    closed_after: list[float] = field(default_factory=list)


def _raise_open_files(needed: int) -> None:
    """The idle sockets are this process's open files too; the server raises its own limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"needs {needed} open files, the hard limit (ulimit -Hn) is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(db_url: str, port: int, channel_timeout: int, limit: int) -> subprocess.Popen[str]:
    """The receiver, ready once it prints its banner (after binding); its later output is
    drained in a thread so a full pipe never stalls it."""
    command = [sys.executable, "-m", "bigcartel_webhooks", "--db", db_url, "serve"]
    options = ["--port", str(port), "--channel-timeout", str(channel_timeout)]
    process = subprocess.Popen(
        [*command, *options, "--connection-limit", str(limit)],
        env={**os.environ, "BIGCARTEL_CLIENT_SECRET": SECRET, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    if not banner.startswith("receiving"):
        process.kill()
        sys.exit(f"the receiver did not start: {banner}")
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process


def run(idle: int, channel_timeout: int, limit: int, workdir: Path) -> Result:
    db_url = f"sqlite:///{workdir / f'idle-{limit}.db'}"
    port = _free_port()
    process = _start(db_url, port, channel_timeout, limit)
    server = psutil.Process(process.pid)
    result = Result(limit)
    sockets: list[socket.socket] = []
    connected: list[float] = []

    def sample() -> None:
        result.peak_threads = max(result.peak_threads, server.num_threads())
        result.peak_rss_mib = max(result.peak_rss_mib, server.memory_info().rss / 2**20)

    def deliver() -> None:
        body = b'{"account_id": 1, "type": "order.created", "payload": {"id": "1"}}'
        headers = {"X-Webhook-Signature": signature(SECRET, body)}
        started = time.monotonic()
        try:
            response = requests.post(
                f"http://127.0.0.1:{port}/webhooks/bigcartel",
                data=body,
                headers=headers,
                timeout=3 * channel_timeout + 60,
            )
        except requests.RequestException as error:
            result.status = type(error).__name__
            return
        result.status = str(response.status_code)
        result.latency_s = time.monotonic() - started

    try:
        for _ in range(idle):
            try:
                connected.append(time.monotonic())
                sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                connected.pop()
                break
        result.idle = len(sockets)
        sender = threading.Thread(target=deliver)
        sender.start()
        deadline = time.monotonic() + 3 * channel_timeout + 60
        with selectors.DefaultSelector() as selector:
            for index, sock in enumerate(sockets):
                selector.register(sock, selectors.EVENT_READ, index)
            open_count = len(sockets)
            while (open_count or sender.is_alive()) and time.monotonic() < deadline:
                sample()
                for key, _ in selector.select(timeout=SAMPLE_SECONDS):
                    with contextlib.suppress(OSError):  # a reset is a close too
                        key.fileobj.recv(1)  # type: ignore[union-attr]
                    result.closed_after.append(time.monotonic() - connected[key.data])
                    selector.unregister(key.fileobj)
                    open_count -= 1
        sender.join()
    finally:
        for sock in sockets:
            sock.close()
        process.terminate()
        process.wait(timeout=30)
    store = WebhookStore(db_url)
    result.stored = store.count()
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--channel-timeout", type=int, default=10)
    parser.add_argument(
        "--connection-limits", type=int, nargs="+", default=[DEFAULT_CONNECTION_LIMIT, 1000]
    )
    args = parser.parse_args()
    _raise_open_files(args.idle + SPARE_FILES)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(
        f"{args.idle} idle connections, channel timeout {args.channel_timeout} s,"
        f" {DEFAULT_THREADS} worker threads, open files (soft limit) {soft}"
    )
    header = (
        f"{'limit':>6} {'idle':>5} {'threads':>7} {'RSS MiB':>7} {'delivery':>8} {'latency s':>9}"
        f" {'stored':>6} {'closed':>6} {'closed after s (min-max)':>24}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for limit in args.connection_limits:
            r = run(args.idle, args.channel_timeout, limit, Path(tmp))
            latency = "-" if r.latency_s is None else f"{r.latency_s:.3f}"
            after = (
                f"{min(r.closed_after):.1f}-{max(r.closed_after):.1f}" if r.closed_after else "-"
            )
            print(
                f"{r.connection_limit:>6} {r.idle:>5} {r.peak_threads:>7} {r.peak_rss_mib:>7.0f}"
                f" {r.status:>8} {latency:>9} {r.stored:>6} {len(r.closed_after):>6} {after:>24}",
                flush=True,
            )


if __name__ == "__main__":
    main()
