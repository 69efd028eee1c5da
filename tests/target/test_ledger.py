"""The ledger on real databases: every transition, the races, the catalog, durability."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import threading
import time
import typing as t
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from target_fulfillment.domain import Shipment, ShippedItem
from target_fulfillment.ledger import (
    STATES,
    Claim,
    Ledger,
    LedgerSchemaError,
    OrderEntry,
    schema,
)
from target_fulfillment.order_cache import OrderCache

T = t.TypeVar("T")
UTC = dt.timezone.utc
SHOP = "1001"
#: An order's shipment as a version 4 ledger kept it, in ``fulfillment_orders.shipment``.
V4_SHIPMENT = {
    "key": "bigcartel-1001-1",
    "carrier": "UPS",
    "tracking_number": "1Z999",
    "tracking_url": "https://track.example/1Z999",
    "shipped_at": "2024-05-02T10:00:00+00:00",
    "items": [{"line_item_key": "77", "sku": "TEE-M", "quantity": 2}],
    "source_id": "shipment-5",
}


@pytest.fixture
def open_ledger(db_url: str) -> t.Iterator[Callable[[], Ledger]]:
    """Opens ledgers on the test's database and closes them before the database goes."""
    opened: list[Ledger] = []

    def open_() -> Ledger:
        opened.append(Ledger(db_url))
        return opened[-1]

    yield open_
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: Callable[[], Ledger]) -> Ledger:
    return open_ledger()


def key(order_id: str) -> str:
    return f"bigcartel-{SHOP}-{order_id}"


def claim(ledger: Ledger, order_id: str, payload_hash: str = "h1") -> bool:
    return ledger.claim(SHOP, order_id, key(order_id), payload_hash, "shipstation")


def put_in(ledger: Ledger, order_id: str, state: str | None) -> None:
    """Bring a new order to ``state`` the way the target does (None: no row)."""
    steps: dict[str | None, Callable[[], object]] = {
        "held": lambda: ledger.hold(SHOP, order_id, "no SKU"),
        "submitting": lambda: claim(ledger, order_id),
        "submitted": lambda: ledger.confirm_submitted(SHOP, order_id, "ss-1", "h1"),
        "failed": lambda: ledger.fail(SHOP, order_id, "HTTP 500"),
        "shipped": lambda: ledger.mark_shipped(SHOP, order_id),
        "written_back": lambda: ledger.mark_written_back(SHOP, order_id, "shipment"),
        "cancelled": lambda: ledger.mark_cancelled(SHOP, order_id, "payment failed"),
    }
    path = {
        None: [],
        "held": ["held"],
        "submitting": ["submitting"],
        "submitted": ["submitting", "submitted"],
        "failed": ["submitting", "failed"],
        "shipped": ["submitting", "submitted", "shipped"],
        "written_back": ["submitting", "submitted", "shipped", "written_back"],
        "cancelled": ["held", "cancelled"],
    }[state]
    for step in path:
        assert steps[step]() is True, f"setting up {order_id}: {step}"
    entry = ledger.get(SHOP, order_id)
    assert (entry.state if entry else None) == state


OPERATIONS: dict[str, Callable[[Ledger, str], bool]] = {
    "hold": lambda ledger, order_id: ledger.hold(SHOP, order_id, "new reason"),
    "claim": lambda ledger, order_id: claim(ledger, order_id, "h1"),
    "claim_changed": lambda ledger, order_id: claim(ledger, order_id, "h2"),
    "confirm_submitted": lambda ledger, order_id: ledger.confirm_submitted(
        SHOP, order_id, "ss-9", "h1"
    ),
    "fail": lambda ledger, order_id: ledger.fail(SHOP, order_id, "boom"),
    "mark_shipped": lambda ledger, order_id: ledger.mark_shipped(SHOP, order_id),
    "mark_reopened": lambda ledger, order_id: ledger.mark_reopened(SHOP, order_id),
    "mark_written_back": lambda ledger, order_id: ledger.mark_written_back(SHOP, order_id, "patch"),
    "mark_cancelled": lambda ledger, order_id: ledger.mark_cancelled(SHOP, order_id, "void"),
}
# operation -> {state before (None: no row): state after}; every other start is refused.
ALLOWED: dict[str, dict[str | None, str]] = {
    "hold": {None: "held", "held": "held", "failed": "held"},
    "claim": {None: "submitting", "held": "submitting", "failed": "submitting"},
    "claim_changed": {
        None: "submitting",
        "held": "submitting",
        "failed": "submitting",
        "submitted": "submitting",
    },
    "confirm_submitted": {"submitting": "submitted"},
    "fail": {"submitting": "failed", "held": "failed"},
    "mark_shipped": {"submitted": "shipped", "submitting": "shipped"},
    "mark_reopened": {"shipped": "submitted"},
    "mark_written_back": {"shipped": "written_back"},
    "mark_cancelled": {
        "submitted": "cancelled",
        "submitting": "cancelled",
        "held": "cancelled",
        "failed": "cancelled",
    },
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_transitions_allowed_and_refused(ledger: Ledger, operation: str) -> None:
    outcomes = {}
    for start in (None, *STATES):
        order_id = f"o-{start}"
        put_in(ledger, order_id, start)
        before = ledger.get(SHOP, order_id)
        won = OPERATIONS[operation](ledger, order_id)
        after = ledger.get(SHOP, order_id)
        outcomes[start] = (won, after.state if after else None)
        if not won:
            assert after == before, f"{operation} from {start} was refused but changed the row"
    expected = {
        start: (start in ALLOWED[operation], ALLOWED[operation].get(start, start))
        for start in (None, *STATES)
    }
    assert outcomes == expected


def test_claim_creates_the_intent_record(ledger: Ledger) -> None:
    before = dt.datetime.now(UTC)
    assert claim(ledger, "1", "h1")
    entry = ledger.get(SHOP, "1")
    assert entry is not None
    assert (entry.order_key, entry.state, entry.payload_hash, entry.backend, entry.attempts) == (
        key("1"),
        "submitting",
        "h1",
        "shipstation",
        1,
    )
    assert entry.created_at == entry.updated_at >= before
    assert entry.created_at.tzinfo == UTC
    assert entry.submitted_at is None


def test_claim_again_after_a_failure_counts_the_attempt(ledger: Ledger) -> None:
    assert ledger.hold(SHOP, "1", "no SKU")
    assert claim(ledger, "1")
    assert ledger.fail(SHOP, "1", "HTTP 503")
    assert claim(ledger, "1")
    entry = ledger.get(SHOP, "1")
    assert entry is not None
    assert (entry.state, entry.attempts, entry.hold_reason, entry.last_error) == (
        "submitting",
        2,
        None,
        "HTTP 503",
    )


def test_a_changed_payload_reclaims_a_submitted_order(ledger: Ledger) -> None:
    put_in(ledger, "1", "submitted")
    assert not claim(ledger, "1", "h1"), "same payload: nothing to update"
    assert claim(ledger, "1", "h2")
    assert not claim(ledger, "1", "h3"), "another worker is updating it"
    assert ledger.confirm_submitted(SHOP, "1", "ss-1", "h2")
    entry = ledger.get(SHOP, "1")
    assert entry is not None
    assert (entry.state, entry.payload_hash, entry.attempts) == ("submitted", "h2", 2)
    assert not claim(ledger, "1", "h2")


def test_transitions_record_what_happened(ledger: Ledger) -> None:
    put_in(ledger, "1", "submitted")
    submitted = ledger.get(SHOP, "1")
    assert submitted is not None
    assert (submitted.backend_order_id, submitted.payload_hash) == ("ss-1", "h1")
    assert submitted.submitted_at is not None and submitted.submitted_at.tzinfo == UTC

    assert ledger.mark_shipped(SHOP, "1")
    shipped = ledger.get(SHOP, "1")
    assert shipped is not None
    assert shipped.shipped_at is not None and shipped.shipped_at >= submitted.submitted_at

    assert ledger.mark_written_back(SHOP, "1", "patch")
    done = ledger.get(SHOP, "1")
    assert done is not None
    assert (done.state, done.writeback_method) == ("written_back", "patch")
    assert done.written_back_at is not None and done.written_back_at >= done.shipped_at
    assert done.created_at == submitted.created_at
    assert done.updated_at == done.written_back_at


def test_fail_hold_and_cancel_keep_their_reasons(ledger: Ledger) -> None:
    assert ledger.hold(SHOP, "1", "no SKU for option Blue")
    entry = ledger.get(SHOP, "1")
    assert entry is not None
    assert (entry.order_key, entry.hold_reason, entry.attempts) == (
        key("1"),
        "no SKU for option Blue",
        0,
    )
    assert ledger.hold(SHOP, "1", "no shipping code")
    assert ledger.get(SHOP, "1").hold_reason == "no shipping code"  # type: ignore[union-attr]
    assert ledger.fail(SHOP, "1", "address rejected")
    assert ledger.get(SHOP, "1").last_error == "address rejected"  # type: ignore[union-attr]
    assert ledger.mark_cancelled(SHOP, "1", "payment failed")
    assert ledger.get(SHOP, "1").last_error == "payment failed"  # type: ignore[union-attr]


def test_write_back_method_is_checked(ledger: Ledger) -> None:
    put_in(ledger, "1", "shipped")
    with pytest.raises(ValueError, match="write-back method"):
        ledger.mark_written_back(SHOP, "1", "email")
    assert ledger.get(SHOP, "1").state == "shipped"  # type: ignore[union-attr]


def test_pending_change_is_recorded_and_cleared(ledger: Ledger) -> None:
    put_in(ledger, "1", "submitted")
    assert ledger.record_pending_change(SHOP, "1", "address changed after the warehouse locked it")
    entry = ledger.get(SHOP, "1")
    assert entry is not None
    assert entry.pending_change == "address changed after the warehouse locked it"
    assert entry.state == "submitted"
    assert ledger.clear_pending_change(SHOP, "1")
    assert ledger.get(SHOP, "1").pending_change is None  # type: ignore[union-attr]
    assert not ledger.record_pending_change(SHOP, "unknown", "x")
    assert ledger.get(SHOP, "unknown") is None


def test_in_doubt_lists_the_interrupted_submits_of_gone_workers_only(
    open_ledger: Callable[[], Ledger],
) -> None:
    gone, live, settler = open_ledger(), open_ledger(), open_ledger()
    put_in(gone, "1", "submitting")
    put_in(gone, "2", "submitted")
    put_in(gone, "3", "failed")
    assert gone.claim(SHOP, "4", key("4"), "h1", "other-warehouse")
    put_in(live, "5", "submitting")
    # A live worker's rows are its own to finish, and so are this worker's.
    assert settler.in_doubt("shipstation") == []
    put_in(settler, "6", "submitting")
    assert settler.in_doubt("shipstation") == []
    gone.close()
    assert [e.order_id for e in settler.in_doubt("shipstation")] == ["1"]
    assert [e.order_id for e in settler.in_doubt("other-warehouse")] == ["4"]
    live.close()
    assert [e.order_id for e in settler.in_doubt("shipstation")] == ["1", "5"]


def test_threads_claiming_at_once_share_one_lease(ledger: Ledger) -> None:
    """The first claims of a run come from the submit threads together: one worker, one lock."""
    barrier = threading.Barrier(8)

    def claim_after_barrier(order_id: str) -> bool:
        barrier.wait(timeout=30)
        return claim(ledger, order_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(claim_after_barrier, [str(n) for n in range(8)]))
    assert len({entry.lease_owner for entry in ledger.entries()}) == 1


def test_a_worker_killed_mid_submit_leaves_its_rows_to_settle_at_once(db_url: str) -> None:
    """No clock decides: the moment the process is gone its lock is, whatever the row's age."""
    script = textwrap.dedent(
        f"""
        import sys
        from target_fulfillment.ledger import Ledger
        ledger = Ledger({db_url!r})
        assert ledger.claim("{SHOP}", "1", "{key("1")}", "h1", "shipstation")
        print("claimed", flush=True)
        sys.stdin.read()
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    settler = Ledger(db_url)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "claimed"
        assert settler.in_doubt("shipstation") == []
        worker.kill()
        worker.wait(timeout=30)
        # PostgreSQL's server process of the killed client lets go of its lock a moment later.
        deadline = time.monotonic() + 30
        while not settler.in_doubt("shipstation") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e.order_id for e in settler.in_doubt("shipstation")] == ["1"]
    finally:
        worker.kill()
        settler.close()


def test_listings_and_counts(ledger: Ledger) -> None:
    assert ledger.counts() == {}
    for order_id, state in [("1", "held"), ("2", "held"), ("3", "submitted"), ("4", "shipped")]:
        put_in(ledger, order_id, state)
    assert ledger.hold("2002", "1", "no SKU")

    assert ledger.counts() == {"held": 3, "submitted": 1, "shipped": 1}
    assert [(e.account_id, e.order_id) for e in ledger.by_state("held")] == [
        (SHOP, "1"),
        (SHOP, "2"),
        ("2002", "1"),
    ]
    assert [e.order_id for e in ledger.by_state("held", account_id="2002")] == ["1"]
    assert [e.order_id for e in ledger.entries(SHOP)] == ["1", "2", "3", "4"]
    assert [e.order_id for e in ledger.entries(states=["submitted", "shipped"])] == ["3", "4"]
    assert len(ledger.entries()) == 5
    found = ledger.find_by_key(key("3"))
    assert isinstance(found, OrderEntry)
    assert (found.order_id, found.state) == ("3", "submitted")
    assert ledger.find_by_key("bigcartel-9-9") is None
    with pytest.raises(ValueError, match="unknown ledger states"):
        ledger.entries(states=["sent"])  # type: ignore[list-item]


# Races: each thread has a Ledger of its own, as separate processes would.


def race(attempt: Callable[[int], T], workers: int = 8) -> list[T]:
    """Run ``attempt(0)`` to ``attempt(workers - 1)`` on threads released at the same moment."""
    start = threading.Barrier(workers)

    def run(worker: int) -> T:
        start.wait()
        return attempt(worker)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


@pytest.mark.parametrize("shared", [False, True], ids=["ledger-per-worker", "shared-ledger"])
@pytest.mark.parametrize("start", [None, "held", "failed", "submitted"])
def test_exactly_one_concurrent_claim_wins(
    ledger: Ledger, open_ledger: Callable[[], Ledger], start: str | None, shared: bool
) -> None:
    """Workers on other machines (a ledger each) or the target's thread pool (one ledger)."""
    put_in(ledger, "1", start)
    workers = [ledger] * 8 if shared else [open_ledger() for _ in range(8)]
    results = race(lambda i: claim(workers[i], "1", "h2"))
    assert results.count(True) == 1
    entry = ledger.get(SHOP, "1")
    assert entry is not None
    assert entry.state == "submitting"
    assert entry.attempts == {None: 1, "held": 1, "failed": 2, "submitted": 2}[start]


def claims(*order_ids: str, payload_hash: str = "h1") -> list[Claim]:
    return [Claim(SHOP, order_id, key(order_id), payload_hash) for order_id in order_ids]


def test_claim_many_claims_a_batch_and_says_which_keys_it_won(ledger: Ledger) -> None:
    put_in(ledger, "held", "held")
    put_in(ledger, "failed", "failed")
    put_in(ledger, "sending", "submitting")
    put_in(ledger, "same", "submitted")  # sent as h1: no change, not claimed again
    put_in(ledger, "done", "shipped")

    won = ledger.claim_many(
        claims("new", "held", "failed", "sending", "same", "done"), "shipstation"
    )

    assert won == {key("new"), key("held"), key("failed")}
    states = {entry.order_id: entry.state for entry in ledger.entries()}
    assert states == {
        "new": "submitting",
        "held": "submitting",
        "failed": "submitting",
        "sending": "submitting",
        "same": "submitted",
        "done": "shipped",
    }
    lease_owners = {entry.lease_owner for entry in ledger.by_state("submitting")}
    assert lease_owners == {ledger.lease.owner}
    assert ledger.claim_many([], "shipstation") == set()


def test_claim_many_is_one_transaction(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of 100 is one commit (one fsync on SQLite), not one per order."""
    assert ledger.lease.owner  # taken once, before the first batch
    begun = []
    begin = ledger.engine.begin
    monkeypatch.setattr(ledger.engine, "begin", lambda: begun.append(1) or begin())

    won = ledger.claim_many(claims(*(str(n) for n in range(100))), "shipstation")

    assert len(won) == 100 and len(begun) == 1


def test_confirm_many_records_a_batch_in_one_transaction(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = claims(*(str(n) for n in range(100)))
    ledger.claim_many(batch, "shipstation")
    put_in(ledger, "other", "held")
    begun = []
    begin = ledger.engine.begin
    monkeypatch.setattr(ledger.engine, "begin", lambda: begun.append(1) or begin())

    confirmed = ledger.confirm_many({claim: f"ss-{claim.order_id}" for claim in batch[:99]})
    stray = ledger.confirm_many({Claim(SHOP, "other", key("other"), "h1"): "ss-x"})

    assert confirmed == {claim.order_key for claim in batch[:99]} and stray == set()
    assert len(begun) == 2
    entry = ledger.get(SHOP, "7")
    assert entry is not None and (entry.state, entry.backend_order_id) == ("submitted", "ss-7")
    assert entry.payload_hash == "h1" and entry.submitted_at is not None
    assert {e.order_id for e in ledger.by_state("submitting")} == {"99"}


@pytest.mark.parametrize("shared", [False, True], ids=["ledger-per-worker", "shared-ledger"])
def test_concurrent_batch_claims_win_each_key_once(
    ledger: Ledger, open_ledger: Callable[[], Ledger], shared: bool
) -> None:
    """Overlapping batches in different orders: every key is won by exactly one worker, and
    no two transactions deadlock (the rows are claimed in key order)."""
    order_ids = [str(n) for n in range(40)]
    workers = [ledger] * 4 if shared else [open_ledger() for _ in range(4)]

    def attempt(worker: int) -> set[str]:
        mine = order_ids[worker * 5 :] + order_ids[: worker * 5]  # overlapping, rotated
        return workers[worker].claim_many(claims(*reversed(mine[:30])), "shipstation")

    results = race(attempt, workers=4)

    every = [won_key for won in results for won_key in won]
    assert len(every) == len(set(every))
    assert set(every) == {entry.order_key for entry in ledger.by_state("submitting")}


def test_exactly_one_concurrent_ship_wins(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    put_in(ledger, "1", "submitted")
    workers = [open_ledger() for _ in range(8)]
    results = race(lambda i: workers[i].mark_shipped(SHOP, "1"))
    assert results.count(True) == 1


def test_ledgers_created_at_once_on_an_empty_database(open_ledger: Callable[[], Ledger]) -> None:
    ledgers = race(lambda _: open_ledger())
    assert ledgers[0].hold(SHOP, "1", "no SKU")
    assert all(other.get(SHOP, "1") is not None for other in ledgers)


# Catalog


def test_shops_country(ledger: Ledger) -> None:
    assert ledger.shop_country(SHOP) is None
    ledger.upsert_shop(SHOP, "US", "Tee Shop")
    assert ledger.shop_country(SHOP) == "US"
    ledger.upsert_shop(SHOP, "CA", "Tee Shop")
    assert ledger.shop_country(SHOP) == "CA"
    assert ledger.shop_country("2002") is None


def test_product_upsert_replaces_the_option_set(ledger: Ledger) -> None:
    assert ledger.product(SHOP, "p1") is None
    assert ledger.upsert_product(
        SHOP, "p1", "Tee", "SKU:TEE-", [("o1", "Small"), ("o2", "Large")], "2024-05-01T10:00:00Z"
    )
    product = ledger.product(SHOP, "p1")
    assert product is not None
    assert (product.name, product.description) == ("Tee", "SKU:TEE-")
    assert product.options == {"o1": "Small", "o2": "Large"}

    assert ledger.upsert_product(
        SHOP, "p1", "Tee 2", "SKU:TEE2-", [("o2", "L"), ("o3", "XL")], "2024-05-02T10:00:00Z"
    )
    product = ledger.product(SHOP, "p1")
    assert product is not None
    assert (product.name, product.options) == ("Tee 2", {"o2": "L", "o3": "XL"})

    assert ledger.upsert_product(SHOP, "p1", "Tee 3", None, [], "2024-05-03T10:00:00Z")
    assert ledger.product(SHOP, "p1").options == {}  # type: ignore[union-attr]


def test_an_older_product_version_does_not_roll_the_catalog_back(ledger: Ledger) -> None:
    assert ledger.upsert_product(SHOP, "p1", "New", "d", [("o1", "A")], "2024-05-01T10:00:00Z")
    # 09:30 UTC: older, though its text sorts after the stored one.
    assert not ledger.upsert_product(
        SHOP, "p1", "Old", "d", [("o9", "Z")], "2024-05-01T11:30:00+02:00"
    )
    assert not ledger.upsert_product(
        SHOP, "p1", "Old", "d", [], dt.datetime(2024, 5, 1, 9, 59, tzinfo=UTC)
    )
    product = ledger.product(SHOP, "p1")
    assert product is not None
    assert (product.name, product.options) == ("New", {"o1": "A"})
    assert ledger.upsert_product(SHOP, "p1", "Same", "d", [("o1", "A")], "2024-05-01T10:00:00Z")
    assert ledger.upsert_product(SHOP, "p1", "Undated", "d", [("o1", "A")], None)
    assert not ledger.upsert_product(SHOP, "p1", "Old", "d", [], "2024-05-01T09:00:00Z"), (
        "an undated version keeps the stored timestamp"
    )
    assert ledger.product(SHOP, "p1").name == "Undated"  # type: ignore[union-attr]


def test_concurrent_product_upserts_keep_the_newest(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    base = dt.datetime(2024, 5, 1, tzinfo=UTC)
    workers = [open_ledger() for _ in range(8)]

    def upsert(n: int) -> bool:
        options = [(f"o{n}-{i}", f"v{n}") for i in range(3)]
        return workers[n].upsert_product(SHOP, "p1", f"v{n}", "d", options, base.replace(hour=n))

    race(upsert)
    product = ledger.product(SHOP, "p1")
    assert product is not None
    assert product.name == "v7"
    assert product.options == {f"o7-{i}": "v7" for i in range(3)}


def test_products_listing(ledger: Ledger) -> None:
    ledger.upsert_product("2002", "p1", "Mug", "SKU:MUG", [], None)
    ledger.upsert_product(SHOP, "p2", "Cap", "SKU:CAP", [("o1", "Red")], None)
    ledger.upsert_product(SHOP, "p1", "Tee", "SKU:TEE-", [("o2", "L"), ("o1", "S")], None)
    listed = [(p.account_id, p.product_id, p.name, p.options) for p in ledger.products()]
    assert listed == [
        (SHOP, "p1", "Tee", {"o1": "S", "o2": "L"}),
        (SHOP, "p2", "Cap", {"o1": "Red"}),
        ("2002", "p1", "Mug", {}),
    ]
    assert [p.product_id for p in ledger.products("2002")] == ["p1"]
    assert list(ledger.products("3003")) == []


# Key-value, schema, durability


def test_key_values(ledger: Ledger) -> None:
    assert ledger.get_value("shipments_since:shipstation") is None
    ledger.set_value("shipments_since:shipstation", "2024-05-01T00:00:00+00:00")
    ledger.set_value("shipments_since:shipstation", "2024-05-02T00:00:00+00:00")
    assert ledger.get_value("shipments_since:shipstation") == "2024-05-02T00:00:00+00:00"


def test_tables_are_prefixed_and_versioned(ledger: Ledger) -> None:
    tables = set(sa.inspect(ledger.engine).get_table_names())
    assert {
        "fulfillment_meta",
        "fulfillment_kv",
        "fulfillment_shops",
        "fulfillment_products",
        "fulfillment_product_options",
        "fulfillment_orders",
        "fulfillment_rejected_records",
        "fulfillment_order_documents",
    } <= tables
    assert _schema_version(ledger) == "5"


def _schema_version(ledger: Ledger) -> str:
    with ledger.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT value FROM fulfillment_meta WHERE key = 'schema_version'"
        ).scalar()


def _as_version_4(conn: sa.Connection) -> None:
    """The order table as version 4 had it: one ``shipment`` per order, no ``lines``, no
    shipments table."""
    conn.exec_driver_sql("ALTER TABLE fulfillment_orders DROP COLUMN lines")
    conn.exec_driver_sql("ALTER TABLE fulfillment_orders ADD COLUMN shipment JSON")
    conn.exec_driver_sql("DROP TABLE fulfillment_shipments")


def test_a_version_4_ledger_keeps_each_orders_shipment_as_its_first(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    put_in(ledger, "1", "submitted")
    put_in(ledger, "2", "submitted")
    put_in(ledger, "3", "submitted")
    assert ledger.mark_shipped(SHOP, "1") and ledger.mark_shipped(SHOP, "2")
    assert ledger.mark_written_back(SHOP, "2", "patch")
    with ledger.engine.begin() as conn:
        _as_version_4(conn)
        old = sa.table("fulfillment_orders", sa.column("order_id"), sa.column("shipment", sa.JSON))
        for order_id in ("1", "2"):
            shipment = {**V4_SHIPMENT, "source_id": f"shipment-{order_id}"}
            conn.execute(old.update().where(old.c.order_id == order_id).values(shipment=shipment))
        conn.exec_driver_sql("UPDATE fulfillment_meta SET value = '4'")
    ledger.close()

    upgraded = open_ledger()
    assert _schema_version(upgraded) == "5"
    first, written = upgraded.shipments.of_order(SHOP, "1"), upgraded.shipments.of_order(SHOP, "2")
    assert [(s.source_id, s.state) for s in first] == [("shipment-1", "recorded")]
    assert [(s.state, s.writeback_method) for s in written] == [("written_back", "patch")]
    assert first[0].items == (ShippedItem("77", "TEE-M", 2),)
    assert (first[0].carrier, first[0].tracking_number) == ("UPS", "1Z999")
    assert first[0].shipped_at == dt.datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    assert upgraded.shipments.of_order(SHOP, "3") == []
    assert [s.source_id for s in upgraded.shipments.to_write_back()] == ["shipment-1"]


def test_a_version_2_ledger_is_converted_in_place_keeping_its_rows(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    put_in(ledger, "1", "submitted")
    put_in(ledger, "2", "held")
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE fulfillment_orders DROP COLUMN lease_owner")
        conn.exec_driver_sql("DROP TABLE fulfillment_rejected_records")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "ALTER TABLE fulfillment_shops ALTER COLUMN country TYPE VARCHAR(2)"
            )
        _as_version_4(conn)
        conn.exec_driver_sql("UPDATE fulfillment_meta SET value = '2'")
    ledger.close()
    upgraded = open_ledger()
    assert _schema_version(upgraded) == "5"
    assert upgraded.get(SHOP, "1").state == "submitted"  # type: ignore[union-attr]
    assert claim(upgraded, "2")
    upgraded.upsert_shop(SHOP, "USA", "A shop")
    assert upgraded.shop_country(SHOP) == "USA"
    assert upgraded.reject("orders", "10-01", "X", "bad key", {"id": "X"})


def _version_3_order_documents(metadata: sa.MetaData) -> sa.Table:
    """The order cache's table as version 3 made it, beside the ledger: ``updated_at`` text."""
    return sa.Table(
        "fulfillment_order_documents",
        metadata,
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(128), primary_key=True),
        sa.Column("updated_at", sa.String(64), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("needs_evaluation", sa.Boolean, nullable=False, default=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def test_a_version_3_ledger_is_converted_in_place_keeping_its_order_documents(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    received = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    stored = {
        # As version 3 wrote them: a parsed datetime's text, a record's own text, or nothing.
        "1": "2026-05-01T10:00:00.000000+00:00",
        "2": "2026-05-01T12:00:00+02:00",
        "3": "2026-05-01T10:00:00.1234567Z",
        "4": "",
        "5": "not a time",
    }
    old = _version_3_order_documents(sa.MetaData())
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE fulfillment_order_documents")
        old.create(conn)
        conn.execute(
            old.insert(),
            [
                {
                    "account_id": SHOP,
                    "order_id": order_id,
                    "updated_at": text,
                    "document": json.dumps({"id": order_id, "account_id": SHOP, "v": "old"}),
                    "needs_evaluation": order_id != "1",
                    "received_at": received,
                }
                for order_id, text in stored.items()
            ],
        )
        _as_version_4(conn)
        conn.exec_driver_sql("UPDATE fulfillment_meta SET value = '3'")
    ledger.close()

    upgraded = open_ledger()
    assert _schema_version(upgraded) == "5"
    with upgraded.engine.connect() as conn:
        rows = {row.order_id: row for row in conn.execute(sa.select(schema.order_documents)).all()}
    assert {order_id: row.updated_at for order_id, row in rows.items()} == {
        "1": dt.datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
        "2": dt.datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
        "3": dt.datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC),
        "4": None,
        "5": None,
    }
    assert {row.received_at for row in rows.values()} == {received}
    cache = OrderCache(upgraded.engine)
    assert [record["id"] for record in cache.pending()] == ["2", "3", "4", "5"]

    def version(order_id: str, updated_at: str | None) -> dict[str, t.Any]:
        return {"id": order_id, "account_id": SHOP, "updated_at": updated_at, "v": "new"}

    # Newest wins, compared as instants: an equal time in another zone is not newer.
    assert cache.put_many([version("1", "2026-05-01T11:00:00+01:00")]) == 0
    assert cache.put_many([version("2", "2026-05-01T09:59:59Z")]) == 0
    assert cache.put_many([version("3", "2026-05-01T10:00:00.123457Z")]) == 1
    # A dated version replaces an undated one; an undated one replaces nothing.
    assert cache.put_many([version("4", "2026-01-01T00:00:00Z")]) == 1
    assert cache.put_many([version("1", None)]) == 0
    assert cache.put_many([version("6", None), version("6", "2026-01-01T00:00:00Z")]) == 2
    assert {order_id: cache.get(SHOP, order_id)["v"] for order_id in "123456"} == {  # type: ignore[index]
        "1": "old",
        "2": "old",
        "3": "new",
        "4": "new",
        "5": "old",
        "6": "new",
    }


def test_order_documents_compare_as_instants(ledger: Ledger) -> None:
    cache = OrderCache(ledger.engine)

    def version(updated_at: t.Any, v: str) -> dict[str, t.Any]:
        return {"id": "1", "account_id": SHOP, "updated_at": updated_at, "v": v}

    assert cache.put_many([version(dt.datetime(2026, 5, 1, 12, 0), "naive, UTC")]) == 1
    assert cache.put_many([version("2026-05-01T13:00:00+01:00", "the same instant")]) == 0
    assert cache.put_many([version("2026-05-01T12:00:00.000001Z", "a microsecond newer")]) == 1
    later = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert cache.put_many([version(later, "an hour newer, in New York")]) == 1
    assert cache.get(SHOP, "1")["v"] == "an hour newer, in New York"  # type: ignore[index]
    with ledger.engine.connect() as conn:
        stored = conn.scalar(sa.select(schema.order_documents.c.updated_at))
    assert stored == dt.datetime(2026, 5, 1, 13, 0, tzinfo=UTC)


def test_a_ledger_of_another_schema_version_is_refused(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE fulfillment_meta SET value = '99'")
    with pytest.raises(LedgerSchemaError, match="schema version 99"):
        open_ledger()


def test_writes_survive_the_writer_dying(db_url: str, open_ledger: Callable[[], Ledger]) -> None:
    """A process that exits without any clean-up has still made its writes durable."""
    script = textwrap.dedent(
        f"""
        import os, sys
        from target_fulfillment.ledger import Ledger
        ledger = Ledger(sys.argv[1])
        assert ledger.claim("{SHOP}", "1", "{key("1")}", "h1", "shipstation")
        assert ledger.confirm_submitted("{SHOP}", "1", "ss-1", "h1")
        ledger.upsert_product("{SHOP}", "p1", "Tee", "SKU:T", [("o1", "S")], None)
        ledger.set_value("k", "v")
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script, db_url], check=True, timeout=120)
    reader = open_ledger()
    entry = reader.get(SHOP, "1")
    assert entry is not None
    assert (entry.state, entry.backend_order_id) == ("submitted", "ss-1")
    assert reader.product(SHOP, "p1").options == {"o1": "S"}  # type: ignore[union-attr]
    assert reader.get_value("k") == "v"


def test_a_second_ledger_sees_the_first_ones_writes(open_ledger: Callable[[], Ledger]) -> None:
    first, second = open_ledger(), open_ledger()
    assert first.hold(SHOP, "1", "no SKU")
    assert second.get(SHOP, "1").state == "held"  # type: ignore[union-attr]
    assert claim(second, "1")
    assert first.get(SHOP, "1").state == "submitting"  # type: ignore[union-attr]
    assert not claim(first, "1")


def test_sqlite_uses_wal_and_a_busy_timeout(sqlite_url: str) -> None:
    ledger = Ledger(sqlite_url)
    try:
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        ledger.close()


def test_timestamps_are_utc_whatever_the_postgres_session_zone(postgres_url: str) -> None:
    url = sa.make_url(postgres_url)
    tokyo = url.update_query_dict({"options": url.query["options"] + " -ctimezone=Asia/Tokyo"})
    ledger = Ledger(tokyo)
    try:
        before = dt.datetime.now(UTC)
        assert ledger.hold(SHOP, "1", "no SKU")
        entry = ledger.get(SHOP, "1")
        assert entry is not None
        assert entry.created_at.tzinfo == UTC
        assert before <= entry.created_at <= dt.datetime.now(UTC)
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW timezone").scalar() == "Asia/Tokyo"
    finally:
        ledger.close()


# Shipments


def _shipment(source_id: str, *items: ShippedItem, tracking: str = "1Z1") -> Shipment:
    return Shipment(
        key=key("1"),
        carrier="UPS",
        tracking_number=tracking,
        tracking_url=None,
        shipped_at=dt.datetime(2024, 5, 2, 10, 0, tzinfo=UTC),
        items=items or (ShippedItem("77", "TEE-M", 1),),
        source_id=source_id,
    )


def test_each_shipment_is_recorded_once_under_its_own_id(ledger: Ledger) -> None:
    put_in(ledger, "1", "submitted")
    assert ledger.shipments.record("shipstation", SHOP, "1", _shipment("s-1"))
    assert not ledger.shipments.record("shipstation", SHOP, "1", _shipment("s-1", tracking="X"))
    assert ledger.shipments.record("shipstation", SHOP, "1", _shipment("s-2", tracking="2"))
    assert ledger.shipments.record("shipstation_v2", SHOP, "1", _shipment("s-1"))
    rows = ledger.shipments.of_order(SHOP, "1")
    assert sorted((r.backend, r.source_id, r.tracking_number) for r in rows) == [
        ("shipstation", "s-1", "1Z1"),
        ("shipstation", "s-2", "2"),
        ("shipstation_v2", "s-1", "1Z1"),
    ]
    assert rows[0].items == (ShippedItem("77", "TEE-M", 1),)
    assert {r.state for r in ledger.shipments.to_write_back()} == {"recorded"}


def test_a_void_before_write_back_keeps_it_unwritten_and_one_after_is_reported(
    ledger: Ledger,
) -> None:
    put_in(ledger, "1", "shipped")
    for source_id in ("early", "late", "in-flight", "claimed"):
        ledger.shipments.record("shipstation", SHOP, "1", _shipment(source_id))
    claimed, early, in_flight, late = ledger.shipments.claim_order(SHOP, "1")
    assert ledger.shipments.begin_posting(in_flight, {"77": 1})
    assert ledger.shipments.begin_posting(late, {"77": 1})
    assert ledger.shipments.written_back(late, "shipment")
    ledger.shipments.release([early])

    assert ledger.shipments.void("shipstation", "early") == "recorded"
    assert ledger.shipments.void("shipstation", "claimed") == "recorded"  # nothing sent
    assert ledger.shipments.void("shipstation", "in-flight") == "posting"
    assert ledger.shipments.void("shipstation", "late") == "written_back"
    for source_id in ("early", "late", "in-flight", "claimed", "unknown"):
        assert ledger.shipments.void("shipstation", source_id) is None  # noted once
    states = {r.source_id: r.state for r in ledger.shipments.of_order(SHOP, "1")}
    assert states == {
        "early": "voided",
        "claimed": "voided",
        "in-flight": "void_reported",
        "late": "void_reported",
    }
    assert ledger.shipments.to_write_back() == []
    assert not ledger.shipments.written_back(early, "shipment")
    assert not ledger.shipments.begin_posting(claimed, {"77": 1})


def test_an_orders_shipments_are_claimed_by_one_worker_until_it_is_gone(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    put_in(ledger, "1", "shipped")
    worker = open_ledger()
    worker.shipments.record("shipstation", SHOP, "1", _shipment("s-1"))
    (entry,) = worker.shipments.claim_order(SHOP, "1")
    assert worker.shipments.begin_posting(entry, {"77": 1})
    worker.shipments.record("shipstation", SHOP, "1", _shipment("s-2"))
    # Its worker may be posting right now: no other worker takes this order's shipments, not
    # even the one recorded since.
    assert ledger.shipments.claim_order(SHOP, "1") == []
    assert not ledger.shipments.begin_posting(entry, {"77": 1})
    assert not ledger.shipments.written_back(entry, "shipment")

    worker.close()
    left = ledger.shipments.to_write_back()
    assert [(e.source_id, e.state, e.expected) for e in left] == [
        ("s-1", "posting", {"77": 1}),
        ("s-2", "recorded", None),
    ]
    settlers = [open_ledger() for _ in range(6)]
    claims = race(lambda i: settlers[i].shipments.claim_order(SHOP, "1"), workers=6)
    assert sorted(len(claim) for claim in claims) == [0, 0, 0, 0, 0, 2]


def test_a_refused_write_back_goes_back_to_recorded_with_its_reason(ledger: Ledger) -> None:
    put_in(ledger, "1", "shipped")
    ledger.shipments.record("shipstation", SHOP, "1", _shipment("s-1"))
    (entry,) = ledger.shipments.claim_order(SHOP, "1")
    assert ledger.shipments.begin_posting(entry, {"77": 1})
    assert ledger.shipments.not_written(entry, "422 from Big Cartel")
    (again,) = ledger.shipments.to_write_back()
    assert (again.state, again.expected, again.last_error) == (
        "recorded",
        None,
        "422 from Big Cartel",
    )
    assert not ledger.shipments.begin_posting(again, {"77": 1})  # not claimed
    with pytest.raises(ValueError, match="write-back method"):
        ledger.shipments.written_back(again, "email")
