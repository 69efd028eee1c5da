"""The latest Big Cartel document of every order the target has not finished with.

Orders are written here, durably, as they arrive and before the SDK acknowledges them with a
STATE message; the decisions (send, hold, update, cancel) are made at the end of the run, once
the products of the same run are in the catalog. A crash in between loses nothing: the next run
finds the orders still marked for evaluation. Held orders keep their document so they can be sent
as soon as their product gets a ``SKU:`` line, even if the tap never emits them again.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from singer_sdk.singerlib.json import deserialize_json, serialize_json
from sqlalchemy.dialects import postgresql, sqlite

from bigcartel_core import timestamps
from target_fulfillment.ledger.schema import order_documents

Record = dict[str, t.Any]

#: The ledger's table (``target_fulfillment.ledger.schema``), made by ``open_database``.
documents = order_documents


def _updated_at(record: Record) -> dt.datetime | None:
    """The order's ``updated_at`` in UTC; None when it is missing or unreadable (undated)."""
    value = record.get("updated_at")
    if isinstance(value, dt.datetime):
        return timestamps.as_utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return timestamps.parse(value)
    except ValueError:
        return None


def _document(record: Record) -> str:
    """The record as ASCII JSON: NUL bytes and lone surrogates become escapes any database
    stores, and reading it back gives the same text, for validation to hold the order by."""
    return serialize_json(record, ensure_ascii=True)


class OrderCache:
    """Order documents keyed by (account, order), newest ``updated_at`` wins.

    The engine is the ledger's (``Ledger.engine``): ``open_database`` made the table.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def put_many(self, records: Iterable[Record]) -> int:
        """Store each order unless an equally new or newer version is stored; returns how many.

        One upsert per order, its comparison inside the statement: workers storing the same order
        at once neither fail on the key nor let an older version win. An undated version never
        replaces a stored one; a dated one replaces an undated one.
        """
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        stored = 0
        now = timestamps.now()
        with self._engine.begin() as connection:
            for record in records:
                values = {
                    "updated_at": _updated_at(record),
                    "document": _document(record),
                    "needs_evaluation": True,
                    "received_at": now,
                }
                statement = insert(documents).values(
                    account_id=str(record["account_id"]), order_id=str(record["id"]), **values
                )
                new, old = statement.excluded.updated_at, documents.c.updated_at
                upsert = statement.on_conflict_do_update(
                    index_elements=["account_id", "order_id"],
                    set_=values,
                    where=sa.or_(new > old, sa.and_(old.is_(None), new.is_not(None))),
                )
                result = connection.execute(upsert.execution_options(preserve_rowcount=True))
                stored += result.rowcount
        return stored

    def pending(self) -> Iterator[Record]:
        """Orders received since they were last evaluated, oldest first, streamed in chunks."""
        last: tuple[str, str] = ("", "")
        while True:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    sa.select(documents.c.account_id, documents.c.order_id, documents.c.document)
                    .where(documents.c.needs_evaluation.is_(True))
                    .where(sa.tuple_(documents.c.account_id, documents.c.order_id) > last)
                    .order_by(documents.c.account_id, documents.c.order_id)
                    .limit(500)
                ).all()
            if not rows:
                return
            for row in rows:
                yield deserialize_json(row.document)
            last = (rows[-1].account_id, rows[-1].order_id)

    def get(self, account_id: str, order_id: str) -> Record | None:
        with self._engine.connect() as connection:
            document = connection.execute(
                sa.select(documents.c.document).filter_by(account_id=account_id, order_id=order_id)
            ).scalar_one_or_none()
        return None if document is None else deserialize_json(document)

    def mark_evaluated(self, account_id: str, order_id: str) -> None:
        self._set_flag(account_id, order_id, needs_evaluation=False)

    def flag_for_evaluation(self, account_id: str, order_id: str) -> None:
        """Look at this order again in this run (an interrupted submit that never landed)."""
        self._set_flag(account_id, order_id, needs_evaluation=True)

    def _set_flag(self, account_id: str, order_id: str, *, needs_evaluation: bool) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                documents.update()
                .filter_by(account_id=account_id, order_id=order_id)
                .values(needs_evaluation=needs_evaluation)
            )

    def delete(self, account_id: str, order_id: str) -> None:
        """Forget an order the target is finished with (written back or cancelled)."""
        with self._engine.begin() as connection:
            connection.execute(
                documents.delete().filter_by(account_id=account_id, order_id=order_id)
            )
