"""``bigcartel-webhooks``: serve the receiver, and look at or settle what it stored.

The client secret comes from ``--client-secret`` or ``BIGCARTEL_CLIENT_SECRET`` (prefer the
environment: command lines show up in process lists) and is never printed or logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from types import FrameType

from bigcartel_core import timestamps
from bigcartel_core.webhook_store import DEFAULT_DB_URL, STATUSES, WebhookStore
from bigcartel_webhooks import server as server_module
from bigcartel_webhooks import trigger as trigger_module
from bigcartel_webhooks.app import DEFAULT_MAX_BODY_BYTES, TOPIC_SWITCHES, create_app
from bigcartel_webhooks.trigger import Trigger

SECRET_ENV = "BIGCARTEL_CLIENT_SECRET"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bigcartel-webhooks", description=__doc__)
    parser.add_argument(
        "--db",
        default=os.environ.get("BIGCARTEL_WEBHOOKS_DB_URL", DEFAULT_DB_URL),
        help=f"webhook_db_url, a SQLAlchemy URL (default {DEFAULT_DB_URL})",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="receive webhooks (waitress)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8770)
    serve.add_argument("--client-secret", help=f"default: ${SECRET_ENV}")
    serve.add_argument(
        "--topics",
        default=",".join(TOPIC_SWITCHES.values()),
        help="switched-on topics, comma separated, of: orders, products, account "
        "(others are stored as ignored)",
    )
    serve.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    serve.add_argument(
        "--threads",
        type=_positive,
        default=server_module.DEFAULT_THREADS,
        help="worker threads: requests handled at once (default %(default)s)",
    )
    serve.add_argument(
        "--channel-timeout",
        type=_positive,
        default=server_module.DEFAULT_CHANNEL_TIMEOUT,
        help="seconds a connection may send nothing before it is closed (default %(default)s)",
    )
    serve.add_argument(
        "--connection-limit",
        type=_positive,
        default=server_module.DEFAULT_CONNECTION_LIMIT,
        help="open connections at most; more wait in the listen backlog (default %(default)s)",
    )
    serve.set_defaults(handler=_serve)

    listing = commands.add_parser("list", help="stored events, oldest first")
    listing.add_argument("--topic", help="a type (order.updated) or a family ending in '.'")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--account")
    listing.add_argument("--since", type=_timestamp, help="ISO 8601, inclusive")
    listing.add_argument("--until", type=_timestamp, help="ISO 8601, exclusive")
    listing.add_argument("--limit", type=int)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one event's payload")
    show.add_argument("id", type=int)
    show.set_defaults(handler=_show)

    failed = commands.add_parser("mark-failed", help="record that handling an event failed")
    failed.add_argument("id", type=int)
    failed.add_argument("--error", required=True)
    failed.set_defaults(handler=_mark_failed)

    processed = commands.add_parser("mark-processed", help="record that an event was handled")
    processed.add_argument("id", type=int)
    processed.set_defaults(handler=_mark_processed)

    shops = commands.add_parser(
        "disconnected", help="shops that deauthorized the app (account.deauthorized)"
    )
    shops.set_defaults(handler=_disconnected)

    reconnect = commands.add_parser(
        "reconnect",
        help="record that a shop authorized the app again (tap-bigcartel-connect does this)",
    )
    reconnect.add_argument("account_id")
    reconnect.set_defaults(handler=_reconnect)

    trigger = commands.add_parser(
        "trigger",
        help="run a command (the fulfillment pipeline) soon after order events arrive",
        description=trigger_module.__doc__,
    )
    trigger.add_argument(
        "--debounce", type=float, default=10.0, help="seconds without a new order event"
    )
    trigger.add_argument(
        "--max-wait", type=float, default=120.0, help="longest wait of the oldest pending event"
    )
    trigger.add_argument("--poll", type=float, default=2.0, help="seconds between checks")
    trigger.add_argument("--once", action="store_true", help="check once, run if due, exit")
    trigger.add_argument(
        "command", nargs=argparse.REMAINDER, help="after --: e.g. -- meltano run fulfillment"
    )
    trigger.set_defaults(handler=_trigger)
    return parser


def _positive(text: str) -> int:
    """A count or a number of seconds: 0 would stop the server serving, or waiting at all."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _timestamp(text: str) -> datetime:
    """ISO 8601; a time without a zone is taken as UTC, so filters never depend on the host."""
    return timestamps.parse(text)


def _serve(args: argparse.Namespace) -> int:
    secret = args.client_secret or os.environ.get(SECRET_ENV)
    if not secret:
        print(f"a client secret is required: --client-secret or ${SECRET_ENV}", file=sys.stderr)
        return 2
    topics = [topic.strip() for topic in args.topics.split(",") if topic.strip()]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = WebhookStore(args.db)
    app = create_app(store, secret, topics, args.max_body_bytes)
    limits = server_module.Limits(args.threads, args.channel_timeout, args.connection_limit)
    try:
        server = server_module.create_server(app, args.host, args.port, limits, args.max_body_bytes)
    except (ValueError, OSError) as error:
        store.close()
        print(f"cannot serve: {error}", file=sys.stderr)
        return 2
    urls = ", ".join(
        f"http://{f'[{host}]' if ':' in host else host}:{port}/webhooks/bigcartel"
        for host, port in server_module.addresses(server)
    )
    print(
        f"receiving Big Cartel webhooks on {urls} (topics: {', '.join(topics) or 'none'};"
        f" {limits.threads} threads, {limits.channel_timeout} s channel timeout,"
        f" {limits.connection_limit} connections)",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        # Returns on SIGINT or SIGTERM, after giving running requests a few seconds to finish.
        server.run()
    finally:
        server.close()
        store.close()
    return 0


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (systemd, docker stop) stops the server as Ctrl-C does: waitress lets running
    requests finish for up to 5 s, and the store is closed."""
    raise SystemExit(0)


def _list(args: argparse.Namespace) -> int:
    store = WebhookStore(args.db)
    try:
        events = store.list_events(
            topic=args.topic,
            status=args.status,
            account_id=args.account,
            since=args.since,
            until=args.until,
            limit=args.limit,
        )
    finally:
        store.close()
    rows = [
        (str(e.id), e.topic, e.account_id or "", e.status, e.received_at.isoformat())
        for e in events
    ]
    _print_table(("id", "topic", "account", "status", "received"), rows)
    return 0


def _print_table(header: tuple[str, ...], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def _show(args: argparse.Namespace) -> int:
    store = WebhookStore(args.db)
    try:
        event = store.get(args.id)
    finally:
        store.close()
    if event is None:
        print(f"no webhook event {args.id}", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(event.payload), indent=2, sort_keys=True))
    return 0


def _mark_failed(args: argparse.Namespace) -> int:
    return _settle(args, lambda store: store.mark_failed(args.id, args.error))


def _mark_processed(args: argparse.Namespace) -> int:
    return _settle(args, lambda store: store.mark_processed(args.id))


def _disconnected(args: argparse.Namespace) -> int:
    store = WebhookStore(args.db)
    try:
        shops = store.disconnected()
    finally:
        store.close()
    _print_table(
        ("account", "since", "reason"),
        [(s.account_id, s.changed_at.isoformat(), s.reason) for s in shops.values()],
    )
    return 0


def _reconnect(args: argparse.Namespace) -> int:
    store = WebhookStore(args.db)
    try:
        store.mark_connected(args.account_id, "bigcartel-webhooks reconnect")
    finally:
        store.close()
    return 0


def _trigger(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("a command is required: bigcartel-webhooks trigger -- COMMAND ...", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = WebhookStore(args.db)
    try:
        trigger = Trigger(store, command, debounce=args.debounce, max_wait=args.max_wait)
        if args.once:
            run = trigger.run_once()
            return 0 if run is None else run.returncode
        trigger.run_forever(args.poll)
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


def _settle(args: argparse.Namespace, change: Callable[[WebhookStore], bool]) -> int:
    store = WebhookStore(args.db)
    try:
        found = change(store)
    finally:
        store.close()
    if not found:
        print(f"no webhook event {args.id}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
