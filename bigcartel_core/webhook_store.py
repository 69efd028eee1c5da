"""The ``webhook_events`` table: every accepted delivery, stored once, on SQLite or PostgreSQL;
and ``webhook_shop_connections``: which shops deauthorized the app.

Big Cartel sends no delivery id, and a retried delivery repeats the same body, so the key that
makes a retry a no-op is the SHA-256 of the raw body (``delivery_key``, unique). Inserts use the
dialect's ``INSERT ... ON CONFLICT DO NOTHING`` so concurrent retries cannot race into two rows.

A shop's connection is a row of its own (``webhook_shop_connections``): a received
``account.deauthorized`` sets it disconnected, ``mark_connected`` (a reconnect) sets it back, and
each change records when, by this store's clock. The body of a deauthorization is the account id
alone, so a retry of an old one and a new one after a reconnect are the same bytes; which of them
a delivery after a reconnect is follows a rule on the store's own times, in
``_deauthorization_counts``.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bigcartel_core import timestamps
from bigcartel_core.sql.sqlite import configure_sqlite, read_only
from bigcartel_core.sql.types import UTCDateTime

DEFAULT_DB_URL = "sqlite:///webhooks/webhooks.db"
STATUSES = ("received", "processed", "failed", "ignored")


metadata = sa.MetaData()

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_key", sa.String(64), nullable=False, unique=True),
    sa.Column("account_id", sa.String(64), nullable=True, index=True),
    sa.Column("topic", sa.String(100), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime(strict=True), nullable=False, index=True),
    sa.Column("processed_at", UTCDateTime(strict=True), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.CheckConstraint(
        "status IN ('received', 'processed', 'failed', 'ignored')", name="webhook_events_status"
    ),
)


shop_connections = sa.Table(
    "webhook_shop_connections",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("connected", sa.Boolean, nullable=False),
    sa.Column("changed_at", UTCDateTime(strict=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

DEAUTHORIZED = "account.deauthorized"
#: How long Big Cartel retries a delivery it did not get a 2xx for ("for the next 7 days").
RETRY_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class Disconnection:
    """A shop that deauthorized the app, and when we heard of it."""

    account_id: str
    changed_at: datetime
    reason: str


@dataclass(frozen=True)
class WebhookEvent:
    """One stored delivery, as read back."""

    id: int
    delivery_key: str
    account_id: str | None
    topic: str
    status: str
    payload: str
    received_at: datetime
    processed_at: datetime | None
    error: str | None


class StoreUnavailableError(RuntimeError):
    """A consumer cannot use the store; the message names the setting, never the URL."""


@contextlib.contextmanager
def consumer_errors(url: str, setting: str = "webhook_db_url") -> t.Iterator[None]:
    """Turn database errors of a consumer (the tap, the target) into one clear error.

    The URL may hold a password, so the message names the setting and the cause only, and any
    password the driver echoed is scrubbed.
    """
    try:
        yield
    except (sa.exc.SQLAlchemyError, ValueError) as error:
        text = (str(error).splitlines() or [type(error).__name__])[0]
        password = url_password(url)
        if password:
            text = text.replace(password, "[redacted]")
        raise StoreUnavailableError(f"{setting}: cannot use the webhook store: {text}") from None


def url_password(url: str) -> str | None:
    """The password in a database URL, for scrubbing; None for none or an unreadable URL."""
    try:
        password = sa.make_url(url).password
    except sa.exc.ArgumentError:
        return None
    return None if password is None else str(password)


def delivery_key(body: bytes) -> str:
    """The identity of a delivery: a retry of it has the same raw body, hence the same key."""
    return hashlib.sha256(body).hexdigest()


#: A burst of deliveries shares 16 connections (and 16 more at a peak). Parameters are kept out
#: of errors (``hide_parameters``): they are delivery bodies, with customers' names and addresses.
_POOL: dict[str, t.Any] = {"pool_size": 16, "max_overflow": 16, "pool_timeout": 60}


class WebhookStore:
    """The event log; safe to share between the threads of a threaded server."""

    def __init__(self, url: str = DEFAULT_DB_URL, *, create: bool = True) -> None:
        parsed = sa.make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")
        if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Both dialects' inserts have the ON CONFLICT clauses used here, with the same arguments.
        self._insert: t.Callable[[sa.Table], sqlite.Insert | postgresql.Insert]
        if self.dialect == "sqlite":
            self.engine = sa.create_engine(url, hide_parameters=True, **_POOL)
            configure_sqlite(self.engine)
            self._insert = sqlite.insert
            # SQLite has one writer at a time; queueing this process's writers on a lock spares
            # them SQLite's busy handler, which sleeps in steps of up to 100 ms (the p99).
            self._write_lock: t.ContextManager[t.Any] = threading.Lock()
        else:
            self.engine = sa.create_engine(url, hide_parameters=True, pool_pre_ping=True, **_POOL)
            self._insert = postgresql.insert
            self._write_lock = contextlib.nullcontext()
        if create:
            metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def record(
        self,
        body: bytes,
        *,
        account_id: str | None,
        topic: str,
        status: str,
        payload: str,
        received_at: datetime | None = None,
    ) -> tuple[WebhookEvent, bool]:
        """Store a delivery unless its body was stored before; committed when this returns.

        A received ``account.deauthorized`` also marks its shop disconnected, in the same
        transaction, unless it is a retry of one that predates the shop's reconnect. Returns the
        stored row and whether this call inserted it (False for a retry).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        key = delivery_key(body)
        delivered_at = received_at or timestamps.now()
        stmt = (
            self._insert(webhook_events)
            .values(
                delivery_key=key,
                account_id=account_id,
                topic=topic,
                status=status,
                payload=payload,
                received_at=delivered_at,
            )
            .on_conflict_do_nothing(index_elements=["delivery_key"])
        )
        with self._write_lock, self.engine.begin() as conn:
            inserted = conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1
            row = conn.execute(
                sa.select(webhook_events).where(webhook_events.c.delivery_key == key)
            ).one()
            if (
                topic == DEAUTHORIZED
                and status == "received"
                and account_id
                and self._deauthorization_counts(conn, account_id, row.received_at, delivered_at)
            ):
                self._set_connection(
                    conn, account_id, False, f"{DEAUTHORIZED} event {row.id}", delivered_at
                )
        return WebhookEvent(**row._asdict()), inserted

    def _deauthorization_counts(
        self, conn: sa.Connection, account_id: str, stored_at: datetime, delivered_at: datetime
    ) -> bool:
        """Whether a deauthorization delivered at ``delivered_at``, whose body this store first
        stored at ``stored_at``, disconnects the shop.

        Big Cartel sends no delivery id and no send time, and retries a delivery it got no 2xx
        for (a lost answer, a replay) with the same body for 7 days. A body stored before the
        shop's latest reconnect is therefore taken as a retry of that old deauthorization, which
        the reconnect settled: it does not disconnect the shop again. Unless it arrives 7 days or
        more after the reconnect: a retry of anything sent before the reconnect would have
        stopped by then, so it is a new deauthorization. A body first stored after the reconnect
        is a new one too.

        Not settled by the docs: a shop deauthorizing again within 7 days of a reconnect sends
        the same body as a retry, so it does not count here; the tap then meets the 401 and fails
        the run naming the shop, rather than skipping it in silence. Nor can a retry first stored
        after a reconnect (the receiver was down meanwhile) be told from a new deauthorization:
        it disconnects the shop, which the tap names at the end of its run, to be reconnected.
        """
        query = (
            sa.select(shop_connections.c.connected, shop_connections.c.changed_at)
            .where(shop_connections.c.account_id == account_id)
            # On PostgreSQL, a reconnect committing meanwhile waits for this decision.
            .with_for_update()
        )
        current = conn.execute(query).one_or_none()
        if current is None or not current.connected:
            return True
        reconnected_at: datetime = current.changed_at
        return stored_at > reconnected_at or delivered_at >= reconnected_at + RETRY_PERIOD

    def mark_connected(self, account_id: str, reason: str) -> None:
        """The shop authorized the app again (a new token): its deauthorization no longer holds,
        nor do retries of it that arrive later (see ``_deauthorization_counts``)."""
        with self._write_lock, self.engine.begin() as conn:
            self._set_connection(conn, account_id, True, reason, timestamps.now())

    def disconnected(self) -> dict[str, Disconnection]:
        """Shops whose latest word is a deauthorization, by account id."""
        query = sa.select(shop_connections).where(shop_connections.c.connected.is_(False))
        with self._read() as conn:
            return {
                row.account_id: Disconnection(row.account_id, row.changed_at, row.reason)
                for row in conn.execute(query)
            }

    def _set_connection(
        self, conn: sa.Connection, account_id: str, connected: bool, reason: str, at: datetime
    ) -> None:
        values = {"connected": connected, "changed_at": at, "reason": reason}
        conn.execute(
            self._insert(shop_connections)
            .values(account_id=account_id, **values)
            .on_conflict_do_update(index_elements=["account_id"], set_=values)
        )

    def get(self, event_id: int) -> WebhookEvent | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(webhook_events).where(webhook_events.c.id == event_id)
            ).one_or_none()
        return None if row is None else WebhookEvent(**row._asdict())

    def list_events(
        self,
        *,
        topic: str | None = None,
        status: str | None = None,
        account_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[WebhookEvent]:
        """Events oldest first; ``since`` is inclusive and ``until`` exclusive, on received_at.

        ``topic`` matches a whole type (``order.updated``) or, ending in ``.``, a family
        (``order.``).
        """
        query = sa.select(webhook_events).order_by(webhook_events.c.id)
        if topic is not None:
            if topic.endswith("."):
                query = query.where(webhook_events.c.topic.startswith(topic, autoescape=True))
            else:
                query = query.where(webhook_events.c.topic == topic)
        if status is not None:
            query = query.where(webhook_events.c.status == status)
        if account_id is not None:
            query = query.where(webhook_events.c.account_id == account_id)
        if since is not None:
            query = query.where(webhook_events.c.received_at >= since)
        if until is not None:
            query = query.where(webhook_events.c.received_at < until)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [WebhookEvent(**row._asdict()) for row in conn.execute(query)]

    def count(self) -> int:
        with self._read() as conn:
            query = sa.select(sa.func.count()).select_from(webhook_events)
            return int(conn.execute(query).scalar_one())

    def mark_processed(self, event_id: int) -> bool:
        """Record that a consumer handled the event; False if there is no such event."""
        return self._update(event_id, status="processed", processed_at=timestamps.now(), error=None)

    def mark_failed(self, event_id: int, error: str) -> bool:
        """Record that handling the event failed, and why; False if there is no such event."""
        return self._update(event_id, status="failed", processed_at=timestamps.now(), error=error)

    def _update(self, event_id: int, **values: t.Any) -> bool:
        stmt = sa.update(webhook_events).where(webhook_events.c.id == event_id).values(**values)
        with self._write_lock, self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def _read(self) -> sa.Connection:
        return read_only(self.engine)
