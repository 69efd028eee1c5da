"""The ledger's tables, prefixed ``fulfillment_`` to share a database with anything else.

``schema_version`` in ``fulfillment_meta`` lets the code convert a ledger of an older version in
place (``MIGRATIONS``) and refuse one of a version it does not know.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import sqlalchemy as sa

from bigcartel_core import timestamps
from bigcartel_core.sql.types import UTCDateTime

#: 2: ``fulfillment_shops.connected`` is gone (shop connections live in the webhook store).
#: 3: ``fulfillment_orders.lease_owner`` (who is submitting), ``fulfillment_rejected_records``,
#: ``fulfillment_shops.country`` as text (a malformed country is kept, to hold its orders by it).
#: 4: the order cache's ``fulfillment_order_documents`` joins the ledger's tables, its
#: ``updated_at`` a timestamp (NULL for an undated order) instead of text.
SCHEMA_VERSION = 4

State = t.Literal[
    "held", "submitting", "submitted", "shipped", "written_back", "failed", "cancelled"
]
STATES: tuple[State, ...] = t.get_args(State)
WRITEBACK_METHODS = ("shipment", "patch")


metadata = sa.MetaData()
meta = sa.Table(
    "fulfillment_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
kv = sa.Table(
    "fulfillment_kv",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
shops = sa.Table(
    "fulfillment_shops",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("country", sa.Text),
    sa.Column("store_name", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
products = sa.Table(
    "fulfillment_products",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("product_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("updated_at", UTCDateTime),
)
product_options = sa.Table(
    "fulfillment_product_options",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("product_id", sa.String(128), primary_key=True),
    sa.Column("option_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text),
)
orders = sa.Table(
    "fulfillment_orders",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(128), primary_key=True),
    sa.Column("order_key", sa.String(255), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("backend", sa.String(64)),
    sa.Column("backend_order_id", sa.String(128)),
    sa.Column("payload_hash", sa.String(128)),
    sa.Column("pending_change", sa.Text),
    sa.Column("hold_reason", sa.Text),
    sa.Column("last_error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("shipment", sa.JSON),
    sa.Column("writeback_method", sa.String(16)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("submitted_at", UTCDateTime),
    sa.Column("shipped_at", UTCDateTime),
    sa.Column("written_back_at", UTCDateTime),
    #: The worker that claimed a ``submitting`` row (see ``ledger.leases``).
    sa.Column("lease_owner", sa.String(64)),
    sa.CheckConstraint(sa.column("state").in_(STATES), name="fulfillment_orders_state"),
)

#: The latest Big Cartel document of every order the target has not finished with
#: (``target_fulfillment.order_cache``), as ASCII JSON; the newest ``updated_at`` wins.
order_documents = sa.Table(
    "fulfillment_order_documents",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(128), primary_key=True),
    sa.Column("updated_at", UTCDateTime),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("needs_evaluation", sa.Boolean, nullable=False, default=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

#: Records that cannot be an order or product of the ledger (no usable key), kept whole so none
#: is lost and listed by ``target-fulfillment-admin holds``. One row per distinct record.
rejected_records = sa.Table(
    "fulfillment_rejected_records",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(80), nullable=False),
    sa.Column("record_id", sa.String(80), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)


def _order_documents_to_v4(conn: sa.Connection) -> None:
    """``fulfillment_order_documents.updated_at`` from text to a timestamp column, nullable.

    Each stored text is read as the order cache wrote it (ISO 8601, or empty for an undated
    order); one that is empty or unreadable becomes NULL, an undated order. The table is there
    already, made by ``create_all`` when the cache never was (then it is empty, of the new shape).
    """
    name = order_documents.name
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE {name} ALTER COLUMN updated_at DROP NOT NULL")
    else:
        # SQLite drops no NOT NULL in place: copy the rows into a table of the new shape.
        new = order_documents.to_metadata(sa.MetaData(), name=f"{name}_v4")
        new.create(conn)
        columns = ", ".join(column.name for column in order_documents.columns)
        conn.exec_driver_sql(f"INSERT INTO {new.name} ({columns}) SELECT {columns} FROM {name}")
        conn.exec_driver_sql(f"DROP TABLE {name}")
        conn.exec_driver_sql(f"ALTER TABLE {new.name} RENAME TO {name}")
    stored = conn.exec_driver_sql(f"SELECT account_id, order_id, updated_at FROM {name}").all()
    converted = [
        {"a": account_id, "o": order_id, "u": _stored_timestamp(text)}
        for account_id, order_id, text in stored
        if isinstance(text, str)
    ]
    where = "account_id = :a AND order_id = :o"
    if conn.dialect.name == "postgresql":
        # Still a text column: canonical UTC text, which the cast below reads in any session zone.
        for row in converted:
            row["u"] = None if row["u"] is None else timestamps.format(row["u"])
        if converted:
            conn.execute(sa.text(f"UPDATE {name} SET updated_at = :u WHERE {where}"), converted)
        conn.exec_driver_sql(
            f"ALTER TABLE {name} ALTER COLUMN updated_at TYPE TIMESTAMP WITH TIME ZONE"
            " USING updated_at::timestamp with time zone"
        )
    elif converted:
        update = (
            order_documents.update()
            .where(
                order_documents.c.account_id == sa.bindparam("a"),
                order_documents.c.order_id == sa.bindparam("o"),
            )
            .values(updated_at=sa.bindparam("u", type_=UTCDateTime))
        )
        conn.execute(update, converted)


def _stored_timestamp(text: str) -> t.Any:
    try:
        return timestamps.parse(text) if text.strip() else None
    except ValueError:
        return None


#: What converts a ledger of a version to the next, in order: SQL statements and functions of
#: the connection, each for every database (``None``) or one dialect; ``open_database`` applies
#: them inside its transaction, after ``create_all`` made the tables that were missing.
MIGRATIONS: dict[int, tuple[tuple[str | None, str | Callable[[sa.Connection], None]], ...]] = {
    2: (
        (None, "ALTER TABLE fulfillment_orders ADD COLUMN lease_owner VARCHAR(64)"),
        # SQLite keeps any text in any column; only PostgreSQL enforces the old length.
        ("postgresql", "ALTER TABLE fulfillment_shops ALTER COLUMN country TYPE TEXT"),
    ),
    3: ((None, _order_documents_to_v4),),
}
