"""kill -9 the target while it writes shipments back; a re-run posts each one exactly once.

Big Cartel's shipments POST takes no idempotency key, so exactly once rests on the ledger's
``posting`` row and the order's read-back. Every sent order leaves the warehouse in two parcels
where it has two units (one otherwise); the target is killed after a random number of shipments
reached Big Cartel, or while a POST Big Cartel has stored goes unanswered. Then every parcel
must be on its Big Cartel order once, with its tracking number, and every order finished.
"""

from __future__ import annotations

import collections
import random
import signal
import threading
import time
import typing as t
from pathlib import Path

import pytest
from pipeline import record_tap, start_target, target_config

from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.ledger import Ledger

SS_KEY, SS_SECRET = "wb-crash-key", "wb-crash-secret"
TRIALS = 4


class Shop:
    """A Big Cartel shop whose paid orders are at the warehouse and shipped, not written back."""

    def __init__(self, workdir: Path, ledger_url: str) -> None:
        self.workdir = workdir
        self.bc = Sandbox(SandboxConfig(shops=1, orders_per_shop=40, products_per_shop=8, seed=5))
        self.ss = ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET)
        self.bc.__enter__()
        self.ss.__enter__()
        self.messages = record_tap(workdir, self.bc)
        self.settings = target_config(
            self.bc,
            workdir,
            backend="shipstation",
            shipstation_api_url=self.ss.url,
            shipstation_api_key=SS_KEY,
            shipstation_api_secret=SS_SECRET,
            ledger_url=ledger_url,
        )
        # The first run sends the orders; no write-back yet, nothing is shipped.
        assert self.run("send").wait(timeout=120) == 0, self.stderr("send")
        self.parcels: dict[str, list[str]] = collections.defaultdict(list)
        for order in self.ss.store.orders():
            key, items = order["orderKey"], order["items"]
            if sum(int(item["quantity"]) for item in items) >= 2:
                first = {"lineItemKey": items[0]["lineItemKey"], "quantity": 1}
                self.parcels[key].append(
                    self.ss.store.ship(key, tracking_number=f"{key}-1", items=[first])[
                        "trackingNumber"
                    ]
                )
            self.parcels[key].append(
                self.ss.store.ship(key, tracking_number=f"{key}-2")["trackingNumber"]
            )
        assert sum(len(p) >= 2 for p in self.parcels.values()) >= 5

    def close(self) -> None:
        self.ss.__exit__(None, None, None)
        self.bc.__exit__(None, None, None)

    def run(self, name: str) -> t.Any:
        return start_target(self.workdir, self.settings, self.messages, name=name)

    def stderr(self, name: str) -> str:
        return (self.workdir / f"{name}.err").read_text()[-3000:]

    def posted(self) -> int:
        return sum(len(self.written(key)) for key in self.parcels)

    def written(self, key: str) -> list[str | None]:
        account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
        return [s["tracking_number"] for s in self.bc.store.shipments(account_id, order_id)]

    def check_exactly_once(self, context: str) -> None:
        for key, parcels in self.parcels.items():
            assert sorted(self.written(key)) == sorted(parcels), f"{context}: {key}"
        ledger = Ledger(self.settings["ledger_url"])
        try:
            states = collections.Counter(
                row.state
                for key in self.parcels
                for row in ledger.shipments.of_order(*key.removeprefix("bigcartel-").split("-", 1))
            )
            finished = {e.order_key for e in ledger.by_state("written_back")}
        finally:
            ledger.close()
        assert states == {"written_back": sum(map(len, self.parcels.values()))}, context
        assert finished == set(self.parcels), context


def _kill_when(process: t.Any, condition: t.Callable[[], bool]) -> None:
    while process.poll() is None and not condition():
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return t.cast(str, request.getfixturevalue("postgres_url"))


def test_kill_minus_nine_while_writing_back_posts_each_shipment_once(
    ledger_url: str, tmp_path: Path
) -> None:
    shop = Shop(tmp_path, ledger_url)
    try:
        total = sum(map(len, shop.parcels.values()))
        rng = random.Random(f"writeback-{ledger_url.split(':')[0]}")
        kills = sorted(rng.sample(range(total), TRIALS))
        shop.bc.faults.configure(delay_seconds=0.005)
        for trial, kill_after in enumerate(kills):
            _kill_when(shop.run(f"killed-{trial}"), lambda n=kill_after: shop.posted() > n)
        shop.bc.faults.reset()
        assert shop.run("rerun").wait(timeout=120) == 0, shop.stderr("rerun")
        shop.check_exactly_once(f"killed after {kills} shipments")
    finally:
        shop.close()


def test_a_post_stored_but_never_answered_is_settled_by_the_read_back(
    ledger_url: str, tmp_path: Path
) -> None:
    shop = Shop(tmp_path, ledger_url)
    try:
        stored, release = threading.Event(), threading.Event()
        create = shop.bc.store.create_shipment

        def stored_then_unanswered(*args: t.Any, **kwargs: t.Any) -> dict:
            document = create(*args, **kwargs)
            if not stored.is_set():
                stored.set()
                release.wait(30)
            return document

        shop.bc.store.create_shipment = stored_then_unanswered  # type: ignore[method-assign]
        _kill_when(shop.run("killed"), stored.is_set)
        release.set()
        shop.bc.store.create_shipment = create  # type: ignore[method-assign]
        assert shop.posted() == 1
        ledger = Ledger(shop.settings["ledger_url"])
        try:
            # The killed worker's claim: the one POST it sent (its expected counts kept) and
            # the order's other shipments, claimed and not sent.
            (left,) = [r for r in ledger.shipments.to_write_back() if r.expected is not None]
        finally:
            ledger.close()

        assert shop.run("rerun").wait(timeout=120) == 0, shop.stderr("rerun")
        shop.check_exactly_once("after a stored, unanswered POST")
        key = f"bigcartel-{left.account_id}-{left.order_id}"
        assert shop.written(key).count(left.tracking_number) == 1
    finally:
        shop.close()


def test_two_workers_writing_back_at_once_post_each_parcel_once_with_its_items(
    ledger_url: str, tmp_path: Path
) -> None:
    shop = Shop(tmp_path, ledger_url)
    try:
        first_lines = {
            order["orderKey"]: str(order["items"][0]["lineItemKey"])
            for order in shop.ss.store.orders()
        }
        shop.bc.faults.configure(delay_seconds=0.002)
        workers = [shop.run(f"worker-{n}") for n in range(2)]
        codes = [worker.wait(timeout=300) for worker in workers]
        assert codes == [0, 0], [shop.stderr(f"worker-{n}") for n in range(2)]
        shop.bc.faults.reset()
        shop.check_exactly_once("two workers at once")
        for key, parcels in shop.parcels.items():
            if len(parcels) == 2:
                account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
                items = {
                    s["tracking_number"]: {
                        i["order_line_item_id"]: i["quantity"] for i in s["items"]
                    }
                    for s in shop.bc.store.shipments(account_id, order_id)
                }
                assert items[parcels[0]] == {first_lines[key]: 1}, key
    finally:
        shop.close()
