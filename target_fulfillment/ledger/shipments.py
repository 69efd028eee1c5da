"""Each warehouse shipment and its write-back to Big Cartel, one conditional UPDATE per change.

An order may leave the warehouse in several parcels, each its own shipment, each written back
once as its own ``POST .../shipments``. The POST cannot carry an idempotency key, so a row goes
``posting`` with what the order's line items will show once it took effect (``expected``)
before it is sent; a POST whose answer was lost is then told from one that never arrived by
reading the order back. That reading means something only while no other worker posts to the
same order, so a worker claims all of an order's shipments at once (``claim_order``: ``posting``
without ``expected``, nothing sent yet) before it reads the order. A ``posting`` row is settled
by another worker only once its owner is gone (``ledger.leases``), as ``submitting`` orders are.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from bigcartel_core import timestamps
from bigcartel_core.sql.sqlite import read_only
from target_fulfillment.domain import Shipment, ShippedItem
from target_fulfillment.ledger import leases
from target_fulfillment.ledger.database import Insert, wrote
from target_fulfillment.ledger.schema import (
    SHIPMENT_STATES,
    WRITEBACK_METHODS,
    ShipmentState,
    shipments,
)


@dataclass(frozen=True)
class ShipmentEntry:
    """One recorded shipment, as read."""

    backend: str
    source_id: str
    account_id: str
    order_id: str
    state: ShipmentState
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: dt.datetime | None
    items: tuple[ShippedItem, ...]
    expected: dict[str, int] | None
    lease_owner: str | None
    writeback_method: str | None
    last_error: str | None


class ShipmentLedger:
    """The shipments of the ledger's orders; thread-safe, each method its own transaction."""

    def __init__(
        self, engine: sa.Engine, insert: Insert, lease: Callable[[], leases.WorkerLease]
    ) -> None:
        self._engine = engine
        self._insert = insert
        self._lease = lease

    def record(self, backend: str, account_id: str, order_id: str, shipment: Shipment) -> bool:
        """Keep a shipment the warehouse reported; True the first time it is seen."""
        now = timestamps.now()
        items = [
            {"line_item_key": i.line_item_key, "sku": i.sku, "quantity": i.quantity}
            for i in shipment.items
        ]
        stmt = self._insert(shipments).values(
            backend=backend,
            source_id=shipment.source_id,
            account_id=account_id,
            order_id=order_id,
            state="recorded",
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
            shipped_at=shipment.shipped_at,
            items=items,
            recorded_at=now,
            updated_at=now,
        )
        with self._engine.begin() as conn:
            return wrote(conn, stmt.on_conflict_do_nothing())

    def void(self, backend: str, source_id: str) -> ShipmentState | None:
        """Note that the shipment's label was voided; the state it was in when that changed it.

        ``recorded``: it will never be written back. ``posting`` or ``written_back``: its
        tracking may have reached the buyer, so it becomes ``void_reported``. None when the
        shipment is unknown or its void was noted before.
        """
        claimed = sa.and_(shipments.c.state == "posting", shipments.c.expected.is_(None))
        for before, condition, after in (
            ("recorded", shipments.c.state == "recorded", "voided"),
            ("recorded", claimed, "voided"),  # claimed, nothing sent
            ("posting", shipments.c.state == "posting", "void_reported"),
            ("written_back", shipments.c.state == "written_back", "void_reported"),
        ):
            if self._move(backend, source_id, condition, state=after, voided=True):
                return t.cast(ShipmentState, before)
        return None

    def to_write_back(self) -> list[ShipmentEntry]:
        """Shipments to write back: ``recorded``, and ``posting`` whose worker is gone; by order,
        then as shipped."""
        entries = self.entries(states=("recorded", "posting"))
        if all(entry.state == "recorded" for entry in entries):
            return entries
        lease = self._lease()
        return [
            entry
            for entry in entries
            if entry.state == "recorded"
            or entry.lease_owner is None
            or not lease.alive(entry.lease_owner)
        ]

    def of_order(self, account_id: str, order_id: str) -> list[ShipmentEntry]:
        return self.entries(account_id, order_id=order_id)

    def entries(
        self,
        account_id: str | None = None,
        states: Sequence[str] | None = None,
        *,
        order_id: str | None = None,
    ) -> list[ShipmentEntry]:
        """Shipments by account, order, then as shipped; of one account, order or states."""
        if states is not None and set(states) - set(SHIPMENT_STATES):
            unknown = sorted(set(states) - set(SHIPMENT_STATES))
            raise ValueError(f"unknown shipment states: {unknown}; known: {SHIPMENT_STATES}")
        conditions = []
        if account_id is not None:
            conditions.append(shipments.c.account_id == account_id)
        if order_id is not None:
            conditions.append(shipments.c.order_id == order_id)
        if states is not None:
            conditions.append(shipments.c.state.in_(states))
        query = (
            sa.select(shipments)
            .where(*conditions)
            .order_by(
                shipments.c.account_id,
                shipments.c.order_id,
                shipments.c.shipped_at,
                shipments.c.source_id,
            )
        )
        with read_only(self._engine) as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def claim_order(self, account_id: str, order_id: str) -> list[ShipmentEntry]:
        """All of the order's shipments to write back, for this worker alone; none when another
        live worker holds some of them.

        One UPDATE takes the ``recorded`` rows and the ``posting`` rows of workers that are gone,
        unless a live worker holds one; concurrent claims of the same rows wait for each other,
        and the loser finds them taken.
        """
        lease = self._lease()
        held = {
            entry.lease_owner
            for entry in self.entries(account_id, ("posting",), order_id=order_id)
            if entry.lease_owner is not None
        }
        gone = [owner for owner in held if owner != lease.owner and not lease.alive(owner)]
        of_order = sa.and_(shipments.c.account_id == account_id, shipments.c.order_id == order_id)
        others = shipments.alias("others")
        live_other = (
            sa.select(others.c.source_id)
            .where(
                others.c.account_id == account_id,
                others.c.order_id == order_id,
                others.c.state == "posting",
                others.c.lease_owner != lease.owner,
                others.c.lease_owner.not_in(gone),
            )
            .exists()
        )
        takeable = sa.or_(
            shipments.c.state == "recorded",
            sa.and_(shipments.c.state == "posting", shipments.c.lease_owner.in_(gone)),
        )
        stmt = (
            shipments.update()
            .where(of_order, takeable, ~live_other)
            .values(state="posting", lease_owner=lease.owner, updated_at=timestamps.now())
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)
        return [
            entry
            for entry in self.entries(account_id, ("posting",), order_id=order_id)
            if entry.lease_owner == lease.owner
        ]

    def release(self, entries: Sequence[ShipmentEntry]) -> None:
        """Give back the claimed shipments this worker sent nothing for: ``recorded`` again."""
        owner = self._lease().owner
        for entry in entries:
            condition = sa.and_(
                shipments.c.state == "posting",
                shipments.c.lease_owner == owner,
                shipments.c.expected.is_(None),
            )
            self._move(
                entry.backend, entry.source_id, condition, state="recorded", lease_owner=None
            )

    def begin_posting(self, entry: ShipmentEntry, expected: Mapping[str, int]) -> bool:
        """The intent to POST, durable before it is sent, of a shipment this worker claimed."""
        return self._move(entry.backend, entry.source_id, self._mine(), expected=dict(expected))

    def written_back(self, entry: ShipmentEntry, method: str) -> bool:
        """The shipment is on the Big Cartel order (``already``: nothing needed posting)."""
        if method not in WRITEBACK_METHODS:
            raise ValueError(f"write-back method must be one of {WRITEBACK_METHODS}: {method!r}")
        return self._move(
            entry.backend,
            entry.source_id,
            self._mine(),
            state="written_back",
            writeback_method=method,
            last_error=None,
            written_back_at=timestamps.now(),
        )

    def not_written(self, entry: ShipmentEntry, error: str) -> bool:
        """Big Cartel refused it, so nothing was posted: ``recorded`` again, with the reason, to
        be tried next run."""
        return self._move(
            entry.backend,
            entry.source_id,
            self._mine(),
            state="recorded",
            lease_owner=None,
            expected=None,
            last_error=error,
        )

    def _mine(self) -> sa.ColumnElement[bool]:
        """A shipment this worker claimed (``claim_order``)."""
        return sa.and_(
            shipments.c.state == "posting", shipments.c.lease_owner == self._lease().owner
        )

    def _move(
        self,
        backend: str,
        source_id: str,
        condition: sa.ColumnElement[bool],
        *,
        voided: bool = False,
        **values: t.Any,
    ) -> bool:
        now = timestamps.now()
        if voided:
            values["voided_at"] = now
        stmt = (
            shipments.update()
            .where(shipments.c.backend == backend, shipments.c.source_id == source_id, condition)
            .values(updated_at=now, **values)
        )
        with self._engine.begin() as conn:
            return wrote(conn, stmt)


def _entry(row: sa.RowMapping) -> ShipmentEntry:
    return ShipmentEntry(
        backend=row["backend"],
        source_id=row["source_id"],
        account_id=row["account_id"],
        order_id=row["order_id"],
        state=row["state"],
        carrier=row["carrier"],
        tracking_number=row["tracking_number"],
        tracking_url=row["tracking_url"],
        shipped_at=row["shipped_at"],
        items=tuple(
            ShippedItem(item.get("line_item_key"), item.get("sku"), int(item["quantity"]))
            for item in row["items"] or []
        ),
        expected={str(k): int(v) for k, v in row["expected"].items()} if row["expected"] else None,
        lease_owner=row["lease_owner"],
        writeback_method=row["writeback_method"],
        last_error=row["last_error"],
    )
