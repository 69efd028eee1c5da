"""The tap against the shapes the live API really sends, and against the reference's.

The emulator answers as responses captured from the live API do (``shapes="live"``: integer
category positions, namespaced adjustment and transaction types, a string ``meta.count``, the
fields the reference lacks), or as the reference describes (``shapes="docs"``). Either way every
record must pass the SDK's own record validation (what a ``validate_records`` loader runs), and
no field the API sends may be missing from the catalog.
"""

from __future__ import annotations

import collections
import logging
import typing as t

import pytest
import requests
from singer_sdk.helpers import _typing as sdk_typing
from singer_sdk.sinks.core import JSONSchemaValidator
from tap_runner import TapRun, fast_config, run_tap

from bigcartel_core import jsonapi
from bigcartel_sandbox import Sandbox, SandboxConfig
from tap_bigcartel.streams import STREAM_TYPES

SCHEMAS = {stream.name: stream.schema for stream in STREAM_TYPES}
UNMAPPED = "not found in catalog schema"


def _undeclared(value: t.Any, schema: dict[str, t.Any], path: str = "") -> set[str]:
    """Paths of the properties of ``value`` (nested objects and arrays of objects included)
    that ``schema`` does not declare."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _undeclared(item, schema.get("items") or {}, f"{path}[]")
    elif isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name, item in value.items():
            where = f"{path}.{name}" if path else name
            if name not in properties:
                found.add(where)
            else:
                found |= _undeclared(item, properties[name], where)
    return found


def _run(shapes: str, caplog: pytest.LogCaptureFixture) -> tuple[TapRun, Sandbox]:
    config = SandboxConfig(shops=2, orders_per_shop=60, products_per_shop=15, seed=5, shapes=shapes)
    # The SDK logs each set of dropped properties once per process (an lru_cache): forget what
    # earlier tests logged, so that this run logs its own.
    sdk_typing._warn_unmapped_properties.cache_clear()
    with Sandbox(config) as sandbox, caplog.at_level(logging.WARNING):
        run = run_tap(fast_config(sandbox))
    assert run.error is None, run.error
    return run, sandbox


@pytest.fixture(scope="module", params=["live", "docs"])
def shapes(request: pytest.FixtureRequest) -> str:
    return t.cast("str", request.param)


def test_every_record_passes_the_sdks_validation_and_fits_the_catalog(
    shapes: str, caplog: pytest.LogCaptureFixture
) -> None:
    run, _ = _run(shapes, caplog)
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    assert set(run.records) == set(SCHEMAS)
    for stream, records in run.records.items():
        assert schemas[stream] == SCHEMAS[stream]
        validator = JSONSchemaValidator(schemas[stream], validate_formats=True)
        for record in records:
            validator.validate(record)  # raises InvalidRecord, as the sink would
            assert not _undeclared(record, schemas[stream]), (stream, record["id"])
    dropped = [r.getMessage() for r in caplog.records if UNMAPPED in r.getMessage()]
    assert dropped == []


def test_what_the_api_sends_is_all_declared(shapes: str) -> None:
    """Straight from the emulator's documents, before the SDK drops what it does not know."""
    config = SandboxConfig(shops=1, orders_per_shop=60, products_per_shop=15, seed=5, shapes=shapes)
    with Sandbox(config) as sandbox:
        shop = sandbox.shops[0]
        session = requests.Session()
        session.headers.update(
            {
                "Accept": jsonapi.JSONAPI,
                "User-Agent": "tests (tests@example.com)",
                "Authorization": f"Bearer {shop.access_token}",
            }
        )
        for stream_type in STREAM_TYPES:
            path = stream_type.path.format(account_id=shop.account_id)
            document = session.get(f"{sandbox.url}/v1{path}", timeout=10).json()
            flat = list(jsonapi.records(document))
            assert flat, stream_type.name
            for record in flat:
                record.pop("id")
                assert not _undeclared(record, stream_type.schema), stream_type.name


def test_live_records_keep_what_the_live_api_adds(caplog: pytest.LogCaptureFixture) -> None:
    run, _ = _run("live", caplog)
    categories = run.records["categories"]
    assert categories and all(type(c["position"]) is int for c in categories)
    nested = [c for p in run.records["products"] for c in p["categories"]]
    assert nested and all(type(c["position"]) is int for c in nested)
    orders = run.records["orders"]
    adjustment_kinds = collections.Counter(a["kind"] for o in orders for a in o["adjustments"])
    assert set(adjustment_kinds) == {"shipping", "tax", "discount"}
    assert {tr["kind"] for o in orders for tr in o["transactions"]} == {"payments"}
    assert all(o["warnings"] == [] for o in orders)
    assert {"payment_status", "shipping_status"} <= {
        e["identifier"] for o in orders for e in o["events"]
    }
    options = [option for p in run.records["products"] for option in p["options"]]
    assert options and all(option["has_digital_file"] is False for option in options)


def test_shipping_tax_and_discount_adjustments_add_up_to_the_order_totals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What `kind` is for: the warehouse can tell the adjustments apart."""
    run, _ = _run("live", caplog)
    for order in run.records["orders"]:
        by_kind: dict[str, float] = collections.defaultdict(float)
        for adjustment in order["adjustments"]:
            by_kind[adjustment["kind"]] += adjustment["amount"]
        assert round(by_kind["shipping"], 2) == order["shipping_total"]
        assert round(by_kind["tax"], 2) == order["tax_total"]
        assert round(-by_kind["discount"], 2) == order["discount_total"]


def test_docs_shaped_records_read_into_the_same_types(caplog: pytest.LogCaptureFixture) -> None:
    run, _ = _run("docs", caplog)
    assert all(type(c["position"]) is int for c in run.records["categories"])
    assert all(type(a["position"]) is int for a in run.records["artists"])
    orders = run.records["orders"]
    kinds = {x.get("kind", "absent") for o in orders for x in o["adjustments"] + o["transactions"]}
    assert kinds == {None}, "a type without a slash gives a null kind, present on every item"


@pytest.mark.parametrize("form", ["live", "docs"])
def test_a_list_that_fills_its_pages_costs_no_extra_request(form: str) -> None:
    """``meta.count`` ends the paging, whether the API sends it as a string or a number."""
    config = SandboxConfig(shops=1, orders_per_shop=25, products_per_shop=49, seed=5, shapes=form)
    totals = {"categories": 8, "artists": 4, "orders": 25, "products": 49}
    expected = {
        # 8 categories and 4 artists per shop, 4 a page: 2 pages and 1.
        4: {"categories": 2, "artists": 1},
        # 25 orders in one page; 49 products in pages of 25 that overlap by 1 (0-24, 24-48).
        25: {"orders": 1, "products": 2},
    }
    with Sandbox(config) as sandbox:
        for page_size, streams in expected.items():
            sandbox.clear_requests()
            run = run_tap(fast_config(sandbox, page_size=page_size), streams=streams)
            assert run.error is None, run.error
            gets = collections.Counter(
                entry["path"].rsplit("/", 1)[-1]
                for entry in sandbox.requests
                if entry["method"] == "GET" and entry["path"].rsplit("/", 1)[-1] in streams
            )
            assert dict(gets) == streams, (page_size, dict(gets))
            assert {s: len(run.records[s]) for s in streams} == {s: totals[s] for s in streams}
