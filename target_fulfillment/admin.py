"""``target-fulfillment-admin``: read the ledger, the holds, the shipments and the SKU preflight.

Reads the same config file as the target (for ``ledger_url`` and ``sku_overrides``), or, without
one, the same environment variables (``TARGET_FULFILLMENT_LEDGER_URL``,
``TARGET_FULFILLMENT_SKU_OVERRIDES``), which is how Meltano hands the target's config to its
plugin commands (``meltano invoke target-fulfillment:holds``). Changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import typing as t
from collections.abc import Sequence
from pathlib import Path

from target_fulfillment.ledger import Ledger
from target_fulfillment.sku import derive_sku

DEFAULT_LEDGER = "sqlite:///fulfillment/ledger.db"


#: The environment variables Meltano sets for the target's settings, read without --config.
ENV_SETTINGS = {
    "ledger_url": "TARGET_FULFILLMENT_LEDGER_URL",
    "sku_overrides": "TARGET_FULFILLMENT_SKU_OVERRIDES",
}


def _config(path: Path | None) -> dict[str, t.Any]:
    if path is None:
        return _env_config()
    try:
        config: dict[str, t.Any] = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read --config {path}: {error}") from None
    return config


def _env_config() -> dict[str, t.Any]:
    config: dict[str, t.Any] = {}
    if os.environ.get(ENV_SETTINGS["ledger_url"]):
        config["ledger_url"] = os.environ[ENV_SETTINGS["ledger_url"]]
    overrides = os.environ.get(ENV_SETTINGS["sku_overrides"])
    if overrides:
        try:
            config["sku_overrides"] = json.loads(overrides)
        except ValueError as error:
            name = ENV_SETTINGS["sku_overrides"]
            raise SystemExit(f"cannot read {name}: not JSON ({error})") from None
    return config


def _table(rows: Sequence[Sequence[str]], headers: tuple[str, ...]) -> str:
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)).rstrip()
        for row in (headers, *rows)
    ]
    return "\n".join(lines)


def list_ledger(ledger: Ledger, args: argparse.Namespace) -> str:
    states = [args.state] if args.state else None
    rows = [
        (
            e.account_id,
            e.order_id,
            e.state,
            e.backend_order_id or "",
            (e.hold_reason or e.last_error or e.pending_change or "")[:100],
            e.updated_at.isoformat(timespec="seconds") if e.updated_at else "",
        )
        for e in ledger.entries(account_id=args.account, states=states)
    ]
    counts = ", ".join(f"{state} {n}" for state, n in sorted(ledger.counts().items()))
    table = _table(rows, ("account", "order", "state", "backend id", "note", "updated"))
    return f"{table}\n\n{counts or 'the ledger is empty'}"


def list_shipments(ledger: Ledger, args: argparse.Namespace) -> str:
    """Every shipment the warehouse reported, and how far its write-back got."""
    entries = ledger.shipments.entries(
        account_id=args.account, states=[args.state] if args.state else None
    )
    rows = [
        (
            e.account_id,
            e.order_id,
            e.source_id,
            e.state,
            e.tracking_number or "",
            str(sum(item.quantity for item in e.items)) if e.items else "all",
            (e.last_error or e.writeback_method or "")[:100],
        )
        for e in entries
    ]
    if not rows:
        return "No shipment is recorded."
    headers = ("account", "order", "shipment", "state", "tracking", "units", "note")
    return f"{_table(rows, headers)}\n\n{len(rows)} shipments"


def list_holds(ledger: Ledger, args: argparse.Namespace) -> str:
    """Orders on hold, then records rejected before they could become orders or products."""
    rows = [
        (e.account_id, e.order_id, e.hold_reason or "")
        for e in ledger.entries(account_id=args.account, states=["held"])
    ]
    rejected = [
        (r.stream, r.account_id, r.record_id, r.reason)
        for r in ledger.rejected()
        if args.account is None or r.account_id == args.account
    ]
    parts = [_table(rows, ("account", "order", "reason")) if rows else "No order is on hold."]
    if rejected:
        parts.append(
            f"Records rejected ({len(rejected)}), kept whole in fulfillment_rejected_records:\n"
            + _table(rejected, ("stream", "account", "record", "reason"))
        )
    return "\n\n".join(parts)


def sku_preflight(ledger: Ledger, args: argparse.Namespace, config: dict[str, t.Any]) -> str:
    """Every product and option with the SKU the target would send, and those without one."""
    overrides = config.get("sku_overrides") or {}
    rows, missing = [], 0
    for product in ledger.products(args.account):
        options = dict(product.options) or {"": ""}
        for option_id, option_name in sorted(options.items()):
            result = derive_sku(
                product_id=product.product_id,
                option_id=option_id or None,
                description=product.description,
                option_name=option_name or None,
                option_count=len(product.options),
                overrides=overrides,
            )
            missing += result.sku is None
            rows.append(
                (
                    product.account_id,
                    product.product_id,
                    product.name or "",
                    option_name,
                    result.sku or f"MISSING: {result.reason}",
                )
            )
    if not rows:
        return "The catalog is empty: run the pipeline once so products reach the ledger."
    table = _table(rows, ("account", "product", "name", "option", "sku"))
    return f"{table}\n\n{len(rows)} product options, {missing} without a SKU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="target-fulfillment-admin", description=__doc__)
    parser.add_argument("--config", type=Path, help="the target's config file (JSON)")
    parser.add_argument("--ledger-url", help="overrides ledger_url from the config")
    commands = parser.add_subparsers(dest="command", required=True)
    ledger_cmd = commands.add_parser("ledger", help="list the ledger")
    ledger_cmd.add_argument("--state")
    ledger_cmd.add_argument("--account")
    holds_cmd = commands.add_parser("holds", help="list the orders on hold and why")
    holds_cmd.add_argument("--account")
    shipments_cmd = commands.add_parser(
        "shipments", help="list each warehouse shipment and its write-back"
    )
    shipments_cmd.add_argument("--state", help="recorded, posting, written_back, voided, ...")
    shipments_cmd.add_argument("--account")
    skus_cmd = commands.add_parser("skus", help="SKU preflight of the whole catalog")
    skus_cmd.add_argument("--account")
    args = parser.parse_args(argv)

    config = _config(args.config)
    ledger = Ledger(args.ledger_url or config.get("ledger_url") or DEFAULT_LEDGER)
    if args.command == "ledger":
        output = list_ledger(ledger, args)
    elif args.command == "holds":
        output = list_holds(ledger, args)
    elif args.command == "shipments":
        output = list_shipments(ledger, args)
    else:
        output = sku_preflight(ledger, args, config)
    sys.stdout.write(output + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
