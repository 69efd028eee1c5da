"""Opening the ledger's database: SQLite for one machine (set up as bigcartel_core.sql.sqlite
describes), PostgreSQL for several."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bigcartel_core.sql.sqlite import configure_sqlite
from target_fulfillment.ledger.schema import MIGRATIONS, SCHEMA_VERSION, meta, metadata

InsertStatement = postgresql.Insert | sqlite.Insert
Insert = t.Callable[[sa.Table], InsertStatement]

# Any constant: serializes table creation among workers starting at once on one PostgreSQL.
_DDL_LOCK_ID = 0x6C656467_6572


class LedgerSchemaError(RuntimeError):
    """The database holds a ledger of another schema version than this code's."""


def open_database(url: str | sa.URL) -> tuple[sa.Engine, Insert]:
    """An engine with the ledger's tables in place, and the dialect's INSERT ... ON CONFLICT.

    A ledger of an older schema version is converted in place; one of a newer version is refused.
    Statement parameters are kept out of error messages: they hold customers' names and addresses.
    """
    engine = sa.create_engine(url, hide_parameters=True)
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
        version = _migrate(conn, version)
    if version != str(SCHEMA_VERSION):
        engine.dispose()
        raise LedgerSchemaError(
            f"the ledger at {engine.url!r} has schema version {version}; "
            f"this version of target-fulfillment uses {SCHEMA_VERSION}"
        )
    return engine, insert


def _migrate(conn: sa.Connection, version: str | None) -> str | None:
    """Convert the ledger from ``version`` up to ``SCHEMA_VERSION``; the version it ends at."""
    while version is not None and version.isdigit() and int(version) in MIGRATIONS:
        for dialect, step in MIGRATIONS[int(version)]:
            if dialect not in (None, conn.dialect.name):
                continue
            if isinstance(step, str):
                conn.exec_driver_sql(step)
            else:
                step(conn)
        version = str(int(version) + 1)
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=version))
    return version


def describe_error(error: Exception) -> str:
    """A database error in words that carry no customer data: the driver's first line.

    PostgreSQL's DETAIL line can repeat a whole row ("Failing row contains ...") and SQLAlchemy's
    text the statement; the first line names the failing constraint or column only.
    """
    cause = getattr(error, "orig", None) or error
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}"[:300]


def wrote(conn: sa.Connection, stmt: sa.Executable) -> bool:
    """Whether the statement wrote its one row; an INSERT's rowcount is kept only on request."""
    return conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1
