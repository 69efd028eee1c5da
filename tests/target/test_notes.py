"""The buyer's note: to every backend, cleaned of what no warehouse field holds, never in a hold."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_backend_file as file_tests
import test_backend_shipstation as v1_tests
import test_backend_shipstation_v2 as v2_tests
from backend_calls import submit_one
from test_orders import _build, _order

from shipstation_sandbox import ShipStationSandbox
from shipstation_sandbox.v2 import ShipStationV2Sandbox
from target_fulfillment.backends import FileBackend, make_backend
from target_fulfillment.domain import FulfillmentOrder
from target_fulfillment.orders import Hold, InvalidOrderError
from target_fulfillment.validation import MAX_NOTE

NOTE = "Please leave it at the back door.\nThanks!"


def noted(make: object) -> FulfillmentOrder:
    order = make()  # type: ignore[operator]
    return dataclasses.replace(order, customer_note=NOTE)


@pytest.fixture
def v1() -> Iterator[ShipStationSandbox]:
    with ShipStationSandbox(v1_tests.API_KEY, v1_tests.API_SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def v2() -> Iterator[ShipStationV2Sandbox]:
    with ShipStationV2Sandbox(v2_tests.API_KEY) as sandbox:
        yield sandbox


def test_the_note_is_in_the_order_built_and_hash_compatible_without_one() -> None:
    with_note = _build(_order(customer_note="  " + NOTE + "  "))
    without = _build(_order())
    assert not isinstance(with_note, Hold) and not isinstance(without, Hold)
    assert with_note.customer_note == NOTE
    assert without.customer_note is None
    assert with_note.payload_hash() != without.payload_hash()
    # An order without a note hashes as before the field existed: no re-send after upgrading.
    assert without.payload_hash() == _legacy_hash(without)


def _legacy_hash(order: FulfillmentOrder) -> str:
    import hashlib

    from target_fulfillment.domain import _canonical

    fields = dataclasses.asdict(order)
    # The fields this order gained since its first version: the note and the customs data.
    for name in ("customer_note", "customs"):
        fields.pop(name)
    for item in fields["items"]:
        item.pop("weight")
        item.pop("customs")
    canonical = json.dumps(_canonical(fields), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_a_note_with_control_characters_or_too_long_is_cleaned_not_held() -> None:
    dirty = _build(_order(customer_note="ring\x00 twice\x07\r\nplease\x1b"))
    assert not isinstance(dirty, Hold)
    assert dirty.customer_note == "ring twice\r\nplease"
    long = _build(_order(customer_note="x" * (MAX_NOTE + 500)))
    assert not isinstance(long, Hold)
    assert long.customer_note is not None and len(long.customer_note) == MAX_NOTE
    assert long.customer_note.endswith("…")
    lone = _build(_order(customer_note="a\ud800b"))
    assert not isinstance(lone, Hold) and lone.customer_note == "a\ufffdb"
    blank = _build(_order(customer_note=" \x00 "))
    assert not isinstance(blank, Hold) and blank.customer_note is None


def test_a_note_that_is_not_text_holds_without_quoting_it() -> None:
    # InvalidOrderError is what the service holds the order with, its message the reason.
    with pytest.raises(InvalidOrderError) as raised:
        _build(_order(customer_note={"secret": "Ada's door code 1234"}))
    assert "customer_note is not text" in str(raised.value)
    assert "1234" not in str(raised.value)


def test_v1_sends_the_note_as_customer_notes(v1: ShipStationSandbox) -> None:
    backend = make_backend(
        {
            "backend": "shipstation",
            "shipstation_api_key": v1_tests.API_KEY,
            "shipstation_api_secret": v1_tests.API_SECRET,
            "shipstation_api_url": v1.url,
        }
    )
    submit_one(backend, noted(v1_tests.make_order))
    backend.close()
    (create,) = [r for r in v1.requests if r["path"].endswith("createorders")]
    (sent,) = create["body"]
    assert sent["customerNotes"] == NOTE


def test_v2_sends_the_note_as_notes_from_buyer(v2: ShipStationV2Sandbox) -> None:
    backend = make_backend(
        {
            "backend": "shipstation_v2",
            "shipstation_v2_api_key": v2_tests.API_KEY,
            "shipstation_v2_api_url": v2.url,
            "shipstation_v2_warehouse_id": v2_tests.WAREHOUSE,
            "default_package_weight": {"value": 1, "unit": "pound"},
        }
    )
    order = noted(v2_tests.make_order)
    submit_one(backend, order)
    backend.close()
    assert v2_tests.stored(v2)[order.key]["notes_from_buyer"] == NOTE


def test_the_file_document_carries_the_note(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "outbox", tmp_path / "inbox")
    order = noted(file_tests.make_order)
    submit_one(backend, order)
    with contextlib.closing(backend):
        document = file_tests.outbox_document(backend, order.key)
    assert document["customer_note"] == NOTE
    plain = file_tests.make_order("ABCD-1002")
    submit_one(backend, plain)
    assert file_tests.outbox_document(backend, plain.key)["customer_note"] is None
