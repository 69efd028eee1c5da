"""Paging strategies that cannot lose a record while the shop changes under the tap.

Each pager is a small state machine: ``params()`` gives the query of the next request,
``accept(page, count)`` takes that page's records (with ``updated_at`` already parsed to an aware
datetime) and returns the ones to emit. They hold no I/O, so their guarantees are tested directly.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from bigcartel_core import timestamps

Record = dict[str, t.Any]
Params = dict[str, t.Any]


class StalledPagingError(RuntimeError):
    """The API answered a full page that moved the pager nowhere; going on would loop forever."""


class OffsetPager:
    """Plain ``page[offset]`` paging, for small lists the API cannot filter by date.

    With ``stop_before`` (the shop's own record, incremental on ``updated_at``), records older
    than it are dropped: the API sends them all the same.
    """

    def __init__(self, limit: int, stop_before: dt.datetime | None = None) -> None:
        self.limit = limit
        self.stop_before = stop_before
        self.offset = 0
        self.finished = False

    def params(self) -> Params:
        return {"page[limit]": self.limit, "page[offset]": self.offset}

    def accept(self, page: list[Record], count: int | None) -> list[Record]:
        self.offset += len(page)
        self.finished = _last_page(page, self.limit, count, self.offset)
        if self.stop_before is None:
            return page
        return [record for record in page if record["updated_at"] >= self.stop_before]


class AscendingSeekPager:
    """Seek forward through ``updated_at`` instead of counting offsets.

    Every request asks for the records updated at or after the newest instant already emitted,
    sorted ascending, and drops the ids already emitted at that instant. A record updated while the
    tap pages moves to the end of the list, where the seek still finds it; nothing shifts under an
    offset, so nothing is skipped. The offset is only used inside a run of records that share one
    instant and fill more than half a page, and there it overlaps half a page so that a record
    leaving that run mid-sync cannot make the next request skip one.

    Not settled by the docs: ``filter[updated_at_from]`` is taken as inclusive (>=), as its name
    says, and ties are assumed to keep a stable order between requests.
    """

    def __init__(self, limit: int, start: dt.datetime | None) -> None:
        self.limit = limit
        self.cursor = start
        self.seen_at_cursor: set[str] = set()
        self.finished = False
        self._last_request: tuple[dt.datetime | None, int] | None = None

    def _offset(self) -> int:
        return max(0, len(self.seen_at_cursor) - self.limit // 2)

    def params(self) -> Params:
        params: Params = {
            "sort": "updated_at",
            "page[limit]": self.limit,
            "page[offset]": self._offset(),
        }
        if self.cursor is not None:
            params["filter[updated_at_from]"] = timestamps.format_millis(self.cursor)
        return params

    def accept(self, page: list[Record], count: int | None) -> list[Record]:
        request = (self.cursor, self._offset())
        emitted = []
        for record in page:
            updated_at: dt.datetime = record["updated_at"]
            if self.cursor is not None:
                if updated_at < self.cursor:
                    continue
                if updated_at == self.cursor and record["id"] in self.seen_at_cursor:
                    continue
            if self.cursor is None or updated_at > self.cursor:
                self.cursor = updated_at
                self.seen_at_cursor = set()
            self.seen_at_cursor.add(record["id"])
            emitted.append(record)
        self.finished = _last_page(page, self.limit, count, request[1] + len(page))
        if not self.finished and not emitted and request == self._last_request:
            msg = f"the API answered the same page twice for updated_at >= {self.cursor}"
            raise StalledPagingError(msg)
        self._last_request = request
        return emitted


class DescendingPager:
    """Newest first, stopping at the bookmark, for lists the API cannot filter by date.

    An incremental run reads only the pages that hold changes. A record updated or created while the
    tap pages moves to the front and pushes the rest down, so the next page repeats a record rather
    than skipping one; repeats are dropped against the previous page. Each page also overlaps the
    last by ``overlap`` records, so up to that many deletions per page cannot pull a record past the
    tap either.
    """

    def __init__(self, limit: int, stop_before: dt.datetime | None, overlap: int | None = None):
        self.limit = limit
        self.stop_before = stop_before
        self.overlap = max(1, limit // 20) if overlap is None else overlap
        if self.overlap >= limit:
            msg = f"overlap {self.overlap} must be smaller than the page size {limit}"
            raise ValueError(msg)
        self.offset = 0
        self.finished = False
        self._previous_ids: set[str] = set()

    def params(self) -> Params:
        return {"sort": "-updated_at", "page[limit]": self.limit, "page[offset]": self.offset}

    def accept(self, page: list[Record], count: int | None) -> list[Record]:
        emitted = []
        reached_bookmark = False
        for record in page:
            if self.stop_before is not None and record["updated_at"] < self.stop_before:
                reached_bookmark = True
                continue
            if record["id"] not in self._previous_ids:
                emitted.append(record)
        self._previous_ids = {record["id"] for record in page}
        end = self.offset + len(page)
        self.finished = reached_bookmark or _last_page(page, self.limit, count, end)
        self.offset = end - self.overlap
        return emitted


def _last_page(page: list[Record], limit: int, count: int | None, end: int) -> bool:
    """True when no further request can return anything: a short page, or ``meta.count`` met."""
    return len(page) < limit or (count is not None and end >= count)
