"""Every warehouse shipment written back once, through tap | target against the emulators.

An order that leaves in two parcels gets two Big Cartel shipments, each with its own items and
tracking number, and is finished only when its last unit is shipped; a label voided before its
write-back is never written, one voided after is reported. What Big Cartel holds is read from
its emulator's store, what the ledger holds from the ledger, so a shipment posted twice, posted
with the wrong items or lost shows as such.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest
from emulator_api import documents
from pipeline import PipelineRun, run_pipeline, tap_config, target_config

from bigcartel_core import jsonapi
from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox import ShipStationSandbox
from shipstation_sandbox.v2 import ShipStationV2Sandbox
from target_fulfillment.ledger import Ledger

SS_KEY, SS_SECRET = "split-key", "split-secret"
V2_KEY, WAREHOUSE = "split-v2-key", "se-1"


@pytest.fixture
def bc() -> t.Iterator[Sandbox]:
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=40, products_per_shop=12, seed=21)) as sb:
        yield sb


class Runs:
    """Successive pipeline runs sharing a ledger and the Singer state."""

    def __init__(self, bc: Sandbox, workdir: Path, settings: dict[str, t.Any]) -> None:
        self.bc, self.workdir = bc, workdir
        self.settings = target_config(bc, workdir, **settings)
        self.state: dict | None = None

    def run(self) -> PipelineRun:
        result = run_pipeline(self.workdir, tap_config(self.bc), self.settings, state=self.state)
        assert result.target_returncode == 0, result.stderr[-3000:]
        self.state = result.state
        return result

    def ledger(self) -> Ledger:
        return Ledger(self.settings["ledger_url"])


def v1_settings(ss: ShipStationSandbox, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "backend": "shipstation",
        "shipstation_api_url": ss.url,
        "shipstation_api_key": SS_KEY,
        "shipstation_api_secret": SS_SECRET,
        **extra,
    }


def _ids(key: str) -> tuple[str, str]:
    account_id, order_id = key.removeprefix("bigcartel-").split("-", 1)
    return account_id, order_id


def _written(bc: Sandbox, key: str) -> list[tuple[str | None, dict[str, int]]]:
    """Big Cartel's shipments of the order: tracking number and line item id → units."""
    return [
        (s["tracking_number"], {i["order_line_item_id"]: i["quantity"] for i in s["items"]})
        for s in bc.store.shipments(*_ids(key))
    ]


def _bc_order(bc: Sandbox, key: str) -> dict[str, t.Any]:
    """The order as Big Cartel's API answers it."""
    account_id, order_id = _ids(key)
    shop = next(shop for shop in bc.shops if str(shop.account_id) == account_id)
    (page,) = documents(bc, shop, f"/v1/accounts/{account_id}/orders/{order_id}")
    return next(jsonapi.records(page))


def _units(items: list[dict[str, t.Any]], key: str = "lineItemKey") -> dict[str, int]:
    units: dict[str, int] = collections.Counter()
    for item in items:
        units[str(item[key])] += int(item["quantity"])
    return dict(units)


def test_v1_split_parcels_are_written_back_each_once_and_finish_the_order(
    bc: Sandbox, tmp_path: Path
) -> None:
    with ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET) as ss:
        runs = Runs(
            bc,
            tmp_path,
            v1_settings(ss),
        )
        runs.run()
        sent = {order["orderKey"]: order for order in ss.store.orders()}
        several = [k for k, o in sorted(sent.items()) if sum(_units(o["items"]).values()) >= 2]
        assert len(several) >= 3, "the seeded shop has orders of two units or more"
        split, voided_early, voided_late = several[:3]

        # Parcel 1 of `split` carries one unit of its first line; `voided_early` gets a label
        # that is voided before any run sees it; `voided_late` ships whole.
        first_line = str(sent[split]["items"][0]["lineItemKey"])
        ss.store.ship(
            split, tracking_number="PART-1", items=[{"lineItemKey": first_line, "quantity": 1}]
        )
        early = ss.store.ship(voided_early, tracking_number="VOID-EARLY")
        ss.store.void_label(early["shipmentId"])
        late = ss.store.ship(voided_late, tracking_number="LATE-1")
        runs.run()

        assert _written(bc, split) == [("PART-1", {first_line: 1})]
        assert _bc_order(bc, split)["shipping_status"] == "unshipped"
        assert _written(bc, voided_early) == []
        assert _written(bc, voided_late) == [("LATE-1", _units(sent[voided_late]["items"]))]
        ledger = runs.ledger()
        assert ledger.find_by_key(split).state == "shipped"  # type: ignore[union-attr]
        assert ledger.find_by_key(voided_late).state == "written_back"  # type: ignore[union-attr]
        assert ledger.find_by_key(voided_early).state == "submitted"  # type: ignore[union-attr]
        ledger.close()

        # Parcel 2 carries the rest; the early void is shipped again; the late label is voided
        # after its tracking reached Big Cartel.
        ss.store.ship(split, tracking_number="PART-2")
        ss.store.ship(voided_early, tracking_number="AGAIN-1")
        ss.store.void_label(late["shipmentId"])
        third = runs.run()

        rest = _units(sent[split]["items"])
        rest[first_line] -= 1
        assert _written(bc, split) == [
            ("PART-1", {first_line: 1}),
            ("PART-2", {line: n for line, n in rest.items() if n}),
        ]
        assert _bc_order(bc, split)["shipping_status"] == "shipped"
        assert _written(bc, voided_early) == [("AGAIN-1", _units(sent[voided_early]["items"]))]
        assert len(_written(bc, voided_late)) == 1
        ledger = runs.ledger()
        assert ledger.find_by_key(split).state == "written_back"  # type: ignore[union-attr]
        late_rows = ledger.shipments.of_order(*_ids(voided_late))
        assert [row.state for row in late_rows] == ["void_reported"]
        early_rows = ledger.shipments.of_order(*_ids(voided_early))
        assert [(r.tracking_number, r.state) for r in early_rows] == [("AGAIN-1", "written_back")]
        ledger.close()
        assert voided_late in third.stderr and "voided" in third.stderr

        # A run with nothing new posts nothing and reports the void no more.
        posts = len(bc.store.shipments(*_ids(split)))
        fourth = runs.run()
        assert len(bc.store.shipments(*_ids(split))) == posts == 2
        assert voided_late not in fourth.stderr


def test_v2_split_shipment_and_multi_package_label_are_written_back_once_each(
    bc: Sandbox, tmp_path: Path
) -> None:
    with ShipStationV2Sandbox(api_key=V2_KEY) as ss:
        runs = Runs(
            bc,
            tmp_path,
            {
                "backend": "shipstation_v2",
                "shipstation_v2_api_url": ss.url + "/v2",
                "shipstation_v2_api_key": V2_KEY,
                "shipstation_v2_warehouse_id": WAREHOUSE,
                "default_package_weight": {"value": 1.5, "unit": "pound"},
            },
        )
        runs.run()
        sent = {s["external_shipment_id"]: s for s in ss.store.shipments()}
        several = [
            k
            for k, s in sorted(sent.items())
            if sum(_units(s["items"], "external_order_item_id").values()) >= 2
        ]
        assert len(several) >= 2
        split, packages = several[:2]
        first = sent[split]["items"][0]
        item_id = str(first["external_order_item_id"])
        # The warehouse splits one unit off `split` into a shipment of its own; each part gets
        # a label. `packages` leaves in one label of two packages.
        _, part = ss.store.split_shipment(
            sent[split]["shipment_id"], [{"external_order_item_id": item_id, "quantity": 1}]
        )
        ss.store.create_label(shipment_id=part["shipment_id"], tracking_numbers=["V2-PART-1"])
        runs.run()
        assert _written(bc, split) == [("V2-PART-1", {item_id: 1})]
        ss.store.create_label(
            shipment_id=sent[split]["shipment_id"], tracking_numbers=["V2-PART-2"]
        )
        ss.store.create_label(
            shipment_id=sent[packages]["shipment_id"], tracking_numbers=["V2-PKG-1", "V2-PKG-2"]
        )
        runs.run()

        rest = _units(sent[split]["items"], "external_order_item_id")
        rest[item_id] -= 1
        assert _written(bc, split) == [
            ("V2-PART-1", {item_id: 1}),
            ("V2-PART-2", {line: n for line, n in rest.items() if n}),
        ]
        assert _written(bc, packages) == [
            ("V2-PKG-1", _units(sent[packages]["items"], "external_order_item_id"))
        ]
        ledger = runs.ledger()
        for key in (split, packages):
            assert ledger.find_by_key(key).state == "written_back"  # type: ignore[union-attr]
        ledger.close()
        runs.run()
        assert len(_written(bc, split)) == 2 and len(_written(bc, packages)) == 1


def test_file_parcels_named_by_sku_are_placed_on_their_lines_and_a_void_is_never_written(
    bc: Sandbox, tmp_path: Path
) -> None:
    runs = Runs(bc, tmp_path, {"backend": "file"})
    runs.run()
    sent = {
        path.stem: json.loads(path.read_text())
        for path in (tmp_path / "outbox").glob("bigcartel-*.json")
    }
    several = [
        k for k, o in sorted(sent.items()) if sum(_units(o["items"], "line_item_key").values()) >= 2
    ]
    assert len(several) >= 2
    split, voided = several[:2]
    inbox = tmp_path / "inbox"

    def drop(name: str, key: str, **fields: t.Any) -> None:
        document = {"format": "bigcartel-fulfillment/shipment@1", "order_key": key, **fields}
        (inbox / f"{name}.json").write_text(json.dumps(document))

    first = sent[split]["items"][0]
    # Parcel 1 names its item by SKU alone, parcel 2 names nothing: every unit left.
    drop(
        "p1",
        split,
        shipment_id="P-1",
        tracking_number="FILE-1",
        items=[{"sku": first["sku"], "quantity": 1}],
    )
    drop("p2", split, shipment_id="P-2", tracking_number="FILE-2")
    drop("p3", split, shipment_id="P-2", tracking_number="FILE-2")  # sent twice
    drop("v1", voided, shipment_id="V-1", tracking_number="GONE-1")
    drop("v2", voided, shipment_id="V-1", voided=True)
    runs.run()

    rest = _units(sent[split]["items"], "line_item_key")
    rest[str(first["line_item_key"])] -= 1
    assert _written(bc, split) == [
        ("FILE-1", {str(first["line_item_key"]): 1}),
        ("FILE-2", {line: n for line, n in rest.items() if n}),
    ]
    assert _written(bc, voided) == []
    ledger = runs.ledger()
    assert ledger.find_by_key(split).state == "written_back"  # type: ignore[union-attr]
    assert [r.state for r in ledger.shipments.of_order(*_ids(voided))] == ["voided"]
    # Open at the warehouse again, so it takes updates and cancels as before its label.
    assert ledger.find_by_key(voided).state == "submitted"  # type: ignore[union-attr]
    ledger.close()

    def admin(*args: str) -> list[list[str]]:
        command = [sys.executable, "-m", "target_fulfillment.admin", "--config"]
        result = subprocess.run(
            [*command, str(tmp_path / "target.json"), "shipments", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return [line.split() for line in result.stdout.splitlines()[1:] if line.strip()][:-1]

    rows = {(row[2], row[3]) for row in admin()}
    assert rows == {
        ("shipment:P-1", "written_back"),
        ("shipment:P-2", "written_back"),
        ("shipment:V-1", "voided"),
    }
    assert [row[2] for row in admin("--state", "voided")] == ["shipment:V-1"]


def test_a_parcel_the_seller_already_shipped_by_hand_is_not_posted_again(
    bc: Sandbox, tmp_path: Path
) -> None:
    runs = Runs(bc, tmp_path, {"backend": "file"})
    runs.run()
    key = sorted(p.stem for p in (tmp_path / "outbox").glob("bigcartel-*.json"))[0]
    account_id, order_id = _ids(key)
    order = _bc_order(bc, key)
    everything = {
        "carrier": "ups",
        "tracking_number": "BY-HAND",
        "items": [
            {"order_line_item_id": str(item["id"]), "quantity": item["quantity_unshipped"]}
            for item in order["items"]
        ],
    }
    bc.store.create_shipment(account_id, order_id, everything, bc.url)
    document = {
        "format": "bigcartel-fulfillment/shipment@1",
        "order_key": key,
        "shipment_id": "W-1",
    }
    (tmp_path / "inbox" / "w1.json").write_text(json.dumps(document))
    runs.run()

    assert [tracking for tracking, _ in _written(bc, key)] == ["BY-HAND"]
    ledger = runs.ledger()
    entry = ledger.find_by_key(key)
    assert entry is not None and (entry.state, entry.writeback_method) == (
        "written_back",
        "already",
    )
    (shipment,) = ledger.shipments.of_order(account_id, order_id)
    assert (shipment.state, shipment.writeback_method) == ("written_back", "already")
    ledger.close()


def test_shops_are_written_back_at_once_and_each_one_request_at_a_time(tmp_path: Path) -> None:
    config = SandboxConfig(shops=3, orders_per_shop=20, products_per_shop=8, seed=31)
    with Sandbox(config) as bc:
        runs = Runs(bc, tmp_path, {"backend": "file", "max_concurrency": 3})
        runs.run()
        sent = sorted(p.stem for p in (tmp_path / "outbox").glob("bigcartel-*.json"))
        for number, key in enumerate(sent):
            document = {"format": "bigcartel-fulfillment/shipment@1", "order_key": key}
            (tmp_path / "inbox" / f"s{number}.json").write_text(json.dumps(document))
        accounts = {_ids(key)[0] for key in sent}
        assert len(accounts) == 3

        # The first POSTs of two shops meet at a barrier: written one shop after the other,
        # the first would wait in vain.
        meet = threading.Barrier(2, timeout=15)
        missed: list[str] = []
        lock = threading.Lock()
        in_flight: collections.Counter[str] = collections.Counter()
        most: collections.Counter[str] = collections.Counter()
        create = bc.store.create_shipment

        def watched(account_id: str, *args: t.Any, **kwargs: t.Any) -> dict:
            with lock:
                in_flight[account_id] += 1
                first = account_id not in most
                most[account_id] = max(most[account_id], in_flight[account_id])
                meeting = first and len(most) <= 2
            try:
                if meeting:
                    try:
                        meet.wait()
                    except threading.BrokenBarrierError:
                        missed.append(account_id)
                return create(account_id, *args, **kwargs)
            finally:
                with lock:
                    in_flight[account_id] -= 1

        bc.store.create_shipment = watched  # type: ignore[method-assign]
        runs.run()

        assert not missed, "the shops were written back one after the other"
        assert set(most) == accounts and set(most.values()) == {1}
        assert all(len(_written(bc, key)) == 1 for key in sent)


def test_a_shipment_the_ledger_cannot_record_is_reported_and_the_others_go_on(
    bc: Sandbox, tmp_path: Path, postgres_url: str
) -> None:
    with ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET) as ss:
        runs = Runs(
            bc,
            tmp_path,
            v1_settings(ss, ledger_url=postgres_url),
        )
        runs.run()
        nul, too_long, plain = sorted(order["orderKey"] for order in ss.store.orders())[:3]
        for key in (nul, too_long, plain):
            ss.store.ship(key, tracking_number=f"T-{key}")
        # The warehouse's words, as a test double can make them: a NUL byte in a tracking
        # number, and a shipment id longer than the ledger's column for it (on PostgreSQL).
        labels = {label["orderKey"]: label for label in ss.store._shipments}
        labels[nul]["trackingNumber"] = "1Z\x00NUL"
        real_id = labels[too_long]["shipmentId"]
        labels[too_long]["shipmentId"] = 10**300
        ledger = runs.ledger()
        watermark = ledger.get_value("shipments_since:shipstation")
        ledger.close()

        failing = run_pipeline(tmp_path, tap_config(bc), runs.settings, state=runs.state)
        assert failing.target_returncode == 1
        assert too_long in failing.stderr and "not recorded" in failing.stderr
        assert _written(bc, nul) == [("1Z\ufffdNUL", _units(_sent_items(ss, nul)))]
        assert len(_written(bc, plain)) == 1 and _written(bc, too_long) == []
        ledger = runs.ledger()
        assert ledger.get_value("shipments_since:shipstation") == watermark  # listed again
        ledger.close()

        labels[too_long]["shipmentId"] = real_id
        runs.state = failing.state
        runs.run()
        assert [len(_written(bc, key)) for key in (nul, too_long, plain)] == [1, 1, 1]


def _sent_items(ss: ShipStationSandbox, key: str) -> list[dict[str, t.Any]]:
    (order,) = [order for order in ss.store.orders() if order["orderKey"] == key]
    return list(order["items"])
