"""The file backend: whole files only, updates until collection, confirmations in, crash-safe."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from backend_calls import lookup_one, submit_one

from target_fulfillment.backends import (
    BackendError,
    FileBackend,
    OrderLockedError,
    make_backend,
)
from target_fulfillment.backends import file as file_backend
from target_fulfillment.backends.base import Submission
from target_fulfillment.domain import (
    Address,
    FulfillmentOrder,
    LineItem,
    RemoteOrder,
    Shipment,
    ShippedItem,
)

UTC = dt.timezone.utc
ADDRESS = Address(
    name="Ada Buyer",
    company=None,
    street1="1 Main St",
    street2="Apt 2",
    city="Portland",
    state="OR",
    postal_code="97201",
    country="US",
    phone="555-0100",
)


def make_order(order_id: str = "ABCD-1001", **overrides: Any) -> FulfillmentOrder:
    fields: dict[str, Any] = {
        "key": f"bigcartel-123-{order_id}",
        "account_id": "123",
        "order_id": order_id,
        "order_date": dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC),
        "payment_date": dt.datetime(2024, 5, 1, 17, 16, tzinfo=UTC),
        "customer_email": "ada@example.com",
        "ship_to": ADDRESS,
        "bill_to": ADDRESS,
        "items": (LineItem("5501", "TEE-M", "Tee", 2, Decimal("12.50"), "Medium"),),
        "amount_paid": Decimal("30.00"),
        "shipping_amount": Decimal("5.00"),
        "currency": "USD",
        "shipping_code": "DOMESTIC_DEFAULT",
        "carrier_code": "usps",
        "service_code": "usps_priority_mail",
    }
    return FulfillmentOrder(**{**fields, **overrides})


def moved(order: FulfillmentOrder, street: str = "9 Elm St") -> FulfillmentOrder:
    return dataclasses.replace(order, ship_to=dataclasses.replace(ADDRESS, street1=street))


@pytest.fixture
def backend(tmp_path: Path) -> FileBackend:
    return FileBackend(tmp_path / "outbox", tmp_path / "inbox")


def collect(backend: FileBackend, key: str) -> dict[str, Any]:
    """Play the warehouse: read an order file and delete it."""
    path = backend.outbox / f"{key}.json"
    document = json.loads(path.read_bytes())
    path.unlink()
    return document


def drop_confirmation(backend: FileBackend, name: str, content: Any) -> Path:
    """Play the warehouse: write a confirmation (bytes as they are, anything else as JSON)."""
    path = backend.inbox / name
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return path


def confirmation(key: str = "bigcartel-123-ABCD-1001", **fields: Any) -> dict[str, Any]:
    return {"format": "bigcartel-fulfillment/shipment@1", "order_key": key, **fields}


def sent_document(backend: FileBackend, key: str) -> dict[str, Any]:
    return json.loads((backend.outbox / ".sent" / f"{key}.json").read_bytes())


def outbox_document(backend: FileBackend, key: str) -> dict[str, Any]:
    return json.loads((backend.outbox / f"{key}.json").read_bytes())


# Submitting


def test_submit_writes_the_documented_order_file(backend: FileBackend) -> None:
    order = make_order()

    assert submit_one(backend, order) == order.key

    address = {
        "name": "Ada Buyer",
        "company": None,
        "street1": "1 Main St",
        "street2": "Apt 2",
        "city": "Portland",
        "state": "OR",
        "postal_code": "97201",
        "country": "US",
        "phone": "555-0100",
        "email": None,
    }
    expected = {
        "format": "bigcartel-fulfillment/order@1",
        "key": "bigcartel-123-ABCD-1001",
        "account_id": "123",
        "order_id": "ABCD-1001",
        "order_date": "2024-05-01T17:15:00+00:00",
        "payment_date": "2024-05-01T17:16:00+00:00",
        "customer_email": "ada@example.com",
        "customer_note": None,
        "currency": "USD",
        "amount_paid": "30.00",
        "shipping_amount": "5.00",
        "ship_to": address,
        "bill_to": address,
        "items": [
            {
                "line_item_key": "5501",
                "sku": "TEE-M",
                "name": "Tee",
                "quantity": 2,
                "unit_price": "12.50",
                "option_name": "Medium",
                "weight": None,
                "customs": None,
            }
        ],
        "package_weight": None,
        "customs": None,
        "shipping": {
            "code": "DOMESTIC_DEFAULT",
            "carrier_code": "usps",
            "service_code": "usps_priority_mail",
        },
    }
    assert outbox_document(backend, order.key) == expected
    assert sent_document(backend, order.key) == expected
    assert sorted(os.listdir(backend.outbox / ".sent")) == [f"{order.key}.json"]


def test_decimals_are_written_exactly(backend: FileBackend) -> None:
    order = make_order(
        items=(LineItem("1", "A", "A", 1, Decimal("0.1"), None),),
        amount_paid=Decimal("12345678901234567.89"),
        shipping_amount=Decimal("1E+2"),
    )
    submit_one(backend, order)

    document = outbox_document(backend, order.key)
    assert document["amount_paid"] == "12345678901234567.89"
    assert document["shipping_amount"] == "100"
    assert document["items"][0]["unit_price"] == "0.1"


def test_naive_times_are_written_as_utc(backend: FileBackend) -> None:
    order = make_order(order_date=dt.datetime(2024, 5, 1, 10, 0), payment_date=None)
    submit_one(backend, order)

    document = outbox_document(backend, order.key)
    assert document["order_date"] == "2024-05-01T10:00:00+00:00"
    assert document["payment_date"] is None


def test_order_files_appear_only_whole(backend: FileBackend) -> None:
    """A reader listing the outbox while orders are written never sees a partial order file."""
    items = tuple(
        LineItem(str(n), f"SKU-{n}", "x" * 200, 1, Decimal("1.00"), None) for n in range(200)
    )
    orders = [make_order(f"ORDER-{n}", items=items) for n in range(60)]
    done = threading.Event()
    problems: list[str] = []
    whole: set[str] = set()

    def watch() -> None:
        while not done.is_set():
            for name in os.listdir(backend.outbox):
                if name.startswith("."):
                    continue
                try:
                    document = json.loads((backend.outbox / name).read_bytes())
                except FileNotFoundError:
                    continue
                except ValueError as error:
                    problems.append(f"{name}: {error}")
                    continue
                if len(document["items"]) != len(items) or f"{document['key']}.json" != name:
                    problems.append(f"{name}: incomplete")
                whole.add(name)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for order in orders:
            submit_one(backend, order)
            submit_one(backend, moved(order))
    finally:
        done.set()
        watcher.join()

    assert problems == []
    assert whole  # the watcher really saw files
    names = set(os.listdir(backend.outbox))
    assert names == {".sent"} | {f"{order.key}.json" for order in orders}


def test_temporary_names_are_hidden(backend: FileBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever is renamed into the outbox comes from a name the warehouse ignores."""
    renames: list[tuple[Path, Path]] = []
    replace = os.replace

    def record(source: Any, target: Any) -> None:
        renames.append((Path(source), Path(target)))
        replace(source, target)

    monkeypatch.setattr(os, "replace", record)
    submit_one(backend, make_order())
    submit_one(backend, moved(make_order()))
    collect(backend, make_order().key)
    backend.cancel(make_order().key)  # writes a cancellation request

    into_outbox = [source for source, target in renames if target.parent == backend.outbox]
    assert len(into_outbox) == 3
    for source in into_outbox:
        assert source.name.startswith(".") or source.parent.name.startswith(".")


def test_update_before_collection_rewrites_the_file(backend: FileBackend) -> None:
    order = make_order()
    submit_one(backend, order)

    assert submit_one(backend, moved(order)) == order.key

    assert outbox_document(backend, order.key)["ship_to"]["street1"] == "9 Elm St"
    assert sent_document(backend, order.key)["ship_to"]["street1"] == "9 Elm St"
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order.key, "open")


def test_update_after_collection_is_locked(backend: FileBackend) -> None:
    order = make_order()
    submit_one(backend, order)
    collect(backend, order.key)

    with pytest.raises(OrderLockedError, match="collected by the warehouse"):
        submit_one(backend, moved(order))

    assert not (backend.outbox / f"{order.key}.json").exists()
    assert sent_document(backend, order.key)["ship_to"]["street1"] == "1 Main St"
    assert sorted(os.listdir(backend.outbox / ".sent")) == [f"{order.key}.json"]


def test_an_order_collected_while_it_is_updated_is_not_put_back(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warehouse takes the file between the update's check and its rename: no second copy."""
    order = make_order()
    submit_one(backend, order)
    write_all = file_backend._write_all

    def write_then_collect(files: list[tuple[Path, bytes]], folder: Path) -> None:
        write_all(files, folder)
        if any(path.name.endswith(".next.json") for path, _ in files):
            collect(backend, order.key)

    monkeypatch.setattr(file_backend, "_write_all", write_then_collect)

    with pytest.raises(OrderLockedError, match="collected by the warehouse while it was being"):
        submit_one(backend, moved(order))

    assert sorted(os.listdir(backend.outbox)) == [".sent"]
    assert sorted(os.listdir(backend.outbox / ".sent")) == [f"{order.key}.json"]
    assert sent_document(backend, order.key)["ship_to"]["street1"] == "1 Main St"


def test_a_key_that_cannot_be_a_file_name_is_refused(backend: FileBackend) -> None:
    with pytest.raises(BackendError, match="file name"):
        submit_one(backend, make_order(key="bigcartel-123-../../etc"))
    with pytest.raises(BackendError, match="file name"):
        lookup_one(backend, ".hidden")


# Looking up


def test_lookup_follows_the_order(backend: FileBackend) -> None:
    order = make_order()
    assert lookup_one(backend, order.key) is None

    submit_one(backend, order)
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order.key, "open")

    collect(backend, order.key)
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order.key, "open")

    drop_confirmation(backend, "ship-1.json", confirmation(order.key))
    (shipment,) = backend.shipments(None)
    backend.acknowledge(shipment)
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order.key, "shipped")
    assert (
        lookup_one(backend, "bigcartel-123-ABCD-100") is None
    )  # a key that is a prefix of another


# Confirmations


def test_confirmations_are_parsed_and_acknowledged(backend: FileBackend) -> None:
    drop_confirmation(
        backend,
        "b-full.json",
        confirmation(
            carrier="USPS",
            tracking_number="9400100000000000000000",
            tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000000",
            shipped_at="2024-05-02T08:00:00-07:00",
            items=[
                {"line_item_key": "5501", "sku": "TEE-M", "quantity": 2},
                {"line_item_key": 5502, "quantity": 1},
                {"sku": "MUG", "quantity": 1},
            ],
            extra="ignored",
        ),
    )
    drop_confirmation(backend, "a-minimal.json", confirmation("bigcartel-9-X"))
    drop_confirmation(backend, ".c-upload.json", b"{")  # a warehouse upload in progress
    drop_confirmation(backend, "d-notes.txt", b"not a confirmation")

    found = backend.shipments(dt.datetime.now(UTC))

    assert found == [
        Shipment("bigcartel-9-X", None, None, None, None, (), "a-minimal.json"),
        Shipment(
            key="bigcartel-123-ABCD-1001",
            carrier="USPS",
            tracking_number="9400100000000000000000",
            tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000000",
            shipped_at=dt.datetime(2024, 5, 2, 15, 0, tzinfo=UTC),
            items=(
                ShippedItem("5501", "TEE-M", 2),
                ShippedItem("5502", None, 1),
                ShippedItem(None, "MUG", 1),
            ),
            source_id="b-full.json",
        ),
    ]
    for shipment in found:
        backend.acknowledge(shipment)
    backend.acknowledge(found[0])  # twice is harmless

    assert backend.shipments(None) == []
    assert sorted(os.listdir(backend.inbox / ".processed")) == [
        "bigcartel-123-ABCD-1001.b-full.json",
        "bigcartel-9-X.a-minimal.json",
    ]
    assert sorted(os.listdir(backend.inbox)) == [
        ".c-upload.json",
        ".processed",
        ".rejected",
        "d-notes.txt",
    ]


def test_a_parcel_id_makes_one_shipment_of_two_files_and_a_later_file_voids_it(
    backend: FileBackend,
) -> None:
    parcel = confirmation(shipment_id="PARCEL-77", tracking_number="1Z1")
    drop_confirmation(backend, "a.json", parcel)
    drop_confirmation(backend, "b.json", parcel)  # the warehouse sent it again
    drop_confirmation(backend, "c.json", confirmation(shipment_id="PARCEL-78"))

    first, again, other = backend.shipments(None)
    assert first == again and first.source_id == "shipment:PARCEL-77" and not first.voided
    assert other.source_id == "shipment:PARCEL-78"
    backend.acknowledge(first)
    assert sorted(os.listdir(backend.inbox / ".processed")) == [
        f"{first.key}.a.json",
        f"{first.key}.b.json",
    ]
    assert [s.source_id for s in backend.shipments(None)] == ["shipment:PARCEL-78"]

    drop_confirmation(backend, "d.json", confirmation(shipment_id="PARCEL-77", voided=True))
    voided = [s for s in backend.shipments(None) if s.voided]
    assert [(s.source_id, s.items) for s in voided] == [("shipment:PARCEL-77", ())]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (json.dumps(confirmation(shipment_id="a.json")).encode(), '"shipment_id" is not'),
        (json.dumps(confirmation(shipment_id="two words")).encode(), '"shipment_id" is not'),
        (json.dumps(confirmation(shipment_id=77)).encode(), '"shipment_id" is not'),
        (json.dumps(confirmation(voided="yes")).encode(), '"voided" is not true or false'),
        (json.dumps(confirmation(voided=True)).encode(), '"voided" needs the "shipment_id"'),
        (b'{"format": "bigcartel-fulfillment/shipment@1", "order_key": ', "Expecting value"),
        (b"\x80abc", "can't decode"),
        (b"[]", '"format" is not'),
        (json.dumps({"order_key": "bigcartel-1-A"}).encode(), '"format" is not'),
        (json.dumps(confirmation(None)).encode(), '"order_key" is missing'),
        (json.dumps(confirmation("../x")).encode(), '"order_key" is missing'),
        (json.dumps(confirmation(carrier=5)).encode(), '"carrier" is not a string'),
        (json.dumps(confirmation(shipped_at="yesterday")).encode(), '"shipped_at" is not'),
        (json.dumps(confirmation(items={})).encode(), '"items" is not a list'),
        (json.dumps(confirmation(items=["x"])).encode(), '"items[0]" is not an object'),
        (json.dumps(confirmation(items=[{"quantity": 1}])).encode(), "neither"),
        (
            json.dumps(confirmation(items=[{"sku": "A", "quantity": 0}])).encode(),
            '"items[0].quantity" is not a positive',
        ),
        (
            json.dumps(confirmation(items=[{"sku": "A", "quantity": True}])).encode(),
            '"items[0].quantity" is not a positive',
        ),
        (
            json.dumps(confirmation(items=[{"sku": 7, "quantity": 1}])).encode(),
            '"items[0].sku" is not a string',
        ),
    ],
)
def test_a_malformed_confirmation_is_rejected_with_a_note(
    backend: FileBackend, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    drop_confirmation(backend, "bad.json", content)
    drop_confirmation(backend, "good.json", confirmation())

    with caplog.at_level(logging.ERROR):
        found = backend.shipments(None)

    assert [shipment.source_id for shipment in found] == ["good.json"]
    rejected = backend.inbox / ".rejected"
    assert sorted(os.listdir(rejected)) == ["bad.json", "bad.json.error.txt"]
    assert (rejected / "bad.json").read_bytes() == content
    assert reason in (rejected / "bad.json.error.txt").read_text()
    assert "bad.json" in caplog.text and reason in caplog.text
    assert not (backend.inbox / "bad.json").exists()


# Cancelling


def test_cancel_before_collection_takes_the_order_back(backend: FileBackend) -> None:
    order = make_order()
    submit_one(backend, order)

    assert backend.cancel(order.key) is True

    assert sorted(os.listdir(backend.outbox)) == [".sent"]
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order.key, "cancelled")
    assert backend.cancel(order.key) is True
    with pytest.raises(OrderLockedError, match="cancelled before the warehouse collected it"):
        submit_one(backend, order)
    assert sorted(os.listdir(backend.outbox)) == [".sent"]


def test_cancel_after_collection_requests_it(backend: FileBackend) -> None:
    order = make_order()
    submit_one(backend, order)
    collect(backend, order.key)

    assert backend.cancel(order.key) is False

    request_path = backend.outbox / f"{order.key}.cancel.json"
    request = json.loads(request_path.read_bytes())
    assert request.pop("requested_at")
    assert request == {
        "format": "bigcartel-fulfillment/cancel@1",
        "key": order.key,
        "account_id": "123",
        "order_id": "ABCD-1001",
    }
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order.key, "cancelled")
    before = request_path.read_bytes()
    assert backend.cancel(order.key) is False
    assert request_path.read_bytes() == before
    with pytest.raises(OrderLockedError, match="a cancellation was requested"):
        submit_one(backend, order)


def test_no_cancel_request_for_a_shipped_order(backend: FileBackend) -> None:
    order = make_order()
    submit_one(backend, order)
    collect(backend, order.key)
    drop_confirmation(backend, "ship.json", confirmation(order.key))
    for shipment in backend.shipments(None):
        backend.acknowledge(shipment)

    assert backend.cancel(order.key) is False
    assert sorted(os.listdir(backend.outbox)) == [".sent"]
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order.key, "shipped")


def test_cancel_of_an_order_never_sent(backend: FileBackend) -> None:
    assert backend.cancel("bigcartel-123-NEVER") is True
    assert sorted(os.listdir(backend.outbox)) == [".sent"]


# Crashes


class Crash(BaseException):
    """The process dying at a rename: nothing after it runs."""


def crash_at_rename(monkeypatch: pytest.MonkeyPatch, number: int) -> Callable[[], int]:
    """Make the ``number``-th os.replace from now crash before it renames; returns a counter."""
    replace = os.replace
    calls = 0

    def replace_or_crash(source: Any, target: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == number:
            raise Crash
        replace(source, target)

    monkeypatch.setattr(os, "replace", replace_or_crash)
    return lambda: calls


def submit_crashing(
    backend: FileBackend, order: FulfillmentOrder, monkeypatch: pytest.MonkeyPatch, number: int
) -> bool:
    """Submit, crashing at the ``number``-th rename; whether the crash happened."""
    renames = crash_at_rename(monkeypatch, number)
    try:
        submit_one(backend, order)
    except Crash:
        return True
    finally:
        monkeypatch.undo()
    assert renames() < number
    return False


def test_a_crash_during_a_new_submit_leaves_a_consistent_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever it stops, a restarted backend's lookup agrees with the outbox."""
    order = make_order()
    outcomes = []
    for number in range(1, 10):
        outbox, inbox = tmp_path / str(number) / "outbox", tmp_path / str(number) / "inbox"
        crashed = submit_crashing(FileBackend(outbox, inbox), order, monkeypatch, number)

        restarted = FileBackend(outbox, inbox)
        remote = lookup_one(restarted, order.key)
        placed = outbox / f"{order.key}.json"
        if remote is None:
            assert not placed.exists()
        else:
            assert placed.read_bytes() == (outbox / ".sent" / f"{order.key}.json").read_bytes()
        assert sorted(os.listdir(outbox / ".sent")) == ([f"{order.key}.json"] if remote else [])
        outcomes.append(remote is not None)
        if not crashed:
            break
    # Crashes before the file is placed undo the submit; after, they finish it.
    assert outcomes == [False, False, False, True, True]


def test_a_crash_during_an_update_leaves_one_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever it stops, the outbox and the record hold the same version, old or new."""
    order = make_order()
    versions = []
    for number in range(1, 10):
        outbox, inbox = tmp_path / str(number) / "outbox", tmp_path / str(number) / "inbox"
        submit_one(FileBackend(outbox, inbox), order)
        crashed = submit_crashing(FileBackend(outbox, inbox), moved(order), monkeypatch, number)

        restarted = FileBackend(outbox, inbox)
        assert lookup_one(restarted, order.key) == RemoteOrder(order.key, order.key, "open")
        placed = outbox_document(restarted, order.key)
        assert placed == sent_document(restarted, order.key)
        assert sorted(os.listdir(outbox / ".sent")) == [f"{order.key}.json"]
        versions.append(placed["ship_to"]["street1"])
        if not crashed:
            break
    # Until both copies are staged the update is undone; from then on it is finished.
    assert versions == ["1 Main St", "1 Main St", "9 Elm St", "9 Elm St", "9 Elm St", "9 Elm St"]


def test_an_update_crashed_before_placing_is_undone_if_the_warehouse_collected_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = make_order()
    backend = FileBackend(tmp_path / "outbox", tmp_path / "inbox")
    submit_one(backend, order)
    assert submit_crashing(backend, moved(order), monkeypatch, 3)  # staged, not yet claimed
    collect(backend, order.key)

    restarted = FileBackend(tmp_path / "outbox", tmp_path / "inbox")
    assert lookup_one(restarted, order.key) == RemoteOrder(order.key, order.key, "open")
    assert sorted(os.listdir(restarted.outbox)) == [".sent"]
    assert sent_document(restarted, order.key)["ship_to"]["street1"] == "1 Main St"
    assert sorted(os.listdir(restarted.outbox / ".sent")) == [f"{order.key}.json"]


# Batches


def test_a_batch_answers_each_order_alone(backend: FileBackend) -> None:
    waiting, collected, new = make_order("A-1"), make_order("B-2"), make_order("C-3")
    for order in (waiting, collected):
        submit_one(backend, order)
    collect(backend, collected.key)
    bad = make_order(key="bigcartel-123-../../etc")

    answer = backend.submit_batch(
        [Submission(moved(waiting)), Submission(moved(collected)), Submission(new), Submission(bad)]
    )

    assert answer[waiting.key] == waiting.key and answer[new.key] == new.key
    assert isinstance(answer[collected.key], OrderLockedError)
    assert isinstance(answer[bad.key], BackendError) and "file name" in str(answer[bad.key])
    assert outbox_document(backend, waiting.key)["ship_to"]["street1"] == "9 Elm St"
    assert sent_document(backend, collected.key)["ship_to"]["street1"] == "1 Main St"
    assert backend.lookup_many([waiting.key, collected.key, new.key, "bigcartel-123-Z-9"]) == {
        key: RemoteOrder(key, key, "open") for key in (waiting.key, collected.key, new.key)
    }
    assert sorted(os.listdir(backend.outbox / ".sent")) == sorted(
        f"{order.key}.json" for order in (waiting, collected, new)
    )


def test_a_batch_shares_its_directory_fsyncs(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two file fsyncs per order (its two copies), and a handful of directory fsyncs per batch
    instead of five per order."""
    fsyncs = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or fsync(fd))
    submit_one(backend, make_order("ONE-1"))
    one = len(fsyncs)
    fsyncs.clear()

    orders = [make_order(f"B-{n}") for n in range(100)]
    answer = backend.submit_batch([Submission(order) for order in orders])

    assert answer == {order.key: order.key for order in orders}
    assert one == 7
    assert 200 <= len(fsyncs) <= 200 + 6


def test_a_crash_during_a_batch_leaves_every_order_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever a batch of new orders and updates stops, each order's outbox file and record
    agree, and an order is either placed whole or not at all."""
    waiting, new, other = make_order("A-1"), make_order("B-2"), make_order("C-3")
    for number in range(1, 20):
        outbox, inbox = tmp_path / str(number) / "outbox", tmp_path / str(number) / "inbox"
        submit_one(FileBackend(outbox, inbox), waiting)
        renames = crash_at_rename(monkeypatch, number)
        crashed = False
        try:
            FileBackend(outbox, inbox).submit_batch(
                [Submission(moved(waiting)), Submission(new), Submission(other)]
            )
        except Crash:
            crashed = True
        finally:
            monkeypatch.undo()

        restarted = FileBackend(outbox, inbox)
        found = restarted.lookup_many([waiting.key, new.key, other.key])
        assert waiting.key in found
        for key in (waiting.key, new.key, other.key):
            placed = outbox / f"{key}.json"
            if key in found:
                assert placed.read_bytes() == (outbox / ".sent" / f"{key}.json").read_bytes()
            else:
                assert not placed.exists()
        assert sorted(os.listdir(outbox / ".sent")) == sorted(f"{key}.json" for key in found)
        if not crashed:
            assert renames() < number and len(found) == 3
            break
    else:
        pytest.fail("the batch never finished")


# The payload hash


def test_payload_hash_follows_content_not_spelling() -> None:
    order = make_order()
    assert order.payload_hash() == make_order().payload_hash()
    assert len(order.payload_hash()) == 64
    respelled = make_order(
        amount_paid=Decimal("30.0"),
        order_date=dt.datetime(2024, 5, 1, 19, 15, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    )
    assert respelled.payload_hash() == order.payload_hash()


@pytest.mark.parametrize(
    "change",
    [
        {"ship_to": dataclasses.replace(ADDRESS, street1="9 Elm St")},
        {"ship_to": dataclasses.replace(ADDRESS, postal_code="97202")},
        {"bill_to": dataclasses.replace(ADDRESS, name="Bob Payer")},
        {"items": (LineItem("5501", "TEE-M", "Tee", 3, Decimal("12.50"), "Medium"),)},
        {"items": (LineItem("5501", "TEE-L", "Tee", 2, Decimal("12.50"), "Large"),)},
        {"amount_paid": Decimal("31.00")},
        {"service_code": "usps_ground_advantage"},
        {"payment_date": None},
    ],
)
def test_payload_hash_changes_with_content(change: dict[str, Any]) -> None:
    assert make_order(**change).payload_hash() != make_order().payload_hash()


# Building from config


def test_make_backend_builds_a_file_backend(tmp_path: Path) -> None:
    backend = make_backend(
        {
            "backend": "file",
            "file_outbox_dir": str(tmp_path / "out"),
            "file_inbox_dir": str(tmp_path / "in"),
        }
    )
    assert isinstance(backend, FileBackend)
    assert backend.name == "file"
    assert (tmp_path / "out" / ".sent").is_dir()
    assert (tmp_path / "in" / ".processed").is_dir()
    assert (tmp_path / "in" / ".rejected").is_dir()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"file_inbox_dir": "in"}, "`file_outbox_dir` is required"),
        ({"file_outbox_dir": "out", "file_inbox_dir": " "}, "`file_inbox_dir` is required"),
    ],
)
def test_make_backend_names_a_missing_file_setting(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_backend({"backend": "file", **config})


@pytest.mark.parametrize("kind", [None, "sftp"])
def test_make_backend_refuses_an_unknown_backend(kind: str | None) -> None:
    with pytest.raises(ValueError, match="`backend` must be 'file' or 'shipstation'"):
        make_backend({"backend": kind})
