"""Command line: ``python -m shipstation_sandbox --port 8766 --api-key k --api-secret s``.

Prints the base URL once listening, then serves until interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from shipstation_sandbox.rate_limit import DEFAULT_RATE_LIMIT, DEFAULT_WINDOW_SECONDS
from shipstation_sandbox.server import ShipStationSandbox


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options, one per ``ShipStationSandbox`` setting."""
    parser = argparse.ArgumentParser(
        prog="python -m shipstation_sandbox",
        description="Serve a local emulator of ShipStation API v1's order endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8766, help="port to bind; 0 picks a free one")
    parser.add_argument("--api-key", required=True, help="HTTP Basic user name clients must send")
    parser.add_argument("--api-secret", required=True, help="HTTP Basic password clients must send")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every API answer"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        nargs="?",
        const=DEFAULT_RATE_LIMIT,
        default=None,
        metavar="N",
        help="requests allowed per window; alone, ShipStation's "
        f"{DEFAULT_RATE_LIMIT} (default: no limit and no X-Rate-Limit-* headers)",
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
        help="seconds a createorder or createorders call picked by /_sandbox/timeout_next_create "
        "is held before its connection is dropped",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not log each request on standard error"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM."""
    args = build_parser().parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    sandbox = ShipStationSandbox(
        args.api_key,
        args.api_secret,
        latency_seconds=args.latency,
        rate_limit=args.rate_limit,
        rate_limit_window_seconds=args.rate_limit_window,
        timeout_hang_seconds=args.timeout_hang,
        host=args.host,
        port=args.port,
        log_requests=not args.quiet,
    )
    with sandbox:
        print(sandbox.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
