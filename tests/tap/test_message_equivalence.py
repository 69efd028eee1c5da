"""The tap's fast paths write what singer-sdk's own would, and the page fetched ahead changes
nothing but the timing.

The reference run is the tap with the SDK's defaults put back: its simplejson writer, its
``ROOT_ONLY`` type conformance, the standard library's JSON decoder, and no page fetched ahead.
Messages are compared as parsed JSON, numbers by their text, so ``12.50`` and ``12.5`` differ.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import io
import json
import logging
import re
import threading
import typing as t
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl

import pytest
import requests
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage
from tap_runner import fast_config

from bigcartel_sandbox import Sandbox
from tap_bigcartel import client, schemas
from tap_bigcartel.client import BigCartelStream
from tap_bigcartel.coercion import root_conformer
from tap_bigcartel.exceptions import ShopsFailedError
from tap_bigcartel.prefetch import OnePageAhead
from tap_bigcartel.tap import TapBigCartel
from tap_bigcartel.writer import StateFlushingWriter

SDK_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
#: How long a test waits for the emulator to see a request it must see; only a failing test
#: waits that long.
ARRIVAL_TIMEOUT = 20.0


def _number(text: str) -> tuple[str, str]:
    return ("number", text)


def parse(line: bytes) -> dict[str, t.Any]:
    """A message as loaders read it, with numbers kept as their text."""
    message: dict[str, t.Any] = json.loads(line, parse_float=_number, parse_int=_number)
    return message


@contextlib.contextmanager
def sdk_defaults() -> Iterator[None]:
    """The tap as singer-sdk's defaults would run it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TapBigCartel, "message_writer_class", SingerWriter)
        patch.setattr(BigCartelStream, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.ROOT_ONLY)
        patch.setattr(BigCartelStream, "post_process", lambda self, row, context=None: row)
        patch.setattr(
            client, "_decode", lambda content: json.loads(content, parse_float=decimal.Decimal)
        )
        patch.setattr(BigCartelStream, "prefetch", False)
        yield


class Sync(t.NamedTuple):
    messages: list[dict[str, t.Any]]
    error: BaseException | None


def sync(
    config: dict[str, t.Any],
    streams: set[str] | None = None,
    on_record: Callable[[int], None] | None = None,
) -> Sync:
    """A sync in-process with a byte stdout, as the CLI's; ``on_record(i)`` runs as the i-th
    RECORD is written."""
    tap = TapBigCartel(config=config, validate_config=True)
    if streams is not None:
        for stream in tap.streams.values():
            stream.selected = stream.name in streams
    if on_record is not None:
        write, written = tap.write_message, [0]

        def hooked(message: t.Any) -> None:
            if isinstance(message, RecordMessage):
                on_record(written[0])
                written[0] += 1
            write(message)

        tap.write_message = hooked  # type: ignore[method-assign]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
            tap.report_shops()
        except Exception as exc:  # the test compares it
            error = exc
    out.flush()
    lines = t.cast("io.BytesIO", out.buffer).getvalue().splitlines()
    return Sync([parse(line) for line in lines], error)


def comparable(messages: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The messages less ``time_extracted`` (the clock's), checked to be in the SDK's format."""
    for message in messages:
        if "time_extracted" in message:
            assert SDK_TIME.match(message.pop("time_extracted")), message
    return messages


class OrdersRequests:
    """Counts the requests for orders as the emulator receives them, and fails chosen ones,
    while in a ``with`` block."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.count = 0
        self.failing: dict[tuple[str, frozenset[tuple[str, str]]], int] = {}
        self._arrived = threading.Condition()
        self._sandbox = sandbox
        self._app = sandbox.app.wsgi_app

    def __enter__(self) -> OrdersRequests:
        self._sandbox.app.wsgi_app = self  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._sandbox.app.wsgi_app = self._app  # type: ignore[method-assign]

    def fail(self, path: str, query: dict[str, str], times: int) -> None:
        self.failing[(path, frozenset(query.items()))] = times

    def wait_for(self, count: int) -> int:
        with self._arrived:
            self._arrived.wait_for(lambda: self.count >= count, timeout=ARRIVAL_TIMEOUT)
            return self.count

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        path = environ["PATH_INFO"]
        if path.endswith("/orders"):
            with self._arrived:
                self.count += 1
                self._arrived.notify_all()
            key = (path, frozenset(parse_qsl(environ.get("QUERY_STRING", ""))))
            if self.failing.get(key, 0) > 0:
                self.failing[key] -= 1
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"overloaded"]
        return self._app(environ, start_response)


def orders_requests_while_writing(sandbox: Sandbox, config: dict[str, t.Any]) -> list[int]:
    """For each order record of a reference sync, how many orders requests had been sent."""
    seen: list[int] = []
    with sdk_defaults(), OrdersRequests(sandbox) as counter:
        sync(config, {"orders"}, on_record=lambda _: seen.append(counter.count))
    return seen


# Whole syncs


def test_a_full_sync_writes_what_the_sdk_defaults_write(sandbox: Sandbox) -> None:
    config = fast_config(sandbox)
    with sdk_defaults():
        reference = sync(config)
    sandbox.clear_requests()
    fast = sync(config)
    assert reference.error is None and fast.error is None
    assert {m["type"] for m in reference.messages} == {"SCHEMA", "RECORD", "STATE"}
    assert sum(m["type"] == "RECORD" for m in reference.messages) > 300
    assert comparable(fast.messages) == comparable(reference.messages)


def test_orders_at_100_a_page_match_record_by_record(sandbox: Sandbox) -> None:
    config = fast_config(sandbox, page_size=100)
    with sdk_defaults():
        reference = sync(config, {"orders"})
    fast = sync(config, {"orders"})
    expected, got = comparable(reference.messages), comparable(fast.messages)
    assert len(got) == len(expected)
    for index, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have == want, f"message {index}"


def test_text_outside_ascii_reads_and_writes_as_before(sandbox: Sandbox) -> None:
    shop = sandbox.shops[0].account_id
    (order,) = sandbox.store.update_orders(shop, 1)
    sandbox.store.update_order(shop, order, customer_note="Zoë 漢字 \u2028 \U0001f600")
    config = fast_config(sandbox)
    with sdk_defaults():
        reference = sync(config, {"orders"})
    fast = sync(config, {"orders"})
    records = {m["record"]["id"]: m["record"] for m in fast.messages if m["type"] == "RECORD"}
    assert records[order]["customer_note"] == "Zoë 漢字 \u2028 \U0001f600"
    assert comparable(fast.messages) == comparable(reference.messages)


@pytest.mark.parametrize(
    "page",
    [
        b'{"data": [], "meta": {"count": "0"}, "n": [1.50, 1e5, -0.0, 12345678901234567890123]}',
        b'{"data": [{"id": "1", "attributes": {"note": "half \\ud800"}}], "a": 1, "a": 2}',
        b'{"data": [], "x": NaN}',
    ],
)
def test_pages_decode_as_the_standard_library_decodes_them(page: bytes) -> None:
    """Lone surrogates and NaN, which msgspec refuses, included."""
    expected = json.loads(page, parse_float=decimal.Decimal)
    got = client._decode(page)
    assert repr(got) == repr(expected)


# The conformer against the SDK's


CONFORM_SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["string"]},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": ["string", "null"], "format": "date"},
        "money": {"type": ["number", "null"]},
        "ratio": {"type": ["number", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "strict_flag": {"type": "boolean"},
        "mixed": {"type": ["boolean", "string"]},
        "obj": {"type": ["object", "null"], "properties": {"a": {"type": ["string"]}}},
        "loose_obj": {"type": ["object", "null"]},
        "any_obj": {"anyOf": [{"type": "object", "properties": {}}, {"type": "null"}]},
        "items": {"type": ["array", "null"], "items": {"type": "object"}},
        "tuple": {"type": ["array"], "items": [{"type": "string"}], "prefixItems": []},
        "not_a_list": {"type": ["string", "null"]},
    },
}
UTC = dt.timezone.utc
D = decimal.Decimal
CONFORM_RECORDS: list[dict[str, t.Any]] = [
    {
        "id": "1",
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "money": decimal.Decimal("1.50"),
    },
    {
        "id": "2",
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
        "day": dt.date(2026, 5, 1),
    },
    {"id": "3", "when": dt.datetime(2026, 1, 2, 3, 4, 5), "extra": 1, "other": {"x": 1}},
    {
        "id": "4",
        "money": decimal.Decimal("NaN"),
        "ratio": float("inf"),
        "flag": 1,
        "strict_flag": 0,
    },
    {"id": "5", "money": decimal.Decimal("1E+400"), "ratio": 0.25, "flag": None, "mixed": "x"},
    {"id": "6", "flag": "no", "strict_flag": [], "mixed": {"a": 1}, "obj": {"a": "b", "z": 1}},
    {"id": "7", "loose_obj": {"k": dt.datetime(2026, 1, 1, tzinfo=UTC)}, "any_obj": {"q": 1}},
    {"id": "8", "items": [{"a": decimal.Decimal("2")}], "tuple": ["a"], "not_a_list": ["b"]},
    {"id": "9", "flag": True, "strict_flag": False, "mixed": True, "extra": 2, "other": 3},
    {"id": "10", "day": dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))},
]


@pytest.mark.parametrize("record", CONFORM_RECORDS, ids=lambda r: r["id"])
def test_the_conformer_gives_what_the_sdks_root_only_conformance_gives(
    record: dict[str, t.Any],
) -> None:
    logger = logging.getLogger("test-conformance")
    expected = conform_record_data_types(
        "s", dict(record), CONFORM_SCHEMA, TypeConformanceLevel.ROOT_ONLY, logger
    )
    warned: list[tuple[str, ...]] = []
    got = root_conformer(CONFORM_SCHEMA, warned.append)(dict(record))
    assert got == expected
    assert [type(value) for value in got.values()] == [type(v) for v in expected.values()]
    unmapped = tuple(name for name in record if name not in CONFORM_SCHEMA["properties"])
    assert warned == ([unmapped] if unmapped else [])


def test_the_conformer_warns_once_per_set_of_undeclared_names() -> None:
    warned: list[tuple[str, ...]] = []
    conform = root_conformer(CONFORM_SCHEMA, warned.append)
    for extra in ({"a": 1}, {"a": 2}, {"b": 1}, {"a": 3, "b": 4}):
        assert conform({"id": "1", **extra}) == {"id": "1"}
    assert warned == [("a",), ("b",), ("a", "b")]


def test_the_conformer_keeps_extra_properties_where_the_schema_allows_them() -> None:
    schema = {**CONFORM_SCHEMA, "additionalProperties": True}
    record = {"id": "1", "extra": dt.datetime(2026, 1, 1, tzinfo=UTC)}
    expected = conform_record_data_types(
        "s", dict(record), schema, TypeConformanceLevel.ROOT_ONLY, logging.getLogger("t")
    )
    assert root_conformer(schema, pytest.fail)(dict(record)) == expected == record


@pytest.mark.parametrize("name", ["orders", "products", "accounts"])
def test_the_conformer_matches_the_sdk_on_the_streams_schemas(name: str) -> None:
    schema = getattr(schemas, name.upper())
    record = {prop: None for prop in schema["properties"]} | {
        "id": "1",
        "updated_at": dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    }
    expected = conform_record_data_types(
        name, dict(record), schema, TypeConformanceLevel.ROOT_ONLY, logging.getLogger("t")
    )
    assert root_conformer(schema, pytest.fail)(dict(record)) == expected


# The writer against the SDK's


def test_the_writer_writes_the_values_the_sdk_writer_writes() -> None:
    extracted = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    messages = [
        SchemaMessage("s", {"properties": {"id": {"type": ["string"]}}}, ["id"], ["updated_at"]),
        RecordMessage(
            "s",
            {
                "id": 'é ü 漢 \u2028 \x00 "q" \\',
                "lone": "\ud800 half",
                "money": decimal.Decimal("12.50"),
                "big": decimal.Decimal("123456789012345678901234567890.000001"),
                "exp": decimal.Decimal("1E+2"),
                "nested": [{"n": decimal.Decimal("-0.00")}, None, True, 7],
            },
            time_extracted=extracted,
        ),
        RecordMessage("s", {"id": "plain", "n": 1}, version=3, time_extracted=extracted),
        StateMessage({"bookmarks": {"s": {"replication_key_value": "2026-01-01T00:00:00+00:00"}}}),
    ]
    for message in messages:
        ours = bytes(StateFlushingWriter().format_message(message))
        sdk = SingerWriter().format_message(message).encode()
        assert ours.endswith(b"\n")
        assert parse(ours) == parse(sdk), message


def test_state_messages_flush_and_records_wait_for_them() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8")  # type: ignore[arg-type]
    writer = StateFlushingWriter()
    with contextlib.redirect_stdout(out):
        writer.write_message(RecordMessage("s", {"id": "1"}))
        assert raw.getvalue() == b""
        writer.write_message(StateMessage({"bookmarks": {}}))
    assert [parse(line)["type"] for line in raw.getvalue().splitlines()] == ["RECORD", "STATE"]


# The page fetched ahead


def test_the_next_page_is_fetched_while_this_one_is_written_and_no_further(
    sandbox: Sandbox,
) -> None:
    """While the records of page k are written, the emulator has been asked for page k+1 (it
    would never be, were it not fetched ahead: the test holds the writer until it is) and for
    nothing beyond it."""
    config = fast_config(sandbox)
    config["accounts"] = config["accounts"][:1]  # pages are fetched ahead within a shop
    before = orders_requests_while_writing(sandbox, config)
    last_page = max(before)
    seen: list[int] = []
    with sdk_defaults():
        reference = sync(config, {"orders"})
    with OrdersRequests(sandbox) as orders:

        def hold_until_ahead(index: int) -> None:
            page = before[index]
            if page < last_page and (index == 0 or before[index - 1] != page):
                assert orders.wait_for(page + 1) == page + 1, f"record {index}"
            seen.append(orders.count)

        fast = sync(config, {"orders"}, on_record=hold_until_ahead)
    assert fast.error is None
    assert comparable(fast.messages) == comparable(reference.messages)
    assert all(now - then in (0, 1) for now, then in zip(seen, before, strict=True))
    assert sum(now > then for now, then in zip(seen, before, strict=True)) >= 4
    assert orders.count == last_page  # not one request more than without the page ahead


def _page_queries(sandbox: Sandbox, config: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    sandbox.clear_requests()
    with sdk_defaults():
        sync(config, {"orders"})
    return [r for r in sandbox.requests if r["path"].endswith("/orders")]


def test_a_page_that_fails_once_is_retried_and_nothing_changes(sandbox: Sandbox) -> None:
    config = fast_config(sandbox, max_retries=2)
    pages = _page_queries(sandbox, config)
    with sdk_defaults():
        reference = sync(config, {"orders"})
    third = pages[2]
    with OrdersRequests(sandbox) as faults:
        faults.fail(third["path"], third["query"], times=2)
        fast = sync(config, {"orders"})
    assert faults.failing == {(third["path"], frozenset(third["query"].items())): 0}
    assert fast.error is None
    assert comparable(fast.messages) == comparable(reference.messages)


def test_a_page_that_keeps_failing_ends_its_shop_after_what_was_written(
    sandbox: Sandbox,
) -> None:
    """Nothing of the failing page or later is written for that shop; its bookmark stays on
    the last record written; the other shop is read whole; as without the page fetched ahead."""
    config = fast_config(sandbox, max_retries=1)
    pages = _page_queries(sandbox, config)
    shop = sandbox.shops[0].account_id
    failing = [p for p in pages if f"/accounts/{shop}/" in p["path"]][3]

    def faulted_sync() -> Sync:
        with OrdersRequests(sandbox) as faults:
            faults.fail(failing["path"], failing["query"], times=100)
            return sync(config, {"orders"})

    with sdk_defaults():
        complete = sync(config, {"orders"})
        reference = faulted_sync()
    fast = faulted_sync()
    assert isinstance(fast.error, ShopsFailedError) and isinstance(
        reference.error, ShopsFailedError
    )
    assert comparable(fast.messages) == comparable(reference.messages)

    def shop_records(run: Sync) -> list[dict[str, t.Any]]:
        return [
            m["record"]
            for m in run.messages
            if m["type"] == "RECORD" and m["record"]["account_id"] == shop
        ]

    written, everything = shop_records(fast), shop_records(complete)
    assert 0 < len(written) < len(everything)
    assert written == everything[: len(written)]
    bookmark = fast.messages[-1]["value"]["bookmarks"]["orders"]["partitions"]
    mine = next(p for p in bookmark if p["context"] == {"account_id": shop})
    assert mine["replication_key_value"] == written[-1]["updated_at"]


# The prefetcher alone


def test_one_page_ahead_at_most() -> None:
    sent: list[str] = []

    def send(request: requests.PreparedRequest) -> t.Any:
        sent.append(str(request.url))
        return request.url

    ahead = OnePageAhead(send)
    first, second = _request("https://x/1"), _request("https://x/2")
    ahead.start(first)
    with pytest.raises(RuntimeError, match="one page ahead at most"):
        ahead.start(second)
    taken = ahead.take(first)
    assert taken is not None and taken.result() == "https://x/1"
    assert not ahead.pending
    ahead.start(second)
    assert ahead.take(first) is None  # another request: the one fetched ahead is dropped
    assert not ahead.pending
    ahead.close()
    assert sent == ["https://x/1", "https://x/2"]


def _request(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()
