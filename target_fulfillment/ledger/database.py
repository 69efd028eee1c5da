"""Opening the ledger's database: SQLite for one machine (set up as sqlsupport.sqlite
describes), PostgreSQL for several."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from sqlsupport.sqlite import configure_sqlite
from target_fulfillment.ledger.schema import SCHEMA_VERSION, meta, metadata

InsertStatement = postgresql.Insert | sqlite.Insert
Insert = t.Callable[[sa.Table], InsertStatement]

# Any constant: serializes table creation among workers starting at once on one PostgreSQL.
_DDL_LOCK_ID = 0x6C656467_6572


class LedgerSchemaError(RuntimeError):
    """The database holds a ledger of another schema version than this code's."""


def open_database(url: str | sa.URL) -> tuple[sa.Engine, Insert]:
    """An engine with the ledger's tables in place, and the dialect's INSERT ... ON CONFLICT."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)
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


def wrote(conn: sa.Connection, stmt: sa.Executable) -> bool:
    """Whether the statement wrote its one row; an INSERT's rowcount is kept only on request."""
    return conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1
