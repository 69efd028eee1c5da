"""``bigcartel-webhooks trigger``: order events run the pipeline once per burst, after it."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from webhook_events import deliver, store_url

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_webhooks.__main__ import main
from bigcartel_webhooks.trigger import Trigger

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def recorder(path: Path, exit_code: int = 0) -> list[str]:
    """A real command that notes each run in a file."""
    code = f"open({str(path)!r}, 'a').write('run\\n'); raise SystemExit({exit_code})"
    return [sys.executable, "-c", code]


def runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def order_event(store: WebhookStore, order_id: str, at: datetime, topic: str = "order.updated"):
    deliver(store, "10", topic, {"id": order_id}, received_at=at)


def test_a_burst_becomes_one_run_after_the_quiet_period(store: WebhookStore, tmp_path: Path):
    log = tmp_path / "runs.log"
    trigger = Trigger(store, recorder(log), debounce=10, max_wait=120)
    for second in range(5):
        order_event(store, f"o{second}", T0 + timedelta(seconds=second))
    deliver(store, "10", "product.updated", {"id": "p1"}, received_at=T0)

    assert trigger.run_once(T0 + timedelta(seconds=13)) is None, "still inside the burst"
    run = trigger.run_once(T0 + timedelta(seconds=14))
    assert run is not None and run.returncode == 0
    assert [event.topic for event in run.events] == ["order.updated"] * 5
    assert runs(log) == 1
    assert {e.status for e in store.list_events(topic="order.")} == {"processed"}
    assert store.list_events(topic="product.")[0].status == "received", "not an order event"

    assert trigger.run_once(T0 + timedelta(hours=1)) is None, "nothing new: no run"
    order_event(store, "o9", T0 + timedelta(hours=1), topic="order.created")
    assert trigger.run_once(T0 + timedelta(hours=1, seconds=10)) is not None
    assert runs(log) == 2


def test_a_steady_stream_still_runs_after_max_wait(store: WebhookStore, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    trigger = Trigger(store, recorder(log), debounce=10, max_wait=30)
    for second in range(0, 31, 5):
        order_event(store, f"o{second}", T0 + timedelta(seconds=second))
        assert trigger.run_once(T0 + timedelta(seconds=second)) is None or second == 30
    assert runs(log) == 1


def test_a_failed_run_marks_its_events_failed(store: WebhookStore, tmp_path: Path) -> None:
    trigger = Trigger(store, recorder(tmp_path / "runs.log", exit_code=3), debounce=0, max_wait=0)
    order_event(store, "o1", T0)
    run = trigger.run_once(T0)
    assert run is not None and run.returncode == 3
    [event] = store.list_events(topic="order.")
    assert (event.status, event.error) == ("failed", "triggered run exited with status 3")
    assert trigger.run_once(T0 + timedelta(hours=1)) is None, "not retried in a loop"


def test_cli_once(store: WebhookStore, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    order_event(store, "o1", datetime.now(timezone.utc) - timedelta(minutes=1))
    url = store_url(store)
    assert main(["--db", url, "trigger", "--once", "--debounce", "0", "--", *recorder(log)]) == 0
    assert runs(log) == 1
    assert main(["--db", url, "trigger", "--once", "--", *recorder(log)]) == 0
    assert runs(log) == 1, "nothing pending"
    assert main(["--db", url, "trigger", "--once"]) == 2


def test_settings_are_checked(store: WebhookStore) -> None:
    with pytest.raises(ValueError, match="command"):
        Trigger(store, [])
    with pytest.raises(ValueError, match="debounce"):
        Trigger(store, ["true"], debounce=60, max_wait=10)
