"""Command line: ``python -m shipstation_sandbox --port 8766 --api-key k --api-secret s``.

Prints the base URL once listening, then serves until interrupted (Ctrl-C or SIGTERM). Without
``--rate-limit`` there is no limit and no ``X-Rate-Limit-*`` headers.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from shipstation_sandbox.cli import add_serving_arguments, serve_until_signalled
from shipstation_sandbox.rate_limit import DEFAULT_RATE_LIMIT
from shipstation_sandbox.server import ShipStationSandbox


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options, one per ``ShipStationSandbox`` setting."""
    parser = argparse.ArgumentParser(
        prog="python -m shipstation_sandbox",
        description="Serve a local emulator of ShipStation API v1's order endpoints.",
    )
    parser.add_argument("--api-key", required=True, help="HTTP Basic user name clients must send")
    parser.add_argument("--api-secret", required=True, help="HTTP Basic password clients must send")
    add_serving_arguments(parser, default_port=8766, documented_rate_limit=DEFAULT_RATE_LIMIT)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM."""
    args = build_parser().parse_args(argv)
    return serve_until_signalled(
        ShipStationSandbox(
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
    )


if __name__ == "__main__":
    raise SystemExit(main())
