"""The emulator answers in the shapes captured from the live API, or, on request, the reference's.

Live shapes (public test fixtures of other Big Cartel clients, see api-notes.md): ``meta.count``
a string, category ``position`` an integer, adjustments and transactions typed
``order_adjustments/<kind>`` and ``order_transactions/payments``, orders with a ``warnings``
relationship, events with an ``identifier``, product options with ``has_digital_file``.
"""

from __future__ import annotations

import typing as t

import pytest
from sandbox_helpers import Api

from bigcartel_sandbox import Sandbox, SandboxConfig
from bigcartel_sandbox.__main__ import main

CONFIG = {"shops": 1, "orders_per_shop": 40, "products_per_shop": 10, "seed": 3}


def _included(body: dict[str, t.Any], type_prefix: str) -> list[dict[str, t.Any]]:
    return [r for r in body["included"] if r["type"].split("/")[0] == type_prefix]


def _read(shapes: str) -> dict[str, dict[str, t.Any]]:
    with Sandbox(SandboxConfig(**CONFIG, shapes=shapes)) as sandbox:
        api = Api(sandbox, sandbox.shops[0])
        return {
            path: api.get(path, params={"page[limit]": 100}).json()
            for path in ("/orders", "/products", "/categories", "/artists")
        } | {"countries": api.get(f"{sandbox.url}/v1/countries").json()}


@pytest.fixture(scope="module")
def live() -> dict[str, dict[str, t.Any]]:
    return _read("live")


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, t.Any]]:
    return _read("docs")


def test_live_counts_are_strings(live: dict[str, dict[str, t.Any]]) -> None:
    assert live["/orders"]["meta"]["count"] == "40"
    assert live["/products"]["meta"]["count"] == "10"
    countries = live["countries"]
    assert countries["meta"]["count"] == str(len(countries["data"]))


def test_live_category_positions_are_integers_also_inside_products(
    live: dict[str, dict[str, t.Any]],
) -> None:
    positions = [c["attributes"]["position"] for c in live["/categories"]["data"]]
    assert positions and all(type(p) is int for p in positions)
    nested = _included(live["/products"], "categories")
    assert nested and all(type(c["attributes"]["position"]) is int for c in nested)
    # No capture shows an artist: the reference's string stays.
    assert all(type(a["attributes"]["position"]) is str for a in live["/artists"]["data"])


def test_live_adjustments_and_transactions_are_typed_by_kind(
    live: dict[str, dict[str, t.Any]],
) -> None:
    body = live["/orders"]
    adjustment_types = {r["type"] for r in _included(body, "order_adjustments")}
    assert adjustment_types == {
        "order_adjustments/shipping",
        "order_adjustments/tax",
        "order_adjustments/discount",
    }
    assert {r["type"] for r in _included(body, "order_transactions")} == {
        "order_transactions/payments"
    }
    included = {(r["type"], r["id"]) for r in body["included"]}
    for order in body["data"]:
        for name in ("adjustments", "transactions"):
            for linkage in order["relationships"][name]["data"]:
                assert "/" in linkage["type"] and (linkage["type"], linkage["id"]) in included


def test_live_only_fields(live: dict[str, dict[str, t.Any]]) -> None:
    orders = live["/orders"]
    assert all(o["relationships"]["warnings"] == {"data": []} for o in orders["data"])
    identifiers = {e["attributes"]["identifier"] for e in _included(orders, "order_events")}
    assert {"payment_status", "shipping_status"} <= identifiers
    options = _included(live["/products"], "product_options")
    assert options and all(o["attributes"]["has_digital_file"] is False for o in options)


def test_docs_shapes_where_the_reference_differs(docs: dict[str, dict[str, t.Any]]) -> None:
    assert docs["/orders"]["meta"]["count"] == 40
    assert docs["countries"]["meta"]["count"] == len(docs["countries"]["data"])
    assert all(type(c["attributes"]["position"]) is str for c in docs["/categories"]["data"])
    nested = _included(docs["/products"], "categories")
    assert nested and all(type(c["attributes"]["position"]) is str for c in nested)
    orders = docs["/orders"]
    assert {r["type"] for r in _included(orders, "order_adjustments")} == {"order_adjustments"}
    assert {r["type"] for r in _included(orders, "order_transactions")} == {"order_transactions"}
    assert all("warnings" not in o["relationships"] for o in orders["data"])
    assert all("identifier" not in e["attributes"] for e in _included(orders, "order_events"))
    options = _included(docs["/products"], "product_options")
    assert options and all("has_digital_file" not in o["attributes"] for o in options)


def test_both_shapes_hold_the_same_records(
    live: dict[str, dict[str, t.Any]], docs: dict[str, dict[str, t.Any]]
) -> None:
    for path in ("/orders", "/products", "/categories"):
        assert [r["id"] for r in live[path]["data"]] == [r["id"] for r in docs[path]["data"]]


def test_unknown_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shapes must be one of live, docs"):
        SandboxConfig(shapes="guess")
    with pytest.raises(SystemExit):
        main(["--shapes", "guess"])
