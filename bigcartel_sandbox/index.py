"""Sorted indexes that make a list page a slice instead of a sort of the whole shop.

A shop of 100,000 orders must answer a page of 100, sorted and filtered by ``updated_at``, in a few
milliseconds. Each sortable field therefore keeps its ``(key, id)`` pairs in order, updated on
every change; a range filter on the sort field becomes two bisections, and a page becomes a slice.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar

from bigcartel_sandbox.queries import ListQuery

# Not settled by the docs: records without a value (an order never paid has no completed_at)
# sort after all others in ascending order, and so first in descending order.
_MISSING = 1 << 62


class _Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Record)
KeyFunction = Callable[[Any], "int | None"]


class SortedIndex:
    """``(key, id)`` pairs in ascending order, kept as two parallel lists for cheap bisection.

    Ties on the key are broken by id (not settled by the docs), so the order is total and a
    descending walk is exactly the ascending one reversed.
    """

    __slots__ = ("_ids", "_keys")

    def __init__(self, pairs: Iterable[tuple[int, str]]) -> None:
        ordered = sorted(pairs)
        self._keys = [key for key, _ in ordered]
        self._ids = [record_id for _, record_id in ordered]

    def __len__(self) -> int:
        return len(self._ids)

    def insert(self, key: int, record_id: str) -> None:
        position = self._position(key, record_id)
        self._keys.insert(position, key)
        self._ids.insert(position, record_id)

    def remove(self, key: int, record_id: str) -> None:
        position = self._position(key, record_id)
        if position == len(self._ids) or self._ids[position] != record_id:
            raise KeyError(record_id)
        del self._keys[position]
        del self._ids[position]

    def span(self, low: int | None, high: int | None) -> tuple[int, int]:
        """Positions ``[start, stop)`` of the keys within the inclusive bounds."""
        start = 0 if low is None else bisect_left(self._keys, low)
        stop = len(self._keys) if high is None else bisect_right(self._keys, high)
        return start, max(start, stop)

    def page(self, start: int, stop: int, offset: int, limit: int, descending: bool) -> list[str]:
        """The ids of one page of the span ``[start, stop)``."""
        if descending:
            high = stop - offset
            low = max(start, high - limit)
            return self._ids[low:high][::-1] if high > start else []
        low = start + offset
        return self._ids[low : min(stop, low + limit)]

    def walk(self, start: int, stop: int, descending: bool) -> Iterator[str]:
        if descending:
            return (self._ids[i] for i in range(stop - 1, start - 1, -1))
        return islice(self._ids, start, stop)

    def _position(self, key: int, record_id: str) -> int:
        low = bisect_left(self._keys, key)
        high = bisect_right(self._keys, key, low)
        return bisect_left(self._ids, record_id, low, high)


class Page(Generic[R]):
    """One page of a list, with the number of records that matched the filters."""

    __slots__ = ("count", "records")

    def __init__(self, records: list[R], count: int) -> None:
        self.records = records
        self.count = count


class Collection(Mapping[str, R]):
    """The records of one resource of one shop, by id, with an index per sortable field.

    Not thread-safe: the store's lock guards it. Change an indexed field only inside
    ``changing(record)`` so the indexes follow.
    """

    def __init__(self, records: Iterable[R], keys: Mapping[str, KeyFunction]) -> None:
        self._records: dict[str, R] = {record.id: record for record in records}
        self._keys = dict(keys)
        self._indexes = {
            name: SortedIndex((self._key(name, r), r.id) for r in self._records.values())
            for name in self._keys
        }

    def __getitem__(self, record_id: str) -> R:
        return self._records[record_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: R) -> None:
        if record.id in self._records:
            raise KeyError(f"duplicate id {record.id}")
        self._records[record.id] = record
        for name, index in self._indexes.items():
            index.insert(self._key(name, record), record.id)

    def remove(self, record_id: str) -> R:
        record = self._records.pop(record_id)
        for name, index in self._indexes.items():
            index.remove(self._key(name, record), record_id)
        return record

    @contextmanager
    def changing(self, record: R) -> Iterator[R]:
        """Take ``record`` out of the indexes while the block changes it, then put it back."""
        for name, index in self._indexes.items():
            index.remove(self._key(name, record), record.id)
        try:
            yield record
        finally:
            for name, index in self._indexes.items():
                index.insert(self._key(name, record), record.id)

    def select(self, query: ListQuery) -> Page[R]:
        """The page ``query`` asks for, and how many records match its filters.

        Only a range filter on the sort field and no other filter (the incremental-sync query)
        avoids a scan; any other filter walks the records in the span, which is still linear
        only in the shop's size, never a sort.
        """
        index, start, stop, checks = self._plan(query)
        if not checks:
            ids = index.page(start, stop, query.offset, query.limit, query.descending)
            return Page([self._records[i] for i in ids], stop - start)
        matches = self._matching(index.walk(start, stop, query.descending), checks)
        count = 0
        records = []
        end = query.offset + query.limit
        for record in matches:
            if query.offset <= count < end:
                records.append(record)
            count += 1
        return Page(records, count)

    def ordered_ids(self, query: ListQuery) -> list[str]:
        """Every id matching ``query``, in its order; O(n), for the paging-mutation switch."""
        index, start, stop, checks = self._plan(query)
        walk = index.walk(start, stop, query.descending)
        if not checks:
            return list(walk)
        return [record.id for record in self._matching(walk, checks)]

    def _plan(self, query: ListQuery) -> tuple[SortedIndex, int, int, list[Callable[[R], bool]]]:
        index = self._indexes[query.sort]
        start, stop = 0, len(index)
        checks: list[Callable[[R], bool]] = list(query.predicates)
        for bounds in query.ranges:
            # Records without a value never match a range.
            low = bounds.low
            high = _MISSING - 1 if bounds.high is None else bounds.high
            if bounds.field == query.sort:
                start, stop = index.span(low, high)
            else:
                key = self._keys[bounds.field]
                checks.append(_in_range(key, low, high))
        return index, start, stop, checks

    def _matching(self, ids: Iterator[str], checks: list[Callable[[R], bool]]) -> Iterator[R]:
        records = self._records
        for record_id in ids:
            record = records[record_id]
            if all(check(record) for check in checks):
                yield record

    def _key(self, name: str, record: R) -> int:
        value = self._keys[name](record)
        return _MISSING if value is None else value


def _in_range(key: KeyFunction, low: int | None, high: int) -> Callable[[Any], bool]:
    def check(record: Any) -> bool:
        value = key(record)
        return value is not None and (low is None or value >= low) and value <= high

    return check
