"""Command line: ``python -m shipstation_sandbox.v2 --port 8767 --api-key k``.

Prints the base URL once listening, then serves until interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from shipstation_sandbox.v2.server import DEFAULT_RATE_LIMIT, ShipStationV2Sandbox


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options, one per ``ShipStationV2Sandbox`` setting."""
    parser = argparse.ArgumentParser(
        prog="python -m shipstation_sandbox.v2",
        description="Serve a local emulator of ShipStation API V2's shipments and labels.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8767, help="port to bind; 0 picks a free one")
    parser.add_argument("--api-key", required=True, help="value clients must send in api-key")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every API answer"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        nargs="?",
        const=DEFAULT_RATE_LIMIT,
        default=None,
        help=f"requests allowed per window; alone, {DEFAULT_RATE_LIMIT} (default: no limit)",
    )
    parser.add_argument(
        "--rate-limit-window", type=float, default=60.0, help="rate limit window in seconds"
    )
    parser.add_argument(
        "--timeout-hang",
        type=float,
        default=0.0,
        help="seconds a create picked by /_sandbox/timeout_next_create is held before its "
        "connection is dropped",
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
    sandbox = ShipStationV2Sandbox(
        args.api_key,
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
