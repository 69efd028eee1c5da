"""SQLite set up for several writers and concurrent readers.

SQLAlchemy (not the ``sqlite3`` module) emits BEGIN, and a writing transaction starts with
``BEGIN IMMEDIATE``: it takes the write lock up front, so concurrent writers queue on the busy
timeout instead of failing with "database is locked" when a read is upgraded to a write, and a
read followed by a write in one transaction is atomic. WAL lets readers run beside the writer;
``synchronous = FULL`` makes a commit durable when it returns.
"""

from __future__ import annotations

import sqlite3
import time
import typing as t

import sqlalchemy as sa

BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "bigcartel_core_read_only"


def configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def connect(dbapi_connection: sqlite3.Connection, _record: t.Any) -> None:
        dbapi_connection.isolation_level = None  # the "begin" hook below emits BEGIN
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(dbapi_connection)
        dbapi_connection.execute("PRAGMA synchronous = FULL")

    @sa.event.listens_for(engine, "begin")
    def begin(conn: sa.Connection) -> None:
        read = conn.get_execution_options().get(_READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


def read_only(engine: sa.Engine) -> sa.Connection:
    """A connection for reads: on SQLite its transaction takes no write lock."""
    return engine.connect().execution_options(**{_READ_ONLY: True})


def _use_wal(dbapi_connection: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for other connections to let it.

    The switch needs the file to itself, and SQLite fails at once rather than waiting on the
    busy timeout when it does not have it, as when several workers open a new file together.
    """
    # WAL persists in the file; asking first spares every later connection the wait for a gap
    # between writers, which under a burst cost new connections hundreds of milliseconds.
    if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)
