"""The ledger's tables, prefixed ``fulfillment_`` to share a database with anything else.

There are no migrations: ``schema_version`` in ``fulfillment_meta`` lets a later version of the
code recognise a ledger it must convert, and this one refuse a ledger it does not know.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from bigcartel_core.sql.types import UTCDateTime

#: 2: ``fulfillment_shops.connected`` is gone (shop connections live in the webhook store).
#: 3: ``fulfillment_orders.lease_owner`` (who is submitting), ``fulfillment_rejected_records``,
#: ``fulfillment_shops.country`` as text (a malformed country is kept, to hold its orders by it).
SCHEMA_VERSION = 3
#: The statements that convert a ledger of a version to the next, each for every database
#: (``None``) or one dialect; ``open_database`` applies them in order.
MIGRATIONS: dict[int, tuple[tuple[str | None, str], ...]] = {
    2: (
        (None, "ALTER TABLE fulfillment_orders ADD COLUMN lease_owner VARCHAR(64)"),
        # SQLite keeps any text in any column; only PostgreSQL enforces the old length.
        ("postgresql", "ALTER TABLE fulfillment_shops ALTER COLUMN country TYPE TEXT"),
    ),
}

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
