"""What the V1 and V2 sandboxes' command lines share: the serving options and the run loop."""

from __future__ import annotations

import argparse
import signal
import threading

from shipstation_sandbox.rate_limit import DEFAULT_WINDOW_SECONDS
from shipstation_sandbox.serving import ThreadedSandbox


def add_serving_arguments(
    parser: argparse.ArgumentParser, *, default_port: int, documented_rate_limit: int
) -> None:
    """Address, latency, rate limit and the lost-answer hold, as every sandbox takes them."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument(
        "--port", type=int, default=default_port, help="port to bind; 0 picks a free one"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every API answer"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        nargs="?",
        const=documented_rate_limit,
        default=None,
        metavar="N",
        help="requests allowed per window; alone, the documented "
        f"{documented_rate_limit} (default: no limit)",
    )
    parser.add_argument(
        "--rate-limit-window",
        type=float,
        default=DEFAULT_WINDOW_SECONDS,
        help="rate limit window in seconds (default: 60; shorten it for benchmarks)",
    )
    parser.add_argument(
        "--timeout-hang",
        type=float,
        default=0.0,
        help="seconds a create call picked by /_sandbox/timeout_next_create is held before its "
        "connection is dropped",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not log each request on standard error"
    )


def serve_until_signalled(sandbox: ThreadedSandbox) -> int:
    """Serve, print the base URL once listening, and stop on SIGINT or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    with sandbox:
        print(sandbox.url, flush=True)
        stop.wait()
    return 0
