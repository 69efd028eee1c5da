"""The ShipStation backend against the ShipStation v1 sandbox, over real HTTP."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import requests
from backend_calls import lookup_one, submit_one

from bigcartel_core.version import package_version, project_contact
from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.backends import (
    AmbiguousSubmitError,
    BackendError,
    OrderLockedError,
    ShipStationBackend,
    make_backend,
)
from target_fulfillment.backends.base import Submission
from target_fulfillment.backends.shipstation import mapping, v1
from target_fulfillment.domain import (
    Address,
    FulfillmentOrder,
    LineItem,
    RemoteOrder,
    Shipment,
    ShippedItem,
)

API_KEY = "ss-key-7f3a9c1e55"
API_SECRET = "ss-secret-b84d2e6071"
UTC = dt.timezone.utc
ADDRESS = Address(
    name="Ada Buyer",
    company="Ada Co",
    street1="1 Main St",
    street2="Apt 2",
    city="Portland",
    state="OR",
    postal_code="97201",
    country="US",
    phone="555-0100",
    email="ada@example.com",
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
        "bill_to": dataclasses.replace(ADDRESS, name="Bob Payer"),
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


def moved(order: FulfillmentOrder) -> FulfillmentOrder:
    return dataclasses.replace(order, ship_to=dataclasses.replace(ADDRESS, street1="9 Elm St"))


class Tap:
    """WSGI middleware around the sandbox: counts calls, keeps POST bodies and User-Agents,
    injects failures.

    Wrapping ``app.wsgi_app`` is Flask's own way to add middleware; the sandbox is unchanged.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()
        self.bodies: list[bytes] = []
        self.user_agents: list[str | None] = []
        self.failures: dict[str, list[int]] = {}

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses, before the sandbox."""
        self.failures.setdefault(path, []).extend(statuses)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        self.calls[path] += 1
        self.user_agents.append(environ.get("HTTP_USER_AGENT"))
        if environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            self.bodies.append(body)
        pending = self.failures.get(path)
        if pending:
            start_response(f"{pending.pop(0)} Injected", [("Content-Type", "application/json")])
            return [json.dumps({"Message": "injected failure"}).encode()]
        return self.app(environ, start_response)


class Waits(list[float]):
    """A ``sleep`` for the backend that records each wait; ``real`` decides whether it waits."""

    def __init__(self, real: bool) -> None:
        super().__init__()
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.real:
            time.sleep(seconds)


@pytest.fixture
def start() -> Iterator[Callable[..., ShipStationSandbox]]:
    """Start a sandbox with the given options; it stops at the end of the test."""
    with contextlib.ExitStack() as stack:

        def start_sandbox(**options: Any) -> ShipStationSandbox:
            return stack.enter_context(ShipStationSandbox(API_KEY, API_SECRET, **options))

        yield start_sandbox


@pytest.fixture
def sandbox(start: Callable[..., ShipStationSandbox]) -> ShipStationSandbox:
    return start()


@pytest.fixture
def connect() -> Iterator[Callable[..., ShipStationBackend]]:
    """Build backends for a sandbox (no backoff waits, short timeouts); closed after the test."""
    backends: list[ShipStationBackend] = []

    def build(sandbox: ShipStationSandbox, **options: Any) -> ShipStationBackend:
        options = {"backoff_factor": 0.0, "timeout": 5.0, **options}
        secret = options.pop("api_secret", API_SECRET)
        backend = ShipStationBackend(API_KEY, secret, api_url=sandbox.url, **options)
        backends.append(backend)
        return backend

    yield build
    for backend in backends:
        backend.close()


@pytest.fixture
def backend(
    sandbox: ShipStationSandbox, connect: Callable[..., ShipStationBackend]
) -> ShipStationBackend:
    return connect(sandbox)


def install_tap(sandbox: ShipStationSandbox) -> Tap:
    wrapped = Tap(sandbox.app.wsgi_app)
    sandbox.app.wsgi_app = wrapped  # type: ignore[method-assign]
    return wrapped


@pytest.fixture
def tap(sandbox: ShipStationSandbox) -> Tap:
    return install_tap(sandbox)


def create_raw(sandbox: ShipStationSandbox, **fields: Any) -> dict[str, Any]:
    """An order put in by someone else (another store of the account), straight through HTTP."""
    body = {
        "orderDate": "2024-05-01T10:00:00",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "Someone"},
        "shipTo": {"name": "Someone"},
        **fields,
    }
    response = requests.post(
        f"{sandbox.url}/orders/createorder", json=body, auth=(API_KEY, API_SECRET), timeout=5
    )
    response.raise_for_status()
    return response.json()


def without_server_fields(order: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in order.items()
        if name not in {"orderId", "createDate", "modifyDate"}
    }


# Submitting


def test_submit_creates_the_order_with_shipstation_fields(
    sandbox: ShipStationSandbox, tap: Tap
) -> None:
    backend = make_backend(
        {
            "backend": "shipstation",
            "shipstation_api_key": API_KEY,
            "shipstation_api_secret": API_SECRET,
            "shipstation_api_url": sandbox.url,
            "shipstation_store_id": 42,
        }
    )

    order_id = submit_one(backend, make_order())

    (stored,) = sandbox.store.orders()
    assert order_id == str(stored["orderId"])
    address = {
        "name": "Ada Buyer",
        "company": "Ada Co",
        "street1": "1 Main St",
        "street2": "Apt 2",
        "city": "Portland",
        "state": "OR",
        "postalCode": "97201",
        "country": "US",
        "phone": "555-0100",
        "residential": None,
    }
    assert without_server_fields(stored) == {
        "orderNumber": "ABCD-1001",
        "orderKey": "bigcartel-123-ABCD-1001",
        # 17:15 UTC is 10:15 in Portland in May: ShipStation reads times as Pacific
        "orderDate": "2024-05-01T10:15:00",
        "paymentDate": "2024-05-01T10:16:00",
        "orderStatus": "awaiting_shipment",
        "customerEmail": "ada@example.com",
        "billTo": {**address, "name": "Bob Payer"},
        "shipTo": address,
        "items": [
            {
                "lineItemKey": "5501",
                "sku": "TEE-M",
                "name": "Tee",
                "quantity": 2,
                "unitPrice": 12.5,
                "weight": None,
                "options": [{"name": "Option", "value": "Medium"}],
            },
            {
                "lineItemKey": "5502",
                "sku": "MUG",
                "name": "Mug",
                "quantity": 1,
                "unitPrice": 5.0,
                "weight": None,
                "options": [],
            },
        ],
        "amountPaid": 35.0,
        "shippingAmount": 5.0,
        "requestedShippingService": "DOMESTIC_DEFAULT",
        "carrierCode": "usps",
        "serviceCode": "usps_priority_mail",
        "advancedOptions": {"storeId": 42},
        "customerNotes": None,
        "internalNotes": None,
        "gift": None,
        "giftMessage": None,
        "customsCountryCode": None,
        "weight": None,
        "internationalOptions": None,
        "shipDate": None,
    }
    # On the wire the amounts are the exact decimals, not floats.
    (body,) = tap.bodies
    assert b'"unitPrice":12.50,' in body
    assert b'"amountPaid":35.00,' in body
    backend.close()


def test_decimals_are_exact_json_numbers() -> None:
    value = {"a": Decimal("0.1"), "b": [Decimal("12345678901234567.89"), Decimal("1E+2")]}
    text = mapping.json_text({**value, "c": 'é"', "d": None, "e": 2, "f": True})

    assert text == (
        '{"a":0.1,"b":[12345678901234567.89,100],"c":"\\u00e9\\"","d":null,"e":2,"f":true}'
    )
    assert json.loads(text, parse_float=Decimal)["b"][0] == Decimal("12345678901234567.89")
    with pytest.raises(ValueError, match="not a finite amount"):
        mapping.json_text({"a": Decimal("NaN")})


def test_resubmit_updates_the_same_order(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    order = make_order()
    first = submit_one(backend, order)

    assert submit_one(backend, moved(order)) == first

    (stored,) = sandbox.store.orders()
    assert stored["shipTo"]["street1"] == "9 Elm St"


@pytest.mark.parametrize(("finish", "status"), [("ship", "shipped"), ("cancel", "cancelled")])
def test_an_order_finished_at_shipstation_is_locked(
    sandbox: ShipStationSandbox, backend: ShipStationBackend, finish: str, status: str
) -> None:
    order = make_order()
    submit_one(backend, order)
    getattr(sandbox.store, finish)(order.key)

    with pytest.raises(OrderLockedError, match=f"is {status} at ShipStation") as caught:
        submit_one(backend, moved(order))

    assert "can no longer be updated" in str(caught.value)  # the API's own words
    (stored,) = sandbox.store.orders()
    assert stored["shipTo"]["street1"] == "1 Main St"


def test_a_refused_order_carries_the_api_message(backend: ShipStationBackend) -> None:
    with pytest.raises(BackendError) as caught:
        submit_one(backend, make_order(order_id=""))

    assert type(caught.value) is BackendError
    # A per-order result of createorders (not a 400 of the whole request), in the API's words.
    assert "ShipStation refused bigcartel-123-: The request is invalid." in str(caught.value)
    assert "orderNumber: The orderNumber field is required." in str(caught.value)


def test_wrong_credentials_name_the_settings_and_never_the_secrets(
    sandbox: ShipStationSandbox,
    connect: Callable[..., ShipStationBackend],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong_secret = "ss-secret-wrong-93ac1d"
    backend = connect(sandbox, api_secret=wrong_secret)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(BackendError) as submitted:
            submit_one(backend, make_order())
        with pytest.raises(BackendError) as looked_up:
            lookup_one(backend, make_order().key)

    for error in (submitted.value, looked_up.value):
        message = str(error)
        assert "401" in message
        assert "`shipstation_api_key`" in message and "`shipstation_api_secret`" in message
        assert API_KEY not in message and wrong_secret not in message
    for text in (repr(backend), caplog.text):
        assert API_KEY not in text and wrong_secret not in text
    assert sandbox.store.orders() == []


# Retries and the rate limit


def test_a_429_waits_for_the_reset_and_retries(
    start: Callable[..., ShipStationSandbox], connect: Callable[..., ShipStationBackend]
) -> None:
    sandbox = start(rate_limit=2, rate_limit_window_seconds=0.3)
    waits = Waits(real=True)
    backend = connect(sandbox, rate_limit_max_wait=0.4, sleep=waits)
    for _ in range(2):  # another client spends the budget
        requests.get(f"{sandbox.url}/orders", auth=(API_KEY, API_SECRET), timeout=5)

    submit_one(backend, make_order())

    assert [entry["status"] for entry in sandbox.requests] == [200, 200, 429, 200]
    assert len(sandbox.store.orders()) == 1
    # The reset header says 1 s (whole seconds, rounded up); the configured cap wins.
    assert len(waits) == 1 and 0.3 < waits[0] <= 0.4


def test_requests_pause_when_the_budget_is_spent(
    start: Callable[..., ShipStationSandbox], connect: Callable[..., ShipStationBackend]
) -> None:
    sandbox = start(rate_limit=2, rate_limit_window_seconds=0.3)
    waits = Waits(real=True)
    backend = connect(sandbox, rate_limit_max_wait=0.4, sleep=waits)

    for number in range(3):
        submit_one(backend, make_order(f"ORDER-{number}"))

    assert [entry["status"] for entry in sandbox.requests] == [200, 200, 200]
    assert len(waits) == 1  # before the third request: the second answer said 0 remaining
    assert len(sandbox.store.orders()) == 3


def test_a_429_that_persists_is_an_error(
    start: Callable[..., ShipStationSandbox], connect: Callable[..., ShipStationBackend]
) -> None:
    sandbox = start(rate_limit=1, rate_limit_window_seconds=60)
    waits = Waits(real=False)
    backend = connect(sandbox, max_retries=2, rate_limit_max_wait=0.01, sleep=waits)
    requests.get(f"{sandbox.url}/orders", auth=(API_KEY, API_SECRET), timeout=5)

    with pytest.raises(BackendError, match="answered 429: Too Many Requests"):
        submit_one(backend, make_order())

    assert [entry["status"] for entry in sandbox.requests] == [200, 429, 429, 429]
    assert waits == [pytest.approx(0.01, abs=0.01)] * 2
    assert sandbox.store.orders() == []


def test_server_errors_of_reads_are_retried(backend: ShipStationBackend, tap: Tap) -> None:
    order = make_order()
    submit_one(backend, order)
    tap.fail("/orders", 502, 503, 500)

    assert lookup_one(backend, order.key) is not None
    assert tap.calls["/orders"] == 4

    tap.fail("/orders", *[500] * 6)
    with pytest.raises(BackendError, match="GET /orders answered 500: injected failure"):
        lookup_one(backend, order.key)


def test_a_503_of_createorder_is_retried(
    sandbox: ShipStationSandbox, backend: ShipStationBackend, tap: Tap
) -> None:
    tap.fail("/orders/createorders", 503)

    submit_one(backend, make_order())

    assert tap.calls["/orders/createorders"] == 2
    assert len(sandbox.store.orders()) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_server_errors_of_createorder_are_ambiguous_and_not_retried(
    backend: ShipStationBackend, tap: Tap, status: int
) -> None:
    tap.fail("/orders/createorders", status)

    with pytest.raises(AmbiguousSubmitError, match=f"answered {status}.*may exist"):
        submit_one(backend, make_order())

    assert tap.calls["/orders/createorders"] == 1


@pytest.mark.parametrize("hang_seconds", [30.0, 0.0], ids=["timeout", "dropped"])
def test_a_lost_createorder_answer_is_ambiguous_and_not_retried(
    start: Callable[..., ShipStationSandbox],
    connect: Callable[..., ShipStationBackend],
    hang_seconds: float,
) -> None:
    sandbox = start(timeout_hang_seconds=hang_seconds)
    tap = install_tap(sandbox)
    backend = connect(sandbox, timeout=0.3)
    order = make_order()
    sandbox.store.timeout_next_create(1)

    with pytest.raises(AmbiguousSubmitError, match="may exist"):
        submit_one(backend, order)

    assert tap.calls["/orders/createorders"] == 1
    (stored,) = sandbox.store.orders()
    assert lookup_one(backend, order.key) == RemoteOrder(order.key, str(stored["orderId"]), "open")


def test_a_refused_connection_is_a_definite_failure() -> None:
    """Nothing reached ShipStation, so nothing can be stored: not ambiguous."""
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = ShipStationBackend(
        API_KEY, API_SECRET, api_url=f"http://127.0.0.1:{port}", backoff_factor=0, max_retries=1
    )

    with pytest.raises(BackendError, match="createorders for bigcartel-123-ABCD-1001 failed"):
        submit_one(backend, make_order())
    backend.close()


def test_concurrent_submits_each_land_once(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    orders = [make_order(f"ORDER-{number}") for number in range(40)]
    same = make_order("SAME-1")

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(partial(submit_one, backend), orders))
        same_ids = set(pool.map(partial(submit_one, backend), [same] * 16))

    stored = {order["orderKey"]: str(order["orderId"]) for order in sandbox.store.orders()}
    assert len(sandbox.store.orders()) == 41
    assert ids == [stored[order.key] for order in orders]
    assert same_ids == {stored[same.key]}


def test_each_thread_has_its_own_session(backend: ShipStationBackend) -> None:
    """requests does not promise a Session is thread-safe, so threads never share one."""
    barrier = threading.Barrier(4)
    sessions: list[requests.Session] = []

    def take() -> None:
        barrier.wait()  # all four threads alive at once: none can be reused
        first = backend._client.session()
        assert backend._client.session() is first
        sessions.append(first)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(session) for session in sessions}) == 4
    backend.close()
    assert backend._client._sessions == []


# Looking up


def test_lookup_matches_the_key_exactly(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    order = make_order()
    # Another store's order with the same number, and one whose number starts with ours.
    create_raw(sandbox, orderNumber="ABCD-1001", orderKey="shopify-77-ABCD-1001")
    create_raw(sandbox, orderNumber="ABCD-10010", orderKey="bigcartel-123-ABCD-10010")
    assert lookup_one(backend, order.key) is None

    order_id = submit_one(backend, order)

    assert lookup_one(backend, order.key) == RemoteOrder(order.key, order_id, "open")


@pytest.mark.parametrize(
    ("finish", "status"),
    [(None, "open"), ("ship", "shipped"), ("cancel", "cancelled")],
)
def test_lookup_maps_the_status(
    sandbox: ShipStationSandbox, backend: ShipStationBackend, finish: str | None, status: str
) -> None:
    order = make_order()
    submit_one(backend, order)
    if finish:
        getattr(sandbox.store, finish)(order.key)

    remote = lookup_one(backend, order.key)

    assert remote is not None and remote.status == status


@pytest.mark.parametrize("held", ["on_hold", "awaiting_payment"])
def test_other_open_statuses_are_open(
    sandbox: ShipStationSandbox, backend: ShipStationBackend, held: str
) -> None:
    create_raw(sandbox, orderNumber="ABCD-1001", orderKey=make_order().key, orderStatus=held)

    remote = lookup_one(backend, make_order().key)

    assert remote is not None and remote.status == "open"


def test_lookup_reads_every_page(
    sandbox: ShipStationSandbox, backend: ShipStationBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(v1, "PAGE_SIZE", 2)
    for number in range(5):
        create_raw(sandbox, orderNumber="ABCD-1001", orderKey=f"other-{number}")
    order_id = submit_one(backend, make_order())
    sandbox.clear_requests()

    remote = lookup_one(backend, make_order().key)

    assert remote == RemoteOrder(make_order().key, order_id, "open")
    assert [entry["query"]["page"] for entry in sandbox.requests] == ["1", "2", "3"]


def test_lookup_refuses_a_key_of_another_shape(backend: ShipStationBackend) -> None:
    with pytest.raises(ValueError, match="not a bigcartel-<account_id>-<order_id> key"):
        lookup_one(backend, "shopify-1-2")


# Batches


def submissions(*orders: FulfillmentOrder) -> list[Submission]:
    return [Submission(order) for order in orders]


def test_a_batch_of_100_is_one_createorders_request(
    sandbox: ShipStationSandbox, backend: ShipStationBackend, tap: Tap
) -> None:
    orders = [make_order(f"ORDER-{number}") for number in range(100)]

    answer = backend.submit_batch(submissions(*orders))

    assert backend.batch_size == 100
    assert tap.calls == Counter({"/orders/createorders": 1})
    stored = {order["orderKey"]: str(order["orderId"]) for order in sandbox.store.orders()}
    assert answer == {order.key: stored[order.key] for order in orders}
    (body,) = tap.bodies
    assert [order["orderKey"] for order in json.loads(body)] == [order.key for order in orders]


def test_a_batch_larger_than_the_api_takes_is_refused_before_any_request(
    backend: ShipStationBackend, tap: Tap
) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        backend.submit_batch(submissions(*(make_order(f"O-{n}") for n in range(101))))
    assert not tap.calls


def test_a_batch_answers_each_order_alone(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    good, shipped, cancelled = make_order("A-1"), make_order("B-2"), make_order("C-3")
    invalid = make_order("")
    backend.submit_batch(submissions(shipped, cancelled))
    sandbox.store.ship(shipped.key)
    sandbox.store.cancel(cancelled.key)

    answer = backend.submit_batch(submissions(good, moved(shipped), moved(cancelled), invalid))

    assert answer[good.key] == str(sandbox.store.find_orders(order_number="A-1")[0]["orderId"])
    for order, status in ((shipped, "shipped"), (cancelled, "cancelled")):
        refusal = answer[order.key]
        assert isinstance(refusal, OrderLockedError)
        assert f"is {status} at ShipStation" in str(refusal)
        assert "can no longer be updated" in str(refusal)  # the API's own words
    refusal = answer[invalid.key]
    assert type(refusal) is BackendError
    assert "ShipStation refused bigcartel-123-" in str(refusal)
    assert "The orderNumber field is required." in str(refusal)
    assert {o["orderKey"]: o["shipTo"]["street1"] for o in sandbox.store.orders()} == {
        good.key: "1 Main St",
        shipped.key: "1 Main St",
        cancelled.key: "1 Main St",
    }


@pytest.mark.parametrize(
    "results",
    [
        [],
        [{"orderKey": "bigcartel-123-A-1", "success": True}],  # no orderId
        [{"orderId": 7, "orderKey": None, "success": True}],
        [{"orderId": 7, "orderKey": "bigcartel-123-A-1", "success": "yes"}],
        ["not an object"],
    ],
)
def test_a_missing_or_unreadable_result_leaves_its_key_in_doubt(results: list[Any]) -> None:
    document = {
        "hasErrors": True,
        "results": [
            *results,
            {"orderId": 8, "orderKey": "bigcartel-123-B-2", "success": True},
            {"orderId": None, "orderKey": "bigcartel-123-C-3", "success": False},
        ],
    }

    created, refused = mapping.batch_results(
        document, ["bigcartel-123-A-1", "bigcartel-123-B-2", "bigcartel-123-C-3"]
    )

    assert created == {"bigcartel-123-B-2": "8"}
    assert refused == {"bigcartel-123-C-3": "no message"}


def test_an_unreadable_batch_answer_is_ambiguous() -> None:
    for document in (None, [], {"results": "x"}):
        assert mapping.batch_results(document, ["bigcartel-123-A-1"]) == ({}, {})


@pytest.mark.parametrize("hang_seconds", [30.0, 0.0], ids=["timeout", "dropped"])
def test_a_lost_batch_answer_is_ambiguous_and_settled_by_one_bulk_lookup(
    start: Callable[..., ShipStationSandbox],
    connect: Callable[..., ShipStationBackend],
    hang_seconds: float,
) -> None:
    sandbox = start(timeout_hang_seconds=hang_seconds)
    tap = install_tap(sandbox)
    backend = connect(sandbox, timeout=0.3)
    orders = [make_order(f"ORDER-{number}") for number in range(100)]
    sandbox.store.timeout_next_create(1)

    with pytest.raises(AmbiguousSubmitError, match="may exist"):
        backend.submit_batch(submissions(*orders))
    assert tap.calls["/orders/createorders"] == 1

    found = backend.lookup_many([order.key for order in orders])

    stored = {order["orderKey"]: str(order["orderId"]) for order in sandbox.store.orders()}
    assert found == {
        order.key: RemoteOrder(order.key, stored[order.key], "open") for order in orders
    }
    assert tap.calls["/orders"] == 1


def test_a_batch_refused_whole_names_the_status_and_the_message(
    sandbox: ShipStationSandbox, backend: ShipStationBackend, tap: Tap
) -> None:
    tap.fail("/orders/createorders", 400)

    with pytest.raises(
        BackendError,
        match="createorders for bigcartel-123-A-1 and 1 more answered 400: injected failure",
    ):
        backend.submit_batch(submissions(make_order("A-1"), make_order("B-2")))

    assert sandbox.store.orders() == []


def test_lookup_many_is_right_among_thousands_of_orders(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    """3,000 orders of this and other stores, numbers that start with ours and the same numbers
    under other keys: every key gets its own order, and a key never sent gets nothing."""
    ours = [make_order(f"{number}") for number in range(1, 40)]
    backend.submit_batch(submissions(*ours))
    base = {
        "orderDate": "2024-05-01T10:00:00",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "Someone"},
        "shipTo": {"name": "Someone"},
    }
    for number in range(3000):
        sandbox.store.create_or_update(
            {**base, "orderNumber": str(number), "orderKey": f"shopify-9-{number}"}
        )
    for number in range(40, 400):
        sandbox.store.create_or_update(
            {**base, "orderNumber": str(number), "orderKey": f"bigcartel-123-{number}"}
        )
    sandbox.store.ship(ours[0].key)
    keys = [order.key for order in ours] + ["bigcartel-123-9999", "bigcartel-77-1"]
    sandbox.clear_requests()

    found = backend.lookup_many(keys)

    stored = {o["orderKey"]: o for o in sandbox.store.orders()}
    assert found == {
        order.key: RemoteOrder(
            order.key, str(stored[order.key]["orderId"]), "shipped" if order is ours[0] else "open"
        )
        for order in ours
    }
    # A scan of the most recently modified orders and, for the keys it did not reach (the
    # emulator does not sort), the orderNumber searches: never more than one request per key.
    assert len(sandbox.requests) <= len(keys) + len(keys) // 10


def test_lookup_many_of_a_recent_batch_is_one_request(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    orders = [make_order(f"ORDER-{number}") for number in range(100)]
    backend.submit_batch(submissions(*orders))
    sandbox.clear_requests()

    found = backend.lookup_many([order.key for order in orders] + ["bigcartel-123-NEVER-1"])

    assert set(found) == {order.key for order in orders}
    (scan, never) = sandbox.requests
    assert scan["query"] == {
        "sortBy": "ModifyDate",
        "sortDir": "DESC",
        "page": "1",
        "pageSize": "500",
    }
    assert never["query"]["orderNumber"] == "NEVER-1"


# Shipments


def test_shipments_with_labels_and_without(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    labelled, marked, waiting = make_order("A-1"), make_order("B-2"), make_order("C-3")
    for order in (labelled, marked, waiting):
        submit_one(backend, order)
    label = sandbox.store.ship(labelled.key, tracking_number="1Z 999", carrier_code="ups")
    sandbox.store.ship(marked.key, with_label=False)
    marked_id = sandbox.store.find_orders(order_number="B-2")[0]["orderId"]
    create_raw(sandbox, orderNumber="X-1", orderKey="shopify-1-X-1")  # another store's
    sandbox.store.ship("shopify-1-X-1")
    create_raw(sandbox, orderNumber="X-2", orderKey="shopify-1-X-2")
    sandbox.store.ship("shopify-1-X-2", with_label=False)

    found = backend.shipments(None)

    items = (ShippedItem("5501", "TEE-M", 2), ShippedItem("5502", "MUG", 1))
    assert [dataclasses.replace(shipment, shipped_at=None) for shipment in found] == [
        Shipment(
            key=labelled.key,
            carrier="UPS",
            tracking_number="1Z 999",
            tracking_url="https://www.ups.com/track?tracknum=1Z%20999",
            shipped_at=None,
            items=items,
            source_id=f"shipment-{label['shipmentId']}",
        ),
        Shipment(marked.key, None, None, None, None, items, f"order-{marked_id}-shipped"),
    ]
    ship_day = dt.date.fromisoformat(label["shipDate"])
    for shipment in found:
        # The ship date is a Pacific day: its midnight is 07:00 or 08:00 UTC.
        assert shipment.shipped_at is not None and shipment.shipped_at.date() == ship_day
        assert shipment.shipped_at.hour in (7, 8)


def test_shipments_since(sandbox: ShipStationSandbox, backend: ShipStationBackend) -> None:
    labelled, marked = make_order("A-1"), make_order("B-2")
    for order in (labelled, marked):
        submit_one(backend, order)
    sandbox.store.ship(labelled.key)
    sandbox.store.ship(marked.key, with_label=False)
    now = dt.datetime.now(UTC)

    assert {s.key for s in backend.shipments(now - dt.timedelta(hours=1))} == {
        labelled.key,
        marked.key,
    }
    sandbox.clear_requests()
    assert backend.shipments(now + dt.timedelta(hours=1)) == []
    shipments_query, voids_query, orders_query = (entry["query"] for entry in sandbox.requests)
    assert "createDateStart" in shipments_query and shipments_query["includeShipmentItems"]
    assert "voidDateStart" in voids_query
    assert "modifyDateStart" in orders_query and orders_query["orderStatus"] == "shipped"


def test_a_voided_label_is_reported_voided_however_old(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    kept, voided = make_order("A-1"), make_order("B-2")
    for order in (kept, voided):
        submit_one(backend, order)
    sandbox.store.ship(kept.key)
    label = sandbox.store.ship(voided.key)
    assert [s.voided for s in backend.shipments(None)] == [False, False]
    sandbox.store.void_label(label["shipmentId"])

    found = {s.key: s for s in backend.shipments(dt.datetime.now(UTC) - dt.timedelta(minutes=5))}
    assert (found[kept.key].voided, found[voided.key].voided) == (False, True)
    assert found[voided.key].source_id == f"shipment-{label['shipmentId']}"


@pytest.mark.parametrize(
    ("code", "carrier", "url"),
    [
        ("usps", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels=94001"),
        ("stamps_com", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels=94001"),
        ("fedex", "FedEx", "https://www.fedex.com/fedextrack/?trknbr=94001"),
        (
            "dhl_express",
            "DHL Express",
            "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id=94001",
        ),
        ("canada_post", "canada_post", None),
    ],
)
def test_tracking_pages_of_common_carriers(
    sandbox: ShipStationSandbox,
    backend: ShipStationBackend,
    code: str,
    carrier: str,
    url: str | None,
) -> None:
    order = make_order()
    submit_one(backend, order)
    sandbox.store.ship(order.key, tracking_number="94001", carrier_code=code)

    (shipment,) = backend.shipments(None)

    assert (shipment.carrier, shipment.tracking_url) == (carrier, url)


# Cancelling


def test_cancel_an_open_order(sandbox: ShipStationSandbox, backend: ShipStationBackend) -> None:
    order = make_order()
    submit_one(backend, order)
    (before,) = sandbox.store.orders()

    assert backend.cancel(order.key) is True

    (after,) = sandbox.store.orders()
    assert after["orderStatus"] == "cancelled"
    # Sent back whole: an update clears what it leaves out.
    assert {**without_server_fields(after), "orderStatus": "awaiting_shipment"} == (
        without_server_fields(before)
    )
    assert backend.cancel(order.key) is True


def test_cancel_a_shipped_or_unknown_order(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    order = make_order()
    assert backend.cancel(order.key) is False

    submit_one(backend, order)
    sandbox.store.ship(order.key)

    assert backend.cancel(order.key) is False
    (stored,) = sandbox.store.orders()
    assert stored["orderStatus"] == "shipped"


def test_cancel_an_order_pending_fulfillment(
    sandbox: ShipStationSandbox, backend: ShipStationBackend
) -> None:
    """The V1 docs list pending_fulfillment among the statuses an update may change."""
    order = make_order()
    create_raw(
        sandbox, orderNumber="ABCD-1001", orderKey=order.key, orderStatus="pending_fulfillment"
    )

    assert backend.cancel(order.key) is True

    (stored,) = sandbox.store.orders()
    assert stored["orderStatus"] == "cancelled"


# Building from config


def test_make_backend_builds_a_shipstation_backend() -> None:
    backend = make_backend(
        {
            "backend": "shipstation",
            "shipstation_api_key": API_KEY,
            "shipstation_api_secret": API_SECRET,
            "shipstation_store_id": "42",
            "request_timeout": 10,
        }
    )
    assert isinstance(backend, ShipStationBackend)
    assert backend.name == "shipstation"
    assert repr(backend) == (
        "ShipStationBackend(api_url='https://ssapi.shipstation.com', store_id=42)"
    )


def shipstation_config(sandbox: ShipStationSandbox, **settings: Any) -> dict[str, Any]:
    return {
        "backend": "shipstation",
        "shipstation_api_key": API_KEY,
        "shipstation_api_secret": API_SECRET,
        "shipstation_api_url": sandbox.url,
        **settings,
    }


def test_the_configured_user_agent_reaches_shipstation(
    sandbox: ShipStationSandbox, tap: Tap
) -> None:
    configured = "acme-fulfillment/2.1 (ops@acme.example)"
    backend = make_backend(shipstation_config(sandbox, user_agent=configured))

    submit_one(backend, make_order())  # a POST, and the GETs of shipments and lookup
    backend.shipments(None)
    lookup_one(backend, make_order().key)
    backend.close()

    assert tap.calls["/orders/createorders"] == 1 and tap.calls["/shipments"] == 1
    assert set(tap.user_agents) == {configured}


def test_the_default_user_agent_names_the_program_and_version(
    sandbox: ShipStationSandbox, tap: Tap
) -> None:
    backend = make_backend(shipstation_config(sandbox))

    submit_one(backend, make_order())
    backend.close()

    (sent,) = tap.user_agents
    program = f"target-fulfillment/{package_version()}"
    contact = project_contact()  # from [project.urls], when pyproject.toml declares one
    assert sent == (f"{program} (+{contact})" if contact else program)
    assert package_version()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"shipstation_api_key": None}, "`shipstation_api_key` is required"),
        ({"shipstation_api_secret": ""}, "`shipstation_api_secret` is required"),
        ({"shipstation_api_url": "ssapi.shipstation.com"}, "`shipstation_api_url` must be"),
        ({"shipstation_store_id": "store-1"}, "`shipstation_store_id` must be a whole number"),
        ({"shipstation_store_id": True}, "`shipstation_store_id` must be a whole number"),
        ({"request_timeout": 0}, "`request_timeout` must be a positive number"),
        ({"request_timeout": "soon"}, "`request_timeout` must be a positive number"),
        ({"shipstation_rate_limit_max_wait": -1}, "`shipstation_rate_limit_max_wait` must be"),
    ],
)
def test_make_backend_names_a_bad_shipstation_setting(config: dict[str, Any], message: str) -> None:
    full = {"shipstation_api_key": "k", "shipstation_api_secret": "s", **config}
    with pytest.raises(ValueError, match=message):
        make_backend({"backend": "shipstation", **full})
