"""The pagers against a list that changes between requests, with no HTTP in between."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from tap_bigcartel.paging import (
    AscendingSeekPager,
    DescendingPager,
    OffsetPager,
    StalledPagingError,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class FakeList:
    """An in-memory list resource answering the API's paging and sort parameters."""

    def __init__(self, n: int, ties: int = 1) -> None:
        self.rows = {f"r{i:05d}": T0 + dt.timedelta(seconds=i // ties) for i in range(n)}
        self.clock = T0 + dt.timedelta(days=1)

    def answer(self, params: dict) -> tuple[list[dict], int]:
        rows = [{"id": k, "updated_at": v} for k, v in self.rows.items()]
        if "filter[updated_at_from]" in params:
            start = dt.datetime.fromisoformat(
                params["filter[updated_at_from]"].replace("Z", "+00:00")
            )
            rows = [r for r in rows if r["updated_at"] >= start]
        descending = params.get("sort", "").startswith("-")
        rows.sort(key=lambda r: (r["updated_at"], r["id"]), reverse=descending)
        offset, limit = params["page[offset]"], params["page[limit]"]
        return rows[offset : offset + limit], len(rows)

    def touch(self, ids: list[str]) -> None:
        for row_id in ids:
            self.clock += dt.timedelta(milliseconds=1)
            self.rows[row_id] = self.clock


def drain(pager, resource: FakeList, between=None, max_requests: int = 10_000):
    emitted, requests = [], 0
    while not pager.finished:
        page, count = resource.answer(pager.params())
        requests += 1
        emitted.extend(pager.accept(page, count))
        if between:
            between(resource)
        assert requests < max_requests
    return emitted, requests


def test_offset_pager_stops_on_count_without_an_extra_request() -> None:
    resource = FakeList(300)
    emitted, requests = drain(OffsetPager(100), resource)
    assert len(emitted) == 300
    assert requests == 3


@pytest.mark.parametrize("ties", [1, 7, 150])
def test_seek_reads_everything_once_with_ties(ties: int) -> None:
    resource = FakeList(1000, ties=ties)
    emitted, _ = drain(AscendingSeekPager(100, None), resource)
    ids = [r["id"] for r in emitted]
    assert sorted(ids) == sorted(resource.rows)
    assert len(ids) == len(set(ids))


def _touch_some_read_and_unread(rng: random.Random, reads: list[str]):
    def touch(res: FakeList) -> None:
        read = sorted(set(reads))
        unread = sorted(set(res.rows) - set(reads))
        res.touch(rng.sample(read, min(3, len(read))) + rng.sample(unread, min(3, len(unread))))

    return touch


def test_seek_loses_nothing_while_records_are_updated_mid_sync() -> None:
    resource = FakeList(2000, ties=3)
    rng = random.Random(1)
    initial = set(resource.rows)
    reads: list[str] = []
    touch = _touch_some_read_and_unread(rng, reads)
    pager = AscendingSeekPager(100, None)
    while not pager.finished:
        page, count = resource.answer(pager.params())
        reads.extend(r["id"] for r in pager.accept(page, count))
        touch(resource)
    assert initial <= set(reads)


def test_plain_offset_paging_does_lose_records_under_the_same_updates() -> None:
    """The control: the update pattern above really defeats naive offset paging."""
    resource = FakeList(2000, ties=3)
    rng = random.Random(1)
    reads: list[str] = []
    touch = _touch_some_read_and_unread(rng, reads)
    offset = 0
    while True:
        page, _ = resource.answer(
            {"sort": "updated_at", "page[limit]": 100, "page[offset]": offset}
        )
        if not page:
            break
        reads.extend(r["id"] for r in page)
        offset += len(page)
        touch(resource)
    assert set(resource.rows) - set(reads)


def test_seek_resumes_from_a_bookmark_inclusively() -> None:
    resource = FakeList(100)
    bookmark = T0 + dt.timedelta(seconds=90)
    emitted, requests = drain(AscendingSeekPager(100, bookmark), resource)
    assert [r["id"] for r in emitted] == [f"r{i:05d}" for i in range(90, 100)]
    assert requests == 1


def test_seek_emits_in_non_decreasing_order() -> None:
    resource = FakeList(500, ties=4)
    emitted, _ = drain(
        AscendingSeekPager(50, None), resource, between=lambda r: r.touch(["r00003"])
    )
    stamps = [r["updated_at"] for r in emitted]
    assert stamps == sorted(stamps)


def test_seek_refuses_to_loop_on_a_server_that_ignores_offsets() -> None:
    pager = AscendingSeekPager(10, None)
    page = [{"id": f"x{i}", "updated_at": T0} for i in range(10)]
    pager.accept(page, 100)
    with pytest.raises(StalledPagingError):
        for _ in range(5):
            pager.accept(page, 100)


def test_newest_first_stops_at_the_bookmark() -> None:
    resource = FakeList(10_000)
    resource.touch([f"r{i:05d}" for i in range(0, 10_000, 200)])  # 50 changes
    bookmark = resource.clock - dt.timedelta(milliseconds=49)
    emitted, requests = drain(DescendingPager(100, bookmark), resource)
    assert len(emitted) == 50
    assert requests == 1


def _newest_first_with_churn(overlap: int) -> tuple[set[str], set[str]]:
    """A run that updates 5 and deletes 1 record per page, then the next incremental run.

    Returns the ids that should have been read (the initial ones not deleted) and the ids read.
    """
    resource = FakeList(3000)
    initial = set(resource.rows)
    rng = random.Random(2)
    deleted: set[str] = set()

    def churn(res: FakeList) -> None:
        res.touch(rng.sample(sorted(res.rows), 5))
        victim = rng.choice(sorted(res.rows))
        deleted.add(victim)
        del res.rows[victim]

    first, _ = drain(DescendingPager(100, None, overlap=overlap), resource, between=churn)
    bookmark = max(r["updated_at"] for r in first)
    second, _ = drain(DescendingPager(100, bookmark), resource)
    return initial - deleted, {r["id"] for r in first + second}


def test_newest_first_loses_nothing_when_records_are_updated_or_deleted_mid_sync() -> None:
    expected, read = _newest_first_with_churn(overlap=5)
    assert expected <= read


def test_newest_first_without_overlap_loses_records_to_deletes() -> None:
    """The control: deletions really do pull records past a pager that has no overlap."""
    expected, read = _newest_first_with_churn(overlap=0)
    assert expected - read
