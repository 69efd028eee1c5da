"""The ShipStation V2 backend against the V2 emulator, over real HTTP."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from pipeline import run_pipeline, tap_config, target_config
from singer_sdk.exceptions import ConfigValidationError

from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox.v2 import ShipStationV2Sandbox
from target_fulfillment.backends import BackendError, OrderLockedError, make_backend
from target_fulfillment.backends.base import AmbiguousSubmitError, Submission
from target_fulfillment.backends.shipstation import mapping_v2, v2
from target_fulfillment.backends.shipstation.v2 import ShipStationV2Backend
from target_fulfillment.domain import (
    Address,
    FulfillmentOrder,
    LineItem,
    RemoteOrder,
    Shipment,
    ShippedItem,
)
from target_fulfillment.ledger import Ledger
from target_fulfillment.target import TargetFulfillment

API_KEY = "ssv2-key-4c1d9e77a0b3"
WAREHOUSE = "se-217762"
WEIGHT = mapping_v2.Weight(Decimal("12"), "ounce")
UTC = dt.timezone.utc
BY_KEY = "GET /v2/shipments/external_shipment_id/<path:external_shipment_id>"
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


def make_order(order_id: str = "1001", **overrides: Any) -> FulfillmentOrder:
    fields: dict[str, Any] = {
        "key": f"bigcartel-123-{order_id}",
        "account_id": "123",
        "order_id": order_id,
        "order_date": dt.datetime(2024, 5, 1, 17, 15, tzinfo=UTC),
        "payment_date": dt.datetime(2024, 5, 1, 17, 16, tzinfo=UTC),
        "customer_email": "ada@example.com",
        "ship_to": ADDRESS,
        "bill_to": ADDRESS,
        "items": (
            LineItem("5501", "TEE-M", "Tee", 2, Decimal("12.50"), "Medium"),
            LineItem("5502", "MUG", "Mug", 1, Decimal("5.00"), None),
        ),
        "amount_paid": Decimal("35.00"),
        "shipping_amount": Decimal("5.00"),
        "currency": "USD",
        "shipping_code": "DOMESTIC_DEFAULT",
        "carrier_code": "usps",
        "service_code": "usps_priority_mail",
    }
    return FulfillmentOrder(**{**fields, **overrides})


def new(*orders: FulfillmentOrder) -> list[Submission]:
    return [Submission(order) for order in orders]


def moved(order: FulfillmentOrder) -> FulfillmentOrder:
    return dataclasses.replace(order, ship_to=dataclasses.replace(ADDRESS, street1="9 Elm St"))


class FakeClock:
    """Monotonic seconds for the emulator's rate window and the backend's budget at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def start() -> Iterator[Callable[..., ShipStationV2Sandbox]]:
    with contextlib.ExitStack() as stack:

        def start_sandbox(**options: Any) -> ShipStationV2Sandbox:
            return stack.enter_context(ShipStationV2Sandbox(API_KEY, **options))

        yield start_sandbox


@pytest.fixture
def sandbox(start: Callable[..., ShipStationV2Sandbox]) -> ShipStationV2Sandbox:
    return start()


@pytest.fixture
def connect() -> Iterator[Callable[..., ShipStationV2Backend]]:
    backends: list[ShipStationV2Backend] = []

    def build(sandbox: ShipStationV2Sandbox, **options: Any) -> ShipStationV2Backend:
        options = {
            "backoff_factor": 0.0,
            "timeout": 5.0,
            "warehouse_id": WAREHOUSE,
            "package_weight": WEIGHT,
            **options,
        }
        key = options.pop("api_key", API_KEY)
        backend = ShipStationV2Backend(key, api_url=sandbox.url, **options)
        backends.append(backend)
        return backend

    yield build
    for backend in backends:
        backend.close()


@pytest.fixture
def backend(
    sandbox: ShipStationV2Sandbox, connect: Callable[..., ShipStationV2Backend]
) -> ShipStationV2Backend:
    return connect(sandbox)


def stored(sandbox: ShipStationV2Sandbox) -> dict[str, dict[str, Any]]:
    return {s["external_shipment_id"]: s for s in sandbox.store.shipments()}


# Creating


def test_a_batch_creates_each_valid_order_and_refuses_the_others_alone(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    good, other = make_order("1001"), make_order("1002", currency=None)
    bad = make_order("1003", ship_to=dataclasses.replace(ADDRESS, country="USA"))
    too_long = make_order("9" * 40)

    answers = backend.submit_batch(new(good, bad, other, too_long))

    shipments = stored(sandbox)
    assert set(shipments) == {good.key, other.key}
    assert answers[good.key] == shipments[good.key]["shipment_id"]
    assert answers[other.key] == shipments[other.key]["shipment_id"]
    refused = answers[bad.key]
    assert type(refused) is BackendError
    assert "ship_to.country_code must be ISO 3166-1 alpha-2" in str(refused)
    long_refusal = answers[too_long.key]
    assert isinstance(long_refusal, BackendError) and "at most 50" in str(long_refusal)
    counts = sandbox.request_counts()
    assert counts["POST /v2/shipments"] == 1
    # The refused one was looked up (it might have been a duplicate) and found absent.
    assert counts[BY_KEY] == 1
    assert "amount_paid" not in sandbox.requests[0]["body"]["shipments"][2]


def test_the_shipment_carries_the_order(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    order = make_order(
        ship_to=dataclasses.replace(ADDRESS, phone=None, state=None, postal_code=None),
        carrier_code="se-42",
    )

    backend.submit_batch(new(order))

    shipment = stored(sandbox)[order.key]
    assert shipment["shipment_number"] == "1001"
    assert shipment["warehouse_id"] == WAREHOUSE
    assert (shipment["carrier_id"], shipment["service_code"]) == ("se-42", "usps_priority_mail")
    assert shipment["ship_to"] == {
        "name": "Ada Buyer",
        "phone": "unknown",
        "email": "ada@example.com",
        "company_name": None,
        "address_line1": "1 Main St",
        "address_line2": "Apt 2",
        "city_locality": "Portland",
        "state_province": "unknown",
        "postal_code": "unknown",
        "country_code": "US",
        "address_residential_indicator": "unknown",
    }
    assert shipment["items"] == [
        {
            "sku": "TEE-M",
            "name": "Tee",
            "quantity": 2,
            "unit_price": 12.5,
            "external_order_id": order.key,
            "external_order_item_id": "5501",
            "options": [{"name": "Option", "value": "Medium"}],
        },
        {
            "sku": "MUG",
            "name": "Mug",
            "quantity": 1,
            "unit_price": 5.0,
            "external_order_id": order.key,
            "external_order_item_id": "5502",
            "options": [],
        },
    ]
    assert shipment["packages"] == [{"weight": {"value": 12, "unit": "ounce"}}]
    assert shipment["amount_paid"] == {"currency": "usd", "amount": 35.0}
    assert shipment["shipping_paid"] == {"currency": "usd", "amount": 5.0}


def test_a_carrier_code_that_is_no_v2_carrier_id_is_left_to_the_warehouse(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    backend.submit_batch(new(make_order()))

    assert stored(sandbox)[make_order().key]["carrier_id"] is None


def test_a_batch_larger_than_batch_size_is_refused_before_sending(
    sandbox: ShipStationV2Sandbox, connect: Callable[..., ShipStationV2Backend]
) -> None:
    backend = connect(sandbox, batch_size=2)

    with pytest.raises(ValueError, match="3 submissions; at most 2"):
        backend.submit_batch(new(*(make_order(str(n)) for n in range(3))))

    assert backend.batch_size == 2 and sandbox.requests == []
    assert ShipStationV2Backend.name == "shipstation_v2"


def test_a_lost_answer_then_a_resend_makes_no_duplicate(
    start: Callable[..., ShipStationV2Sandbox], connect: Callable[..., ShipStationV2Backend]
) -> None:
    sandbox = start(timeout_hang_seconds=0.0)
    backend = connect(sandbox)
    orders = [make_order(str(n)) for n in range(5)]
    sandbox.store.timeout_next_create(1)

    with pytest.raises(AmbiguousSubmitError, match="may exist"):
        backend.submit_batch(new(*orders))

    ids = {key: s["shipment_id"] for key, s in stored(sandbox).items()}
    assert len(ids) == 5
    sandbox.clear_requests()
    found = backend.lookup_many([order.key for order in orders])
    assert found == {key: RemoteOrder(key, ids[key], "open") for key in ids}
    assert sandbox.request_counts() == {"GET /v2/shipments": 1}  # one list, not five lookups

    answers = backend.submit_batch(new(*orders))  # as if the lookup had been lost too

    assert answers == ids
    assert len(sandbox.store.shipments()) == 5


def test_a_duplicate_key_from_an_earlier_run_is_answered_as_arrived(
    sandbox: ShipStationV2Sandbox, connect: Callable[..., ShipStationV2Backend]
) -> None:
    orders = [make_order("1001"), make_order("1002")]
    first = connect(sandbox).submit_batch(new(*orders))
    later = connect(sandbox)  # a new process: it never sent these keys itself
    sandbox.clear_requests()

    answers = later.submit_batch(new(*orders, make_order("1003")))

    assert {key: answers[key] for key in first} == first
    assert isinstance(answers[make_order("1003").key], str)
    assert len(sandbox.store.shipments()) == 3
    assert sandbox.request_counts()["POST /v2/shipments"] == 1


def test_a_batch_whose_every_shipment_is_refused_answers_each(
    sandbox: ShipStationV2Sandbox, connect: Callable[..., ShipStationV2Backend]
) -> None:
    backend = connect(sandbox, warehouse_id="")  # neither warehouse_id nor ship_from
    orders = [make_order("1001"), make_order("1002")]

    answers = backend.submit_batch(new(*orders))

    assert set(answers) == {order.key for order in orders}
    for answer in answers.values():
        assert isinstance(answer, BackendError)
        assert "warehouse_id or ship_from is required" in str(answer)


def test_a_request_refused_whole_is_a_backend_error(
    sandbox: ShipStationV2Sandbox, connect: Callable[..., ShipStationV2Backend]
) -> None:
    backend = connect(sandbox, batch_size=101)  # more than the emulator takes

    with pytest.raises(BackendError, match=r"answered 400: .*at most 100 shipments"):
        backend.submit_batch(new(*(make_order(str(n)) for n in range(101))))

    assert sandbox.store.shipments() == []


def fail_next(sandbox: ShipStationV2Sandbox, method: str, *statuses: int) -> list[str]:
    """Answer the next ``method`` requests with these statuses before the emulator sees them;
    the paths they were sent to are returned as they come."""
    pending, seen = list(statuses), []
    inner = sandbox.app.wsgi_app

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == method and pending:
            seen.append(environ["PATH_INFO"])
            start_response(f"{pending.pop(0)} Injected", [("Content-Type", "application/json")])
            return [b'{"errors": [{"message": "injected"}]}']
        return inner(environ, start_response)

    sandbox.app.wsgi_app = middleware  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_of_a_create_is_in_doubt_and_not_repeated(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend, status: int
) -> None:
    posts = fail_next(sandbox, "POST", status)

    with pytest.raises(AmbiguousSubmitError, match=f"answered {status}: injected.*may exist"):
        backend.submit_batch(new(make_order()))

    assert posts == ["/v2/shipments"]


def test_server_errors_of_reads_are_retried(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    backend.submit_batch(new(make_order()))
    gets = fail_next(sandbox, "GET", 502, 503)

    assert set(backend.lookup_many([make_order().key])) == {make_order().key}
    assert len(gets) == 2


# Updating


def test_an_update_while_pending_replaces_the_shipment(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    order = make_order()
    shipment_id = backend.submit_batch(new(order))[order.key]
    assert isinstance(shipment_id, str)

    answers = backend.submit_batch([Submission(moved(order), shipment_id)])

    assert answers == {order.key: shipment_id}
    shipment = stored(sandbox)[order.key]
    assert shipment["ship_to"]["address_line1"] == "9 Elm St"
    assert len(shipment["items"]) == 2 and shipment["warehouse_id"] == WAREHOUSE
    assert sandbox.request_counts()["PUT /v2/shipments/<shipment_id>"] == 1


@pytest.mark.parametrize("finish", ["label", "cancel"])
def test_a_labelled_or_cancelled_shipment_is_locked(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend, finish: str
) -> None:
    order, other = make_order("1001"), make_order("1002")
    ids = backend.submit_batch(new(order))
    shipment_id = str(ids[order.key])
    if finish == "label":
        sandbox.store.create_label(shipment_id=shipment_id)
    else:
        sandbox.store.cancel_shipment(shipment_id)

    answers = backend.submit_batch([Submission(moved(order), shipment_id), Submission(other)])

    locked = answers[order.key]
    assert isinstance(locked, OrderLockedError)
    status = "label_purchased" if finish == "label" else "cancelled"
    assert f"is {status} at ShipStation" in str(locked)
    assert "can no longer be updated" in str(locked)  # the API's own words
    assert isinstance(answers[other.key], str)  # the rest of the batch went on
    assert stored(sandbox)[order.key]["ship_to"]["address_line1"] == "1 Main St"


def test_an_invalid_update_is_refused_but_not_locked(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    order = make_order()
    shipment_id = str(backend.submit_batch(new(order))[order.key])
    bad = dataclasses.replace(order, ship_to=dataclasses.replace(ADDRESS, country="USA"))

    answers = backend.submit_batch([Submission(bad, shipment_id)])

    assert type(answers[order.key]) is BackendError
    assert "country_code" in str(answers[order.key])


def test_an_update_whose_answer_is_lost_is_left_in_doubt(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    order, other = make_order("1001"), make_order("1002")
    shipment_id = str(backend.submit_batch(new(order))[order.key])
    puts = fail_next(sandbox, "PUT", 502)

    answers = backend.submit_batch([Submission(moved(order), shipment_id), Submission(other)])

    assert order.key not in answers and isinstance(answers[other.key], str)
    assert len(puts) == 1


# Looking up


def test_lookup_many_maps_the_status_and_lists_once(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    orders = [make_order(str(n)) for n in range(4)]
    ids = backend.submit_batch(new(*orders))
    sandbox.store.create_label(shipment_id=str(ids[orders[1].key]))
    sandbox.store.cancel_shipment(str(ids[orders[2].key]))
    sandbox.clear_requests()
    unknown = "bigcartel-123-404"

    found = backend.lookup_many([order.key for order in orders] + [unknown])

    assert {key: remote.status for key, remote in found.items()} == {
        orders[0].key: "open",
        orders[1].key: "shipped",
        orders[2].key: "cancelled",
        orders[3].key: "open",
    }
    assert found[orders[0].key].backend_order_id == ids[orders[0].key]
    # The keys this process sent in one list request; the other one by itself.
    assert sandbox.request_counts() == {"GET /v2/shipments": 1, BY_KEY: 1}
    (listed,) = [entry for entry in sandbox.requests if entry["path"] == "/v2/shipments"]
    assert "created_at_start" in listed["query"]


@pytest.mark.parametrize(
    ("status", "remote"),
    [
        ("pending", "open"),
        ("processing", "open"),
        ("label_purchased", "shipped"),
        ("cancelled", "cancelled"),
        ("on_hold_someday", "open"),
    ],
)
def test_shipment_statuses(status: str, remote: str) -> None:
    assert mapping_v2.remote_status({"shipment_status": status}) == remote


def test_lookup_many_pages_and_stops_listing_when_asking_is_cheaper(
    sandbox: ShipStationV2Sandbox,
    backend: ShipStationV2Backend,
    connect: Callable[..., ShipStationV2Backend],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(v2, "PAGE_SIZE", 2)
    ours = [make_order(str(n)) for n in range(3)]
    backend.submit_batch(new(*ours))
    # Another process (another store) creates many shipments after ours.
    connect(sandbox).submit_batch(new(*(make_order(f"9{n}") for n in range(10))))
    sandbox.clear_requests()

    found = backend.lookup_many([order.key for order in ours])

    assert set(found) == {order.key for order in ours}
    counts = sandbox.request_counts()
    # Page 1 holds two of ours; 6 pages are left for one key, so it is asked for alone.
    assert counts == {"GET /v2/shipments": 1, BY_KEY: 1}


def test_a_new_process_looks_keys_up_one_by_one(
    sandbox: ShipStationV2Sandbox,
    backend: ShipStationV2Backend,
    connect: Callable[..., ShipStationV2Backend],
) -> None:
    orders = [make_order(str(n)) for n in range(3)]
    backend.submit_batch(new(*orders))
    sandbox.clear_requests()

    found = connect(sandbox).lookup_many([order.key for order in orders])

    assert set(found) == {order.key for order in orders}
    assert sandbox.request_counts() == {BY_KEY: 3}


# Cancelling


def test_cancel_rules(sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend) -> None:
    pending, labelled = make_order("1001"), make_order("1002")
    ids = backend.submit_batch(new(pending, labelled))
    label = sandbox.store.create_label(shipment_id=str(ids[labelled.key]))

    assert backend.cancel(pending.key) is True
    assert stored(sandbox)[pending.key]["shipment_status"] == "cancelled"
    assert backend.cancel(pending.key) is True  # already cancelled
    assert backend.cancel(labelled.key) is False  # the label must be voided first
    assert backend.cancel("bigcartel-123-404") is False
    sandbox.store.void_label(label["label_id"])
    assert backend.cancel(labelled.key) is True
    assert sandbox.request_counts()["PUT /v2/shipments/<shipment_id>/cancel"] == 2


def test_a_cancel_the_api_refuses_is_false(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    order = make_order()
    backend.submit_batch(new(order))
    fail_next(sandbox, "PUT", 400)  # e.g. a label bought between the look and the cancel

    assert backend.cancel(order.key) is False
    assert stored(sandbox)[order.key]["shipment_status"] == "pending"


# Shipments


def test_shipments_from_labels(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    single, split, multi, voided = (make_order(n) for n in ("1001", "1002", "1003", "1004"))
    ids = backend.submit_batch(new(single, split, multi, voided))
    store = sandbox.store
    one = store.create_label(shipment_id=str(ids[single.key]), carrier_code="ups")
    _, part = store.split_shipment(str(ids[split.key]), [{"external_order_item_id": "5502"}])
    split_labels = [
        store.create_label(shipment_id=str(ids[split.key])),
        store.create_label(shipment_id=part["shipment_id"]),
    ]
    packages = store.create_label(
        shipment_id=str(ids[multi.key]), tracking_numbers=["MASTER-1", "PKG-2", "PKG-3"]
    )
    store.void_label(store.create_label(shipment_id=str(ids[voided.key]))["label_id"])
    other = store.create_shipments(
        [{**sandbox.requests[0]["body"]["shipments"][0], "external_shipment_id": "shop-9-1"}]
    )
    store.create_label(shipment_id=other.entries[0]["shipment_id"])

    found = backend.shipments(None)

    tee, mug = ShippedItem("5501", "TEE-M", 2), ShippedItem("5502", "MUG", 1)
    day = dt.datetime.combine(dt.date.fromisoformat(one["ship_date"]), dt.time(), UTC)
    assert found == [
        Shipment(single.key, "UPS", one["tracking_number"], one["tracking_url"], day, (tee, mug),
                 one["label_id"]),
        Shipment(split.key, "USPS", split_labels[0]["tracking_number"],
                 split_labels[0]["tracking_url"], day, (tee,), split_labels[0]["label_id"]),
        Shipment(split.key, "USPS", split_labels[1]["tracking_number"],
                 split_labels[1]["tracking_url"], day, (mug,), split_labels[1]["label_id"]),
        Shipment(multi.key, "USPS", "MASTER-1", packages["tracking_url"], day, (tee, mug),
                 packages["label_id"]),
    ]  # fmt: skip
    assert part["external_shipment_id"] != split.key  # the key came from the items


def test_shipments_since(sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend) -> None:
    order = make_order()
    ids = backend.submit_batch(new(order))
    sandbox.store.create_label(shipment_id=str(ids[order.key]))
    now = dt.datetime.now(UTC)

    assert [s.key for s in backend.shipments(now - dt.timedelta(hours=1))] == [order.key]
    sandbox.clear_requests()
    assert backend.shipments(now + dt.timedelta(hours=1)) == []
    completed, voided = [entry["query"] for entry in sandbox.requests]
    assert completed["label_status"] == "completed" and "created_at_start" in completed
    assert (
        voided["label_status"] == "voided"
        and voided["created_at_start"] < completed["created_at_start"]
    )


def test_a_voided_label_is_reported_voided(
    sandbox: ShipStationV2Sandbox, backend: ShipStationV2Backend
) -> None:
    order = make_order()
    ids = backend.submit_batch(new(order))
    label = sandbox.store.create_label(shipment_id=str(ids[order.key]))
    since = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    assert [s.voided for s in backend.shipments(since)] == [False]
    sandbox.store.void_label(label["label_id"])

    (found,) = backend.shipments(since)
    assert (found.key, found.source_id, found.voided) == (order.key, label["label_id"], True)


def test_a_label_for_two_orders_confirms_each_with_its_items() -> None:
    """A merge the warehouse made: each order gets its own items, the label's tracking."""
    label = {
        "label_id": "se-9",
        "external_shipment_id": "bigcartel-1-A",
        "tracking_number": "1Z9",
        "carrier_code": "ups",
        "created_at": "2026-05-01T13:00:00.000Z",
    }
    item = {"sku": "MUG", "quantity": 1}
    shipment = {
        "external_shipment_id": "bigcartel-1-A",
        "items": [
            {**item, "external_order_id": "bigcartel-1-A", "external_order_item_id": "1"},
            {**item, "external_order_id": "bigcartel-1-B", "external_order_item_id": "2"},
            {**item, "external_order_id": "bigcartel-1-B", "quantity": 0},
        ],
    }

    found = mapping_v2.label_shipments(label, shipment)

    moment = dt.datetime(2026, 5, 1, 13, tzinfo=UTC)  # no ship_date: the label's time
    url = "https://www.ups.com/track?tracknum=1Z9"
    assert found == [
        Shipment("bigcartel-1-A", "UPS", "1Z9", url, moment, (ShippedItem("1", "MUG", 1),),
                 "se-9/bigcartel-1-A"),
        Shipment("bigcartel-1-B", "UPS", "1Z9", url, moment, (ShippedItem("2", "MUG", 1),),
                 "se-9/bigcartel-1-B"),
    ]  # fmt: skip


# The rate limit


def test_a_429_pauses_every_thread_for_retry_after(
    start: Callable[..., ShipStationV2Sandbox], connect: Callable[..., ShipStationV2Backend]
) -> None:
    clock = FakeClock()
    sandbox = start(rate_limit=2, rate_limit_window_seconds=60, rate_limit_clock=clock)
    waits: list[tuple[str, float]] = []
    second = threading.Thread(
        target=lambda: backend.lookup_many(["bigcartel-123-2"]), name="second"
    )

    def sleep(seconds: float) -> None:
        waits.append((threading.current_thread().name, seconds))
        if threading.current_thread().name == "first":
            # While the first thread waits out its 429, a second one starts a request.
            second.start()
            second.join()
        clock.now += seconds

    backend = connect(sandbox, sleep=sleep, clock=clock)
    for _ in range(2):  # another client spends the budget
        requests.get(f"{sandbox.url}/v2/shipments", headers={"api-key": API_KEY}, timeout=5)
    first = threading.Thread(target=lambda: backend.lookup_many(["bigcartel-123-1"]), name="first")
    first.start()
    first.join()

    statuses = [entry["status"] for entry in sandbox.requests]
    assert statuses == [200, 200, 429, 404, 404]
    # The second thread never saw a 429 itself, yet it waited before sending.
    assert waits == [("first", 60.0), ("second", 60.0)]


def test_a_429_that_persists_is_an_error_after_bounded_retries(
    start: Callable[..., ShipStationV2Sandbox], connect: Callable[..., ShipStationV2Backend]
) -> None:
    clock = FakeClock()
    sandbox = start(rate_limit=1, rate_limit_window_seconds=60, rate_limit_clock=clock)
    waits: list[float] = []
    backend = connect(
        sandbox, max_retries=2, rate_limit_max_wait=5, sleep=waits.append, clock=clock
    )
    requests.get(f"{sandbox.url}/v2/shipments", headers={"api-key": API_KEY}, timeout=5)

    with pytest.raises(BackendError, match="answered 429: rate_limit_exceeded"):
        backend.lookup_many(["bigcartel-123-1"])

    assert [entry["status"] for entry in sandbox.requests] == [200, 429, 429, 429]
    assert waits == [5.0, 5.0]  # Retry-After (60) capped by rate_limit_max_wait


# Secrets and settings


def test_a_wrong_key_names_the_setting_and_never_the_key(
    sandbox: ShipStationV2Sandbox,
    connect: Callable[..., ShipStationV2Backend],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "ssv2-wrong-key-81f0c2"
    backend = connect(sandbox, api_key=wrong)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(BackendError) as submitted:
            backend.submit_batch(new(make_order()))
        with pytest.raises(BackendError) as looked_up:
            backend.lookup_many([make_order().key])
        with pytest.raises(BackendError) as listed:
            backend.shipments(None)

    for error in (submitted.value, looked_up.value, listed.value):
        assert "401" in str(error) and "`shipstation_v2_api_key`" in str(error)
        assert wrong not in str(error)
    for text in (repr(backend), repr(backend._client._credentials), caplog.text):
        assert wrong not in text and API_KEY not in text
    assert sandbox.store.shipments() == []


def test_the_key_is_redacted_from_a_transport_error(
    connect: Callable[..., ShipStationV2Backend], sandbox: ShipStationV2Sandbox
) -> None:
    # A key that is also part of the URL shows the redaction at work on requests' message.
    backend = connect(sandbox, api_key="127.0.0.1")
    sandbox.stop()

    with pytest.raises(BackendError) as caught:
        backend.lookup_many(["bigcartel-123-1"])

    assert "127.0.0.1" not in str(caught.value) and "[redacted]" in str(caught.value)


V2_SETTINGS = {
    "backend": "shipstation_v2",
    "shipstation_v2_api_key": API_KEY,
    "shipstation_v2_warehouse_id": WAREHOUSE,
    "default_package_weight": {"value": 1.5, "unit": "pound"},
}


def test_make_backend_builds_a_v2_backend(sandbox: ShipStationV2Sandbox) -> None:
    backend = make_backend({**V2_SETTINGS, "shipstation_v2_api_url": sandbox.url + "/v2"})

    assert isinstance(backend, ShipStationV2Backend)
    assert repr(backend) == (
        f"ShipStationV2Backend(api_url={sandbox.url!r}, warehouse_id={WAREHOUSE!r})"
    )
    backend.submit_batch(new(make_order()))
    assert stored(sandbox)[make_order().key]["packages"] == [
        {"weight": {"value": 1.5, "unit": "pound"}}
    ]
    assert repr(make_backend(V2_SETTINGS)).startswith(
        "ShipStationV2Backend(api_url='https://api.shipstation.com'"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shipstation_v2_api_key": None}, "`shipstation_v2_api_key` is required"),
        ({"shipstation_v2_warehouse_id": ""}, "`shipstation_v2_warehouse_id` is required"),
        ({"default_package_weight": {"value": 0, "unit": "pound"}}, "`default_package_weight`"),
        ({"default_package_weight": {"value": 2, "unit": "stone"}}, "`default_package_weight`"),
        ({"default_package_weight": {"value": True, "unit": "ounce"}}, "`default_package_weight`"),
        ({"shipstation_v2_api_url": "api.shipstation.com"}, "`shipstation_v2_api_url` must be"),
    ],
)
def test_make_backend_names_a_bad_v2_setting(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_backend({**V2_SETTINGS, **change})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shipstation_v2_api_key": None}, "'shipstation_v2_api_key' is a required property"),
        (
            {"shipstation_v2_warehouse_id": None},
            "'shipstation_v2_warehouse_id' is a required property",
        ),
        ({"default_package_weight": {"value": 0, "unit": "ounce"}}, "more than 0"),
        (
            {"default_package_weight": {"value": 2, "unit": "stone"}},
            r"\['default_package_weight'\]",
        ),
        ({"shipstation_v2_api_url": "ftp://x"}, "shipstation_v2_api_url: not an http"),
    ],
)
def test_the_target_refuses_to_start_without_its_v2_settings(
    change: dict[str, Any], message: str, tmp_path: Any
) -> None:
    config = {**V2_SETTINGS, "ledger_url": f"sqlite:///{tmp_path}/l.db", **change}
    config = {name: value for name, value in config.items() if value is not None}

    with pytest.raises(ConfigValidationError) as caught:
        TargetFulfillment(config=config)

    errors = "; ".join(caught.value.errors)
    assert re.search(message, errors), errors
    assert API_KEY not in errors


def test_the_target_starts_with_its_v2_settings(tmp_path: Any) -> None:
    target = TargetFulfillment(config={**V2_SETTINGS, "ledger_url": f"sqlite:///{tmp_path}/l.db"})

    assert isinstance(target.backend, ShipStationV2Backend)


# End to end


def test_the_target_sends_once_and_writes_a_label_back(tmp_path: Path) -> None:
    bc_config = SandboxConfig(shops=1, orders_per_shop=12, products_per_shop=6, seed=4)
    with Sandbox(bc_config) as bc, ShipStationV2Sandbox(API_KEY) as ss:
        settings = target_config(
            bc,
            tmp_path,
            **V2_SETTINGS,
            shipstation_v2_api_url=ss.url,
        )
        first = run_pipeline(tmp_path, tap_config(bc), settings)
        assert (first.tap_returncode, first.target_returncode) == (0, 0), first.stderr[-3000:]

        ledger = Ledger(settings["ledger_url"])
        sent = stored(ss)
        submitted = {entry.order_key for entry in ledger.by_state("submitted")}
        assert sent and set(sent) == submitted
        posts = [entry for entry in ss.requests if entry["method"] == "POST"]
        assert len(posts) == 1  # one batch for every order of the run
        assert sorted(s["external_shipment_id"] for s in posts[0]["body"]["shipments"]) == sorted(
            sent
        )

        second = run_pipeline(tmp_path, tap_config(bc), settings, state=first.state)
        assert second.target_returncode == 0, second.stderr[-3000:]
        assert [entry for entry in ss.requests if entry["method"] == "POST"] == posts
        assert len(ss.store.shipments()) == len(sent)

        key = sorted(sent)[0]
        label = ss.store.create_label(external_shipment_id=key, carrier_code="ups")
        third = run_pipeline(tmp_path, tap_config(bc), settings, state=second.state)
        assert third.target_returncode == 0, third.stderr[-3000:]
        account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
        (written,) = bc.store.shipments(account_id, order_id)
        assert written["tracking_number"] == label["tracking_number"]
        entry = ledger.find_by_key(key)
        assert entry is not None and entry.state == "written_back"
        assert API_KEY not in first.stderr + second.stderr + third.stderr
        ledger.close()


def test_the_target_settles_a_lost_batch_answer_without_resending(tmp_path: Path) -> None:
    bc_config = SandboxConfig(shops=1, orders_per_shop=12, products_per_shop=6, seed=4)
    with Sandbox(bc_config) as bc, ShipStationV2Sandbox(API_KEY, timeout_hang_seconds=0) as ss:
        ss.store.timeout_next_create(1)
        settings = target_config(bc, tmp_path, **V2_SETTINGS, shipstation_v2_api_url=ss.url)

        run = run_pipeline(tmp_path, tap_config(bc), settings)

        assert run.target_returncode == 0, run.stderr[-3000:]
        assert ss.store.pending_create_timeouts == 0  # the answer was lost
        ledger = Ledger(settings["ledger_url"])
        submitted = {entry.order_key: entry for entry in ledger.by_state("submitted")}
        sent = stored(ss)
        assert sent and set(submitted) == set(sent)
        assert {k: e.backend_order_id for k, e in submitted.items()} == {
            key: shipment["shipment_id"] for key, shipment in sent.items()
        }
        counts = ss.request_counts()
        assert counts["POST /v2/shipments"] == 1
        assert counts["GET /v2/shipments"] == 1 and counts[BY_KEY] == 0  # one list settled all
        ledger.close()
