"""The ``Ledger``: one conditional UPDATE per state change, and the catalog beside it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import typing as t
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from bigcartel_core import timestamps
from bigcartel_core.sql.sqlite import read_only
from target_fulfillment import domain
from target_fulfillment.ledger import leases
from target_fulfillment.ledger.database import InsertStatement, open_database, wrote
from target_fulfillment.ledger.schema import (
    STATES,
    WRITEBACK_METHODS,
    State,
    kv,
    orders,
    product_options,
    products,
    rejected_records,
    shops,
)
from target_fulfillment.ledger.shipments import ShipmentLedger


@dataclass(frozen=True)
class ProductInfo:
    """A catalog product and its options (option_id to name)."""

    account_id: str
    product_id: str
    name: str | None
    description: str | None
    options: dict[str, str]


@dataclass(frozen=True)
class OrderEntry:
    """One ledger row, as read."""

    account_id: str
    order_id: str
    order_key: str
    state: State
    backend: str | None
    backend_order_id: str | None
    payload_hash: str | None
    pending_change: str | None
    hold_reason: str | None
    last_error: str | None
    attempts: int
    lines: dict[str, str | None] | None
    writeback_method: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    shipped_at: dt.datetime | None
    written_back_at: dt.datetime | None
    lease_owner: str | None


@dataclass(frozen=True)
class Claim:
    """One order of a batch about to be sent, as ``claim_many`` records the intent."""

    account_id: str
    order_id: str
    order_key: str
    payload_hash: str
    #: The order's lines as sent: (line item id, SKU) pairs; see ``fulfillment_orders.lines``.
    lines: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class RejectedRecord:
    """A record the ledger cannot key, kept with the reason; ids are printable and truncated."""

    stream: str
    account_id: str
    record_id: str
    reason: str
    received_at: dt.datetime


class Ledger:
    """The ledger and catalog in one database; thread-safe, each method its own transaction.

    One ``Ledger`` is one worker: its claims carry its lease (``ledger.leases``), and it settles
    only the ``submitting`` rows of workers that are gone.
    """

    def __init__(self, url: str | sa.URL) -> None:
        """Open the ledger at a SQLAlchemy URL, creating its tables if missing."""
        self.engine, self._insert = open_database(url)
        self._lease: leases.WorkerLease | None = None
        self._lease_lock = threading.Lock()
        self.shipments = ShipmentLedger(self.engine, self._insert, lambda: self.lease)

    @property
    def lease(self) -> leases.WorkerLease:
        """Taken before this worker's first claim (once, whichever thread claims first), held
        until ``close``."""
        with self._lease_lock:
            if self._lease is None:
                self._lease = leases.acquire(self.engine)
            return self._lease

    def close(self) -> None:
        """Release the lease and close the pooled connections (PostgreSQL counts them)."""
        with self._lease_lock:
            if self._lease is not None:
                self._lease.release()
                self._lease = None
        self.engine.dispose()

    def _read(self) -> sa.Connection:
        return read_only(self.engine)

    # Catalog

    def upsert_shop(self, account_id: str, country: str | None, store_name: str | None) -> None:
        """The shop's country decides which orders are domestic."""
        values = {"country": country, "store_name": store_name, "updated_at": timestamps.now()}
        stmt = self._insert(shops).values(account_id=account_id, **values)
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["account_id"], set_=values))

    def shop_country(self, account_id: str) -> str | None:
        with self._read() as conn:
            return conn.scalar(sa.select(shops.c.country).where(shops.c.account_id == account_id))

    def upsert_product(
        self,
        account_id: str,
        product_id: str,
        name: str | None,
        description: str | None,
        options: Iterable[tuple[str, str]],
        updated_at: str | dt.datetime | None,
    ) -> bool:
        """Store a product and replace its options, unless the stored version is newer.

        Returns whether it was stored: input out of order must not roll the catalog back. The
        comparison is inside the upsert, so concurrent writers of one product cannot interleave.
        A product without ``updated_at`` is always stored, keeping the stored timestamp.
        Raises ValueError for an ``updated_at`` string that is not ISO 8601.
        """
        stamp = timestamps.parse(updated_at) if isinstance(updated_at, str) else updated_at
        key = {"account_id": account_id, "product_id": product_id}
        insert = self._insert(products).values(
            **key, name=name, description=description, updated_at=stamp
        )
        new, old = insert.excluded.updated_at, products.c.updated_at
        upsert = insert.on_conflict_do_update(
            index_elements=list(key),
            set_={
                "name": name,
                "description": description,
                "updated_at": sa.func.coalesce(new, old),
            },
            where=sa.or_(new.is_(None), old.is_(None), new >= old),
        )
        option_rows = [
            {**key, "option_id": option_id, "name": option_name}
            for option_id, option_name in dict(options).items()
        ]
        with self.engine.begin() as conn:
            if not wrote(conn, upsert):
                return False
            conn.execute(product_options.delete().filter_by(**key))
            if option_rows:
                conn.execute(product_options.insert(), option_rows)
        return True

    def product(self, account_id: str, product_id: str) -> ProductInfo | None:
        return next(self._products(account_id, product_id), None)

    def products(self, account_id: str | None = None) -> Iterator[ProductInfo]:
        """Every product of one shop or of all, in id order, for the SKU preflight."""
        return self._products(account_id, None)

    def _products(self, account_id: str | None, product_id: str | None) -> Iterator[ProductInfo]:
        columns = (products.c.account_id, products.c.product_id)
        product_query = sa.select(products).order_by(*columns)
        option_query = sa.select(product_options).order_by(*product_options.primary_key)
        for column, value in zip(columns, (account_id, product_id), strict=True):
            if value is not None:
                product_query = product_query.where(column == value)
                option_query = option_query.where(product_options.c[column.name] == value)
        with self._read() as conn:
            product_rows = conn.execute(product_query).all()
            options: dict[tuple[str, str], dict[str, str]] = {}
            for row in conn.execute(option_query):
                options.setdefault((row.account_id, row.product_id), {})[row.option_id] = row.name
        return iter(
            [
                ProductInfo(
                    row.account_id,
                    row.product_id,
                    row.name,
                    row.description,
                    options.get((row.account_id, row.product_id), {}),
                )
                for row in product_rows
            ]
        )

    # The order ledger

    def get(self, account_id: str, order_id: str) -> OrderEntry | None:
        rows = self._entries(orders.c.account_id == account_id, orders.c.order_id == order_id)
        return rows[0] if rows else None

    def find_by_key(self, order_key: str) -> OrderEntry | None:
        rows = self._entries(orders.c.order_key == order_key)
        return rows[0] if rows else None

    def by_state(self, state: State, account_id: str | None = None) -> list[OrderEntry]:
        return self.entries(account_id, [state])

    def entries(
        self, account_id: str | None = None, states: Iterable[State] | None = None
    ) -> list[OrderEntry]:
        """Rows of one shop or all, in some states or all, ordered by account and order id."""
        conditions = []
        if account_id is not None:
            conditions.append(orders.c.account_id == account_id)
        if states is not None:
            conditions.append(orders.c.state.in_(_checked_states(states)))
        return self._entries(*conditions)

    def _entries(self, *conditions: sa.ColumnElement[bool]) -> list[OrderEntry]:
        query = sa.select(orders).where(*conditions).order_by(*orders.primary_key)
        with self._read() as conn:
            return [OrderEntry(**row._mapping) for row in conn.execute(query)]

    def counts(self) -> dict[State, int]:
        """Rows per state; states without rows are left out."""
        query = sa.select(orders.c.state, sa.func.count()).group_by(orders.c.state)
        with self._read() as conn:
            return dict(conn.execute(query).all())

    def in_doubt(self, backend: str) -> list[OrderEntry]:
        """Rows left in ``submitting`` by workers that are gone: the warehouse may have them.

        The rows of live workers, this one included, are theirs to finish and are left out.
        """
        entries = self._entries(orders.c.state == "submitting", orders.c.backend == backend)
        alive: dict[str, bool] = {}
        for entry in entries:
            owner = entry.lease_owner
            if owner is not None and owner not in alive:
                alive[owner] = self.lease.alive(owner)
        return [e for e in entries if e.lease_owner is None or not alive[e.lease_owner]]

    def hold(self, account_id: str, order_id: str, reason: str) -> bool:
        """Record why an order is not sent yet; True if held (new, held or failed before).

        Never touches an order being sent, sent or finished: its row is left as it is.
        """
        return self._set_aside(account_id, order_id, state="held", hold_reason=reason)

    def _set_aside(self, account_id: str, order_id: str, **values: t.Any) -> bool:
        """Insert the row, or move a ``held`` or ``failed`` one, with ``values``."""
        now = timestamps.now()
        insert = self._insert(orders).values(
            account_id=account_id,
            order_id=order_id,
            order_key=domain.order_key(account_id, order_id),
            attempts=0,
            created_at=now,
            updated_at=now,
            **values,
        )
        with self.engine.begin() as conn:
            if wrote(conn, _unless_exists(insert)):
                return True
            held_or_failed = orders.c.state.in_(("held", "failed"))
            return self._move(conn, account_id, order_id, held_or_failed, now, **values)

    def claim(
        self, account_id: str, order_id: str, order_key: str, payload_hash: str, backend: str
    ) -> bool:
        """``claim_many`` of one order: True if this caller won."""
        return bool(
            self.claim_many([Claim(account_id, order_id, order_key, payload_hash)], backend)
        )

    def claim_many(self, claims: Sequence[Claim], backend: str) -> set[str]:
        """Record the intent to send a batch, before the warehouse is called; the keys won.

        One transaction for the whole batch (one commit, not one per order). A ``submitted``
        order is claimed again only when its payload changed (an update of the open warehouse
        order). Whoever loses a key must not send it. Rows are claimed in key order, so two
        workers claiming overlapping batches wait for each other instead of deadlocking.
        """
        owner = self.lease.owner  # taken before the transaction: it may need a connection
        now = timestamps.now()
        won = set()
        with self.engine.begin() as conn:
            for claim in sorted(claims, key=lambda c: (c.account_id, c.order_id)):
                if self._claim(conn, claim, backend, owner, now):
                    won.add(claim.order_key)
        return won

    def _claim(
        self, conn: sa.Connection, claim: Claim, backend: str, owner: str, now: dt.datetime
    ) -> bool:
        values = {
            "state": "submitting",
            "payload_hash": claim.payload_hash,
            "backend": backend,
            "lease_owner": owner,
            "lines": dict(claim.lines),
        }
        insert = self._insert(orders).values(
            account_id=claim.account_id,
            order_id=claim.order_id,
            order_key=claim.order_key,
            attempts=1,
            created_at=now,
            updated_at=now,
            **values,
        )
        if wrote(conn, _unless_exists(insert)):
            return True
        claimable = sa.or_(
            orders.c.state.in_(("held", "failed")),
            sa.and_(
                orders.c.state == "submitted",
                orders.c.payload_hash.is_distinct_from(claim.payload_hash),
            ),
        )
        return self._move(
            conn,
            claim.account_id,
            claim.order_id,
            claimable,
            now,
            attempts=orders.c.attempts + 1,
            hold_reason=None,
            **values,
        )

    def confirm_submitted(
        self, account_id: str, order_id: str, backend_order_id: str, payload_hash: str
    ) -> bool:
        """The warehouse has the order, as sent with ``payload_hash``."""
        claim = Claim(account_id, order_id, domain.order_key(account_id, order_id), payload_hash)
        return bool(self.confirm_many({claim: backend_order_id}))

    def confirm_many(self, sent: Mapping[Claim, str]) -> set[str]:
        """The warehouse has these orders (each claim with its backend order id), as claimed;
        one transaction for a batch. The keys recorded: a row no longer ``submitting`` is not."""
        now = timestamps.now()
        confirmed = set()
        with self.engine.begin() as conn:
            for claim, backend_order_id in sorted(
                sent.items(), key=lambda item: (item[0].account_id, item[0].order_id)
            ):
                if self._move(
                    conn,
                    claim.account_id,
                    claim.order_id,
                    orders.c.state == "submitting",
                    now,
                    state="submitted",
                    backend_order_id=backend_order_id,
                    payload_hash=claim.payload_hash,
                    submitted_at=now,
                ):
                    confirmed.add(claim.order_key)
        return confirmed

    def fail(self, account_id: str, order_id: str, error: str) -> bool:
        """A send that did not reach the warehouse, or a hold that became an error.

        This is also how a claim is released: a ``failed`` row can be claimed again.
        """
        return self._transition(
            account_id, order_id, ("submitting", "held"), state="failed", last_error=error
        )

    def record_error(self, account_id: str, order_id: str, error: str) -> bool:
        """An order the target could not even decide on: ``failed`` with the error, retried
        every run. Never touches an order being sent, sent or finished."""
        return self._set_aside(
            account_id, order_id, state="failed", last_error=error, hold_reason=None
        )

    def record_pending_change(self, account_id: str, order_id: str, description: str) -> bool:
        """Note a change the warehouse would not take, for a person to apply by hand."""
        return self._transition(account_id, order_id, STATES, pending_change=description)

    def clear_pending_change(self, account_id: str, order_id: str) -> bool:
        return self._transition(account_id, order_id, STATES, pending_change=None)

    def mark_shipped(self, account_id: str, order_id: str) -> bool:
        """The warehouse shipped some or all of the order (its shipments are in ``shipments``);
        from ``submitting`` too, as reconciliation may find."""
        return self._transition(
            account_id, order_id, ("submitted", "submitting"), "shipped_at", state="shipped"
        )

    def mark_reopened(self, account_id: str, order_id: str) -> bool:
        """Every shipment of the order was voided before write-back: it is open at the warehouse
        again, so it takes updates and cancels as a ``submitted`` order does."""
        return self._transition(
            account_id, order_id, ("shipped",), state="submitted", shipped_at=None
        )

    def mark_written_back(self, account_id: str, order_id: str, method: str) -> bool:
        """Every unit is shipped at Big Cartel: the order is finished (``method``: how the last
        of it got there, one of ``WRITEBACK_METHODS``)."""
        if method not in WRITEBACK_METHODS:
            raise ValueError(f"write-back method must be one of {WRITEBACK_METHODS}: {method!r}")
        return self._transition(
            account_id,
            order_id,
            ("shipped",),
            "written_back_at",
            state="written_back",
            writeback_method=method,
        )

    def mark_cancelled(self, account_id: str, order_id: str, reason: str) -> bool:
        """Never to be sent or shipped; the reason is kept in ``last_error``.

        From ``submitting`` too, when reconciliation finds the order cancelled at the warehouse.
        """
        return self._transition(
            account_id,
            order_id,
            ("submitted", "submitting", "held", "failed"),
            state="cancelled",
            last_error=reason,
        )

    def _transition(
        self,
        account_id: str,
        order_id: str,
        from_states: Iterable[State],
        stamp: str | None = None,
        **values: t.Any,
    ) -> bool:
        now = timestamps.now()
        if stamp:
            values[stamp] = now
        with self.engine.begin() as conn:
            return self._move(
                conn, account_id, order_id, orders.c.state.in_(from_states), now, **values
            )

    @staticmethod
    def _move(
        conn: sa.Connection,
        account_id: str,
        order_id: str,
        condition: sa.ColumnElement[bool],
        now: dt.datetime,
        **values: t.Any,
    ) -> bool:
        """The conditional UPDATE every transition is; True if the row was in a state it allows."""
        stmt = (
            orders.update()
            .where(orders.c.account_id == account_id, orders.c.order_id == order_id, condition)
            .values(updated_at=now, **values)
        )
        return wrote(conn, stmt)

    # Rejected records

    def reject(
        self, stream: str, account_id: str, record_id: str, reason: str, document: t.Any
    ) -> bool:
        """Keep a record that cannot be keyed; True the first time this exact record is seen.

        The document is stored as ASCII JSON, so NUL bytes and lone surrogates are escaped text.
        """
        text = json.dumps(document, ensure_ascii=True, sort_keys=True, default=str)
        digest = hashlib.sha256(f"{stream}\n{text}".encode("ascii")).hexdigest()
        stmt = self._insert(rejected_records).values(
            digest=digest,
            stream=stream,
            account_id=account_id[:80],
            record_id=record_id[:80],
            reason=reason,
            document=text,
            received_at=timestamps.now(),
        )
        with self.engine.begin() as conn:
            return wrote(conn, stmt.on_conflict_do_nothing())

    def rejected(self) -> list[RejectedRecord]:
        """Every rejected record, oldest first."""
        columns = [rejected_records.c[name] for name in RejectedRecord.__dataclass_fields__]
        query = sa.select(*columns).order_by(rejected_records.c.received_at)
        with self._read() as conn:
            return [RejectedRecord(**row._mapping) for row in conn.execute(query)]

    # Key-value

    def get_value(self, key: str) -> str | None:
        with self._read() as conn:
            return conn.scalar(sa.select(kv.c.value).where(kv.c.key == key))

    def set_value(self, key: str, value: str) -> None:
        stmt = self._insert(kv).values(key=key, value=value)
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def _unless_exists(insert: InsertStatement) -> InsertStatement:
    """Insert unless the row exists; a concurrent insert of the same row waits, then skips.

    No conflict target: with one, PostgreSQL would skip only a conflict on the primary key, and a
    concurrent insert could still fail on the unique ``order_key``.
    """
    return insert.on_conflict_do_nothing()


def _checked_states(states: Iterable[str]) -> list[str]:
    states = list(states)
    unknown = set(states) - set(STATES)
    if unknown:
        raise ValueError(f"unknown ledger states: {sorted(unknown)}")
    return states
