"""Command line: ``python -m shipstation_sandbox.v2 --port 8767 --api-key k``.

Prints the base URL once listening, then serves until interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from shipstation_sandbox.cli import add_serving_arguments, serve_until_signalled
from shipstation_sandbox.v2.server import DEFAULT_RATE_LIMIT, ShipStationV2Sandbox


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options, one per ``ShipStationV2Sandbox`` setting."""
    parser = argparse.ArgumentParser(
        prog="python -m shipstation_sandbox.v2",
        description="Serve a local emulator of ShipStation API V2's shipments and labels.",
    )
    parser.add_argument("--api-key", required=True, help="value clients must send in api-key")
    add_serving_arguments(parser, default_port=8767, documented_rate_limit=DEFAULT_RATE_LIMIT)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM."""
    args = build_parser().parse_args(argv)
    return serve_until_signalled(
        ShipStationV2Sandbox(
            args.api_key,
            latency_seconds=args.latency,
            rate_limit=args.rate_limit,
            rate_limit_window_seconds=args.rate_limit_window,
            timeout_hang_seconds=args.timeout_hang,
            host=args.host,
            port=args.port,
            log_requests=not args.quiet,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
