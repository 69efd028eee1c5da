"""An error nobody foresaw stays at its order: the others are sent, and nothing is lost.

In-process, on a real SQLite ledger and the real file backend, so the fault can be placed
exactly: a setting broken past the start-up checks, and a warehouse that fails in a way its
contract does not declare.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Sequence
from pathlib import Path

from target_fulfillment.attributes import product_attributes
from target_fulfillment.backends.base import BackendError, Submission
from target_fulfillment.backends.file import FileBackend
from target_fulfillment.fulfillment import Fulfillment, Settings
from target_fulfillment.ledger import Ledger
from target_fulfillment.order_cache import OrderCache
from target_fulfillment.summary import RunSummary

SHOP = "1001"
CODES = {"DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"}}


def _order(order_id: str, country: str = "US") -> dict[str, t.Any]:
    return {
        "id": order_id,
        "account_id": SHOP,
        "payment_status": "completed",
        "shipping_status": "unshipped",
        "customer_first_name": "Ada",
        "shipping_address_1": "1 Main St",
        "shipping_city": "Springfield",
        "shipping_country": {"id": country},
        "total": "9.00",
        "currency": {"id": "USD"},
        "updated_at": "2026-05-01T12:00:00+00:00",
        "items": [{"id": f"{order_id}-1", "product_id": "10", "quantity": 1, "price": "9.00"}],
    }


class FlakyWarehouse(FileBackend):
    """The file backend, but a batch holding one key fails with an error no backend declares.

    One order per batch, so that the error is that order's alone.
    """

    batch_size = 1

    def __init__(self, outbox: Path, inbox: Path, broken_key: str | None) -> None:
        super().__init__(outbox, inbox)
        self.broken_key = broken_key

    def submit_batch(self, submissions: Sequence[Submission]) -> dict[str, str | BackendError]:
        if any(submission.order.key == self.broken_key for submission in submissions):
            raise TypeError("a bug in a backend")
        return super().submit_batch(submissions)


def _run(tmp_path: Path, backend: FileBackend, codes: t.Any = CODES) -> RunSummary:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upsert_product(SHOP, "10", "Mug", "SKU: MUG", [], None)
    ledger.upsert_shop(SHOP, "US", "Shop")
    cache = OrderCache(ledger.engine)
    summary = RunSummary()
    settings = Settings(
        sku_overrides={},
        shipping_codes=codes,
        origin_country=None,
        max_concurrency=2,
        dry_run=False,
        notify_customer=False,
        # The ABROAD orders' customs declaration needs these.
        product_attributes=product_attributes(
            {"MUG": {"description": "Mug", "hs_code": "6912.00", "country_of_origin": "US"}}
        ),
    )
    try:
        Fulfillment(
            ledger=ledger,
            cache=cache,
            backend=backend,
            writer=None,
            settings=settings,
            summary=summary,
            logger=logging.getLogger("test"),
        ).run()
    finally:
        ledger.close()
    return summary


def _store(tmp_path: Path, *orders: dict[str, t.Any]) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    OrderCache(ledger.engine).put_many(list(orders))
    ledger.close()


def _sent(tmp_path: Path) -> set[str]:
    return {path.stem for path in (tmp_path / "outbox").glob("*.json")}


def test_an_unexpected_error_while_deciding_is_recorded_at_its_order(tmp_path: Path) -> None:
    """A KeyError from a shipping entry without its service: only the order that needs it."""
    codes = {**CODES, "INTERNATIONAL_DEFAULT": {"carrier_code": "usps"}}
    _store(tmp_path, _order("GOOD-1"), _order("ABROAD-1", country="CA"), _order("GOOD-2"))
    backend = FlakyWarehouse(tmp_path / "outbox", tmp_path / "inbox", None)
    summary = _run(tmp_path, backend, codes)
    assert _sent(tmp_path) == {"bigcartel-1001-GOOD-1", "bigcartel-1001-GOOD-2"}
    assert list(summary.failures) == ["bigcartel-1001-ABROAD-1"]
    assert "KeyError" in summary.failures["bigcartel-1001-ABROAD-1"]
    assert summary.failure_line() is not None
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    entry = ledger.get(SHOP, "ABROAD-1")
    ledger.close()
    assert entry is not None and entry.state == "failed" and "KeyError" in str(entry.last_error)
    # Fixed settings: the next run sends it, although the tap never sends the order again.
    fixed = {**CODES, "INTERNATIONAL_DEFAULT": {"carrier_code": "usps", "service_code": "intl"}}
    again = _run(tmp_path, backend, fixed)
    assert "bigcartel-1001-ABROAD-1" in _sent(tmp_path) and not again.failures


def test_an_undeclared_backend_error_is_in_doubt_and_settled_by_the_next_run(
    tmp_path: Path,
) -> None:
    order_id = "BROKEN-1"
    _store(tmp_path, _order("GOOD-1"), _order(order_id))
    broken = FlakyWarehouse(tmp_path / "outbox", tmp_path / "inbox", f"bigcartel-1001-{order_id}")
    summary = _run(tmp_path, broken)
    assert _sent(tmp_path) == {"bigcartel-1001-GOOD-1"}
    assert list(summary.failures) == [f"bigcartel-1001-{order_id}"]
    healed = FlakyWarehouse(tmp_path / "outbox", tmp_path / "inbox", None)
    again = _run(tmp_path, healed)
    assert _sent(tmp_path) == {"bigcartel-1001-GOOD-1", f"bigcartel-1001-{order_id}"}
    assert not again.failures
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    states = {e.order_id: e.state for e in ledger.entries()}
    ledger.close()
    assert states == {"GOOD-1": "submitted", order_id: "submitted"}
