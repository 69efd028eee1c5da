"""``python -m bigcartel_sandbox``: serve a sandbox until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from bigcartel_sandbox.config import SHAPES, SandboxConfig
from bigcartel_sandbox.server import Sandbox


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bigcartel-sandbox", description="A local Big Cartel API v1 emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--shops", type=int, default=2)
    parser.add_argument("--orders", type=int, default=200, help="orders per shop")
    parser.add_argument("--products", type=int, default=50, help="products per shop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--webhook-url", help="POST signed webhooks here on every change")
    parser.add_argument(
        "--shapes",
        choices=SHAPES,
        default="live",
        help="answer as the live API does (default) or as the API reference describes",
    )
    args = parser.parse_args(argv)

    config = SandboxConfig(
        shops=args.shops,
        orders_per_shop=args.orders,
        products_per_shop=args.products,
        seed=args.seed,
        webhook_url=args.webhook_url,
        shapes=args.shapes,
        host=args.host,
        port=args.port,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Sandbox(config) as sandbox:
        print(sandbox.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
