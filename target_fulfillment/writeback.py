"""Shipments from the warehouse to Big Cartel: each recorded once, each written back once.

``collect`` records every shipment the backend reports under its own id, so an order that left
in two parcels has two; a voided label is noted, and is then never written back, or reported
when its tracking may already have reached the buyer. ``write_back`` reads each order with
shipments to write once, then posts each shipment as its own ``POST .../shipments`` with its
items (``shipments.allocate``: never more than is unshipped), carrier and tracking; the order is
finished (``written_back``) once Big Cartel has no unit of it left to ship. Shops are written
back ``concurrency`` at once, each shop's orders one request at a time: Big Cartel documents no
rate limit and asks clients to be gentle, so no shop sees more than one request at a time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import typing as t
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from bigcartel_core import timestamps
from target_fulfillment.backends.base import Backend
from target_fulfillment.bigcartel import (
    BigCartelWriter,
    OrderShipping,
    ShipmentUpdate,
    ShippedLine,
    ShopDisconnectedError,
    WriteBackError,
    WriteBackInDoubt,
)
from target_fulfillment.domain import Shipment
from target_fulfillment.ledger import describe_error
from target_fulfillment.ledger.shipments import ShipmentEntry
from target_fulfillment.shipments import UnplacedItemError, allocate
from target_fulfillment.validation import storable_text

if t.TYPE_CHECKING:
    from target_fulfillment.ledger import Ledger, OrderEntry
    from target_fulfillment.order_cache import OrderCache
    from target_fulfillment.summary import RunSummary

#: The states of an order whose shipments are recorded; any other is reported instead.
RECEIVING = frozenset({"submitting", "submitted", "shipped", "written_back"})

logger = logging.getLogger(__name__)


def storable(shipment: Shipment) -> Shipment:
    """The warehouse's text as any database stores it (``validation.storable_text``): a NUL
    byte in a tracking number must not keep the shipment out of the ledger."""
    items = tuple(
        dataclasses.replace(
            item, line_item_key=storable_text(item.line_item_key), sku=storable_text(item.sku)
        )
        for item in shipment.items
    )
    return dataclasses.replace(
        shipment,
        carrier=storable_text(shipment.carrier),
        tracking_number=storable_text(shipment.tracking_number),
        tracking_url=storable_text(shipment.tracking_url),
        items=items,
        source_id=storable_text(shipment.source_id) or "",
    )


class ShipmentWork:
    """Collecting shipments and writing them back, for one run."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        cache: OrderCache,
        backend: Backend,
        writer: BigCartelWriter | None,
        summary: RunSummary,
        dry_run: bool,
        notify_customer: bool,
        disconnected: Mapping[str, str],
        concurrency: int = 1,
    ) -> None:
        """``disconnected``: shops not to write back to, with the reason; ``concurrency``: how
        many shops are written back at once."""
        self.ledger = ledger
        self.cache = cache
        self.backend = backend
        self.writer = writer
        self.summary = summary
        self.dry_run = dry_run
        self.notify_customer = notify_customer
        self.disconnected = dict(disconnected)
        self.concurrency = concurrency

    def collect(self) -> None:
        """Record every shipment and void the warehouse reports, then let it forget them.

        One shipment that cannot be recorded is reported and left with the warehouse, and the
        others go on; the poll's watermark then stays where it was, so the next run lists it
        again instead of passing it by.
        """
        watermark_key = f"shipments_since:{self.backend.name}"
        stored = self.ledger.get_value(watermark_key)
        since = timestamps.parse(stored) if stored else None
        started = timestamps.now()
        complete = True
        for shipment in self.backend.shipments(since):
            try:
                self._collect(storable(shipment))
            except Exception as error:
                complete = False
                kind = type(error).__name__
                logger.error("%s: unexpected %s recording a shipment", shipment.key, kind)
                note = f"shipment not recorded, kept at the warehouse: {describe_error(error)}"
                self.summary.count("failed", shipment.key, note)
        if not self.dry_run and complete:
            # Overlap the next poll by an hour: clocks differ, and a shipment seen twice is a no-op.
            self.ledger.set_value(watermark_key, (started - dt.timedelta(hours=1)).isoformat())

    def _collect(self, shipment: Shipment) -> None:
        entry = self.ledger.find_by_key(shipment.key)
        if entry is None:
            self.summary.count("reported", shipment.key, "shipment for an unknown order key")
        elif shipment.voided:
            self._void(entry, shipment.source_id)
        elif entry.state not in RECEIVING:
            note = f"shipment {shipment.source_id} for an order {entry.state} here; not kept"
            self.summary.count("reported", shipment.key, note)
        elif self.dry_run:
            self.summary.count("shipped")
        elif self.ledger.shipments.record(
            self.backend.name, entry.account_id, entry.order_id, shipment
        ):
            self.ledger.mark_shipped(entry.account_id, entry.order_id)
            self.summary.count("shipped")
        if not self.dry_run:
            self.backend.acknowledge(shipment)

    def _void(self, entry: OrderEntry, source_id: str) -> None:
        if self.dry_run:
            return
        before = self.ledger.shipments.void(self.backend.name, source_id)
        if before in ("posting", "written_back"):
            note = (
                f"the label of shipment {source_id} was voided after its tracking was written"
                " back to Big Cartel; the buyer may have been told of a parcel that is not coming"
            )
            self.summary.count("reported", entry.order_key, note)
        elif before == "recorded":
            self.summary.count("voided")
            shipments = self.ledger.shipments.of_order(entry.account_id, entry.order_id)
            if all(shipment.state == "voided" for shipment in shipments):
                self.ledger.mark_reopened(entry.account_id, entry.order_id)

    def write_back(self) -> None:
        """Post each recorded shipment to Big Cartel, once, an order at a time in each shop.

        A shop that deauthorized the app, or refused the token earlier in this run, is skipped:
        its shipments stay recorded and are written back once it reconnects.
        """
        pending = self.ledger.shipments.to_write_back()
        shops = [
            list(entries)
            for _, entries in itertools.groupby(pending, key=lambda entry: entry.account_id)
        ]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for done in [pool.submit(self._write_shop, entries) for entries in shops]:
                done.result()

    def _write_shop(self, entries: list[ShipmentEntry]) -> None:
        """One shop's orders in turn; only this thread touches the shop's ``disconnected``."""
        for (account_id, order_id), group in itertools.groupby(
            entries, key=lambda entry: (entry.account_id, entry.order_id)
        ):
            order = self.ledger.get(account_id, order_id)
            key = order.order_key if order else f"account {account_id}, order {order_id}"
            if account_id in self.disconnected:
                note = f"not written back yet: {self.disconnected[account_id]}"
                self.summary.count("reported", key, note)
            elif self.writer is None:
                self.summary.count("reported", key, "no Big Cartel credentials for write-back")
            elif self.dry_run:
                for _ in group:
                    self.summary.count("written_back")
            else:
                claimed = self.ledger.shipments.claim_order(account_id, order_id)
                try:
                    self._write_order(self.writer, key, order, claimed)
                except Exception as error:
                    # Kept at its order, which is tried again next run; the others go on. Only
                    # the type and the database's first line: the message may quote a record.
                    logger.error("%s: unexpected %s in write-back", key, type(error).__name__)
                    note = f"unexpected error in write-back: {describe_error(error)}"
                    self.summary.count("failed", key, note)
                finally:
                    self.ledger.shipments.release(claimed)

    def _write_order(
        self,
        writer: BigCartelWriter,
        key: str,
        order: OrderEntry | None,
        entries: list[ShipmentEntry],
    ) -> None:
        """The order's claimed shipments (none: another worker has them), after one read of the
        order; while they are claimed no other worker posts to it, so the read stays true."""
        if not entries:
            return
        account_id, order_id = entries[0].account_id, entries[0].order_id
        try:
            state = writer.read_order(account_id, order_id)
        except WriteBackError as error:
            self._failed(account_id, key, error)
            return
        skus = (order.lines if order else None) or {}
        methods = []
        for entry in entries:
            try:
                state, method = self._write_shipment(writer, entry, state, skus)
            except UnplacedItemError as error:
                self.ledger.shipments.not_written(entry, str(error))
                self.summary.count("failed", key, f"shipment {entry.source_id}: {error}")
                continue
            except WriteBackInDoubt as error:
                # Left ``posting``: the next run reads the order back and settles it.
                self.summary.count("failed", key, f"shipment {entry.source_id}: {error}")
                return
            except WriteBackError as error:
                self.ledger.shipments.not_written(entry, str(error))
                self._failed(account_id, key, error, f"shipment {entry.source_id}: ")
                if isinstance(error, ShopDisconnectedError):
                    return
                continue
            if method is not None:
                methods.append(method)
                self.summary.count("written_back")
        if state.finished and order is not None:
            method = next((m for m in ("patch", "shipment") if m in methods), "already")
            if self.ledger.mark_written_back(account_id, order_id, method):
                self.cache.delete(account_id, order_id)

    def _write_shipment(
        self,
        writer: BigCartelWriter,
        entry: ShipmentEntry,
        state: OrderShipping,
        skus: Mapping[str, str | None],
    ) -> tuple[OrderShipping, str | None]:
        """Post one claimed shipment; the order's state after it, and how it got there (None:
        its label was voided meanwhile, so it was not sent)."""
        if entry.expected is not None and state.shows(entry.expected):
            # A worker that is gone posted it; only the answer was lost.
            self.ledger.shipments.written_back(entry, "shipment")
            return state, "shipment"
        counts = allocate(entry.items, {line: s.unshipped for line, s in state.lines.items()}, skus)
        if not counts:
            self.ledger.shipments.written_back(entry, "already")
            return state, "already"
        lines = [ShippedLine(line, count) for line, count in counts.items()]
        expected = {line: state.lines[line].shipped + count for line, count in counts.items()}
        if not self.ledger.shipments.begin_posting(entry, expected):
            return state, None
        update = ShipmentUpdate(
            carrier=entry.carrier,
            tracking_number=entry.tracking_number,
            tracking_url=entry.tracking_url,
            lines=lines,
            notify_customer=self.notify_customer,
        )
        method = writer.post_shipment(entry.account_id, entry.order_id, update, expected)
        self.ledger.shipments.written_back(entry, method)
        after = state.after(lines)
        if method == "patch":
            after = OrderShipping(True, after.lines)
        return after, method

    def _failed(self, account_id: str, key: str, error: WriteBackError, prefix: str = "") -> None:
        if isinstance(error, ShopDisconnectedError):
            self.summary.count("failed", key, f"{prefix}shop refused the token: {error}")
            self.disconnected[account_id] = "the shop refused the token earlier in this run"
        else:
            self.summary.count("failed", key, f"{prefix}{error}")
