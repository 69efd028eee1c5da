"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa

from bigcartel_core.timestamps import as_utc

__all__ = ["UTCDateTime", "as_utc"]


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone, PostgreSQL the session's).

    On SQLite the stored text is UTC, so comparing it in SQL compares the instants. With
    ``strict`` a naive datetime is refused instead of taken as UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__()
        self.strict = strict

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> t.Any:
        if value is None:
            return None
        if self.strict and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return as_utc(value)

    def process_result_value(self, value: t.Any, dialect: sa.Dialect) -> dt.datetime | None:
        return None if value is None else as_utc(value)
