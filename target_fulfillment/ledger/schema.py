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
#: 5: ``fulfillment_shipments``, each warehouse shipment under its own id (an order may leave in
#: several parcels); ``fulfillment_orders.lines`` (each sent line's SKU) replaces ``shipment``.
SCHEMA_VERSION = 5

State = t.Literal[
    "held", "submitting", "submitted", "shipped", "written_back", "failed", "cancelled"
]
STATES: tuple[State, ...] = t.get_args(State)
#: How an order or a shipment reached Big Cartel: its own ``POST .../shipments``, the
#: ``shipping_status`` PATCH where shipments are refused, or ``already`` (nothing was left to ship:
#: the seller, or a write-back whose answer was lost, shipped those units).
WRITEBACK_METHODS = ("shipment", "patch", "already")

#: ``recorded`` (to write back), ``posting`` (its POST may be in flight: the intent and what the
#: order's line items will show once it took effect, ``expected``, are durable before it is sent),
#: ``written_back``, ``voided`` (its label was voided before write-back: never written) and
#: ``void_reported`` (voided after its tracking may have reached the buyer: reported).
ShipmentState = t.Literal["recorded", "posting", "written_back", "voided", "void_reported"]
SHIPMENT_STATES: tuple[ShipmentState, ...] = t.get_args(ShipmentState)


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
    #: The sent order's lines, line item id to SKU (null when it had none), to place shipped
    #: items that a warehouse names by SKU alone.
    sa.Column("lines", sa.JSON),
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

#: Every shipment the warehouse reported for an order of the ledger, under the backend's id of it
#: (a V1 label shipment, a V2 label, a confirmation file); ``items`` as the warehouse named them.
shipments = sa.Table(
    "fulfillment_shipments",
    metadata,
    sa.Column("backend", sa.String(64), primary_key=True),
    sa.Column("source_id", sa.String(255), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("carrier", sa.Text),
    sa.Column("tracking_number", sa.Text),
    sa.Column("tracking_url", sa.Text),
    sa.Column("shipped_at", UTCDateTime),
    sa.Column("items", sa.JSON, nullable=False),
    #: Line item id to the ``quantity_shipped`` Big Cartel shows once this shipment's POST took
    #: effect: how a POST whose answer was lost is told from one that never arrived.
    #: NULL (not JSON null) until a POST is about to be sent: a claimed row without it sent nothing.
    sa.Column("expected", sa.JSON(none_as_null=True)),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("writeback_method", sa.String(16)),
    sa.Column("last_error", sa.Text),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("written_back_at", UTCDateTime),
    sa.Column("voided_at", UTCDateTime),
    sa.Index("fulfillment_shipments_order", "account_id", "order_id"),
    sa.CheckConstraint(sa.column("state").in_(SHIPMENT_STATES), name="fulfillment_shipments_state"),
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


def _shipments_to_v5(conn: sa.Connection) -> None:
    """Each order's one recorded shipment into ``fulfillment_shipments``, then drop the column.

    A ``shipped`` order's shipment is still to be written back (``recorded``); a
    ``written_back`` order's is kept as written, so a void of its label is still reported.
    """
    conn.exec_driver_sql("ALTER TABLE fulfillment_orders ADD COLUMN lines JSON")
    old = sa.table(
        "fulfillment_orders",
        *(sa.column(name) for name in ("account_id", "order_id", "backend", "state")),
        sa.column("writeback_method"),
        sa.column("shipped_at", UTCDateTime),
        sa.column("written_back_at", UTCDateTime),
        sa.column("shipment", sa.JSON),
    )
    query = sa.select(old).where(
        old.c.state.in_(("shipped", "written_back")), old.c.shipment.is_not(None)
    )
    rows = []
    for order in conn.execute(query).mappings():
        shipment = order["shipment"]
        if not isinstance(shipment, dict) or not shipment.get("source_id"):
            continue
        written = order["state"] == "written_back"
        now = timestamps.now()
        rows.append(
            {
                "backend": order["backend"] or "",
                "source_id": str(shipment["source_id"]),
                "account_id": order["account_id"],
                "order_id": order["order_id"],
                "state": "written_back" if written else "recorded",
                "carrier": shipment.get("carrier"),
                "tracking_number": shipment.get("tracking_number"),
                "tracking_url": shipment.get("tracking_url"),
                "shipped_at": _stored_timestamp(str(shipment.get("shipped_at") or "")),
                "items": list(shipment.get("items") or []),
                "writeback_method": order["writeback_method"] if written else None,
                "recorded_at": order["shipped_at"] or now,
                "updated_at": now,
                "written_back_at": order["written_back_at"] if written else None,
            }
        )
    if rows:
        conn.execute(shipments.insert(), rows)
    conn.exec_driver_sql("ALTER TABLE fulfillment_orders DROP COLUMN shipment")


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
    4: ((None, _shipments_to_v5),),
}
