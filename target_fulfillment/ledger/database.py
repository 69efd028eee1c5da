"""Opening the ledger's database: SQLite for one machine, PostgreSQL for several.

On SQLite, SQLAlchemy (not the ``sqlite3`` module) emits BEGIN, and a writing transaction starts
with ``BEGIN IMMEDIATE``: it takes the write lock up front, so concurrent writers queue on the busy
timeout instead of failing with "database is locked" when a read is upgraded to a write, and a
read followed by a write in one transaction is atomic. WAL lets readers run beside the writer.
"""

from __future__ import annotations

import sqlite3
import time
import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from target_fulfillment.ledger.schema import SCHEMA_VERSION, meta, metadata

InsertStatement = postgresql.Insert | sqlite.Insert
Insert = t.Callable[[sa.Table], InsertStatement]

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant: serializes table creation among workers starting at once on one PostgreSQL.
_DDL_LOCK_ID = 0x6C656467_6572
_READ_ONLY = "fulfillment_ledger_read_only"


class LedgerSchemaError(RuntimeError):
    """The database holds a ledger of another schema version than this code's."""


def open_database(url: str | sa.URL) -> tuple[sa.Engine, Insert]:
    """An engine with the ledger's tables in place, and the dialect's INSERT ... ON CONFLICT."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
        insert: Insert = sqlite.insert
    elif engine.dialect.name == "postgresql":
        insert = postgresql.insert
    else:
        raise ValueError(f"the ledger needs SQLite or PostgreSQL, not {engine.dialect.name}")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_DDL_LOCK_ID)))
        metadata.create_all(conn)
        conn.execute(
            insert(meta)
            .values(key="schema_version", value=str(SCHEMA_VERSION))
            .on_conflict_do_nothing()
        )
        version = conn.scalar(sa.select(meta.c.value).where(meta.c.key == "schema_version"))
    if version != str(SCHEMA_VERSION):
        engine.dispose()
        raise LedgerSchemaError(
            f"the ledger at {engine.url!r} has schema version {version}; "
            f"this version of target-fulfillment uses {SCHEMA_VERSION}"
        )
    return engine, insert


def read_only(engine: sa.Engine) -> sa.Connection:
    """A connection for reads: on SQLite its transaction takes no write lock."""
    return engine.connect().execution_options(**{_READ_ONLY: True})


def wrote(conn: sa.Connection, stmt: sa.Executable) -> bool:
    """Whether the statement wrote its one row; an INSERT's rowcount is kept only on request."""
    return conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def connect(dbapi_connection: sqlite3.Connection, _record: t.Any) -> None:
        dbapi_connection.isolation_level = None  # the "begin" hook below emits BEGIN
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(dbapi_connection)

    @sa.event.listens_for(engine, "begin")
    def begin(conn: sa.Connection) -> None:
        read = conn.get_execution_options().get(_READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


def _use_wal(dbapi_connection: sqlite3.Connection) -> None:
    """Switch to WAL (once per file; it persists), waiting for other connections to let it.

    The switch needs the file to itself, and SQLite fails at once rather than waiting on the
    busy timeout when it does not have it, as when several workers open a new ledger together.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)
