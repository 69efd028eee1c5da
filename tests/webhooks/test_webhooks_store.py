"""The event store on its own: idempotent insert, filters, settling events."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from webhooks_helpers import envelope

from bigcartel_core.webhook_store import StoreUnavailableError, WebhookStore, consumer_errors
from bigcartel_webhooks.__main__ import main


def _record(store: WebhookStore, body: bytes, topic: str, account: str, when: datetime) -> int:
    event, _ = store.record(
        body, account_id=account, topic=topic, status="received", payload="{}", received_at=when
    )
    return event.id


def test_insert_is_idempotent_on_the_body(store: WebhookStore) -> None:
    body = envelope()
    first, inserted = store.record(
        body, account_id="1", topic="order.updated", status="received", payload="{}"
    )
    again, inserted_again = store.record(
        body, account_id="1", topic="order.updated", status="ignored", payload="{}"
    )
    assert (inserted, inserted_again) == (True, False)
    assert again == first
    assert store.count() == 1


def test_a_database_error_does_not_carry_the_delivery(db_url: str) -> None:
    """A customer's address in a body that the database refuses stays out of the error."""
    store = WebhookStore(db_url)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE webhook_events")
        body = envelope(id="1", shipping_address_1="17 Privet Lane")
        with pytest.raises(sa.exc.DBAPIError) as raised:
            store.record(
                body,
                account_id="1",
                topic="order.updated",
                status="received",
                payload=body.decode(),
            )
        assert "Privet" not in str(raised.value)
    finally:
        store.close()


def test_filters_and_settling(store: WebhookStore) -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    a = _record(store, envelope(id="1"), "order.created", "10", start)
    b = _record(store, envelope(id="2"), "order.updated", "20", start + timedelta(hours=1))
    c = _record(store, envelope(id="3"), "product.updated", "10", start + timedelta(hours=2))

    def ids(**filters: object) -> list[int]:
        return [e.id for e in store.list_events(**filters)]  # type: ignore[arg-type]

    assert ids() == [a, b, c]
    assert ids(topic="order.updated") == [b]
    assert ids(topic="order.") == [a, b]
    assert ids(account_id="10") == [a, c]
    assert ids(since=start + timedelta(hours=1)) == [b, c]
    assert ids(until=start + timedelta(hours=1)) == [a]
    # A bound in another zone means the same instant.
    eastern = timezone(timedelta(hours=-5))
    assert ids(since=(start + timedelta(hours=1)).astimezone(eastern)) == [b, c]

    assert store.mark_processed(a)
    assert store.mark_failed(b, "warehouse said no")
    assert not store.mark_failed(999_999, "nothing")
    assert ids(status="processed") == [a]
    failed = store.get(b)
    assert failed is not None
    assert (failed.status, failed.error) == ("failed", "warehouse said no")
    assert failed.processed_at is not None and failed.processed_at.tzinfo is not None
    assert failed.received_at == start + timedelta(hours=1)
    assert store.get(999_999) is None


def test_naive_timestamps_and_unknown_statuses_are_refused(store: WebhookStore) -> None:
    with pytest.raises(ValueError):
        store.record(envelope(), account_id=None, topic="x", status="done", payload="{}")
    with pytest.raises(Exception, match="timezone-aware"):
        _record(store, envelope(), "order.updated", "1", datetime(2026, 1, 1))


def _deauthorize(store: WebhookStore, body: bytes, when: datetime | None = None) -> None:
    store.record(
        body,
        account_id="10",
        topic="account.deauthorized",
        status="received",
        payload='{"id":10}',
        received_at=when,
    )


def _listed(db_url: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Account ids that ``bigcartel-webhooks disconnected`` lists."""
    capsys.readouterr()
    assert main(["--db", db_url, "disconnected"]) == 0
    return [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]


def test_a_replayed_deauthorization_does_not_undo_a_reconnect(
    store: WebhookStore, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    body = envelope("account.deauthorized", 10, id=10)
    _deauthorize(store, body)
    assert set(store.disconnected()) == {"10"}
    assert store.disconnected()["10"].reason == "account.deauthorized event 1"
    assert _listed(db_url, capsys) == ["10"]

    store.mark_connected("10", "tap-bigcartel-connect")
    # A late retry (or a replay) of the delivery stored before the reconnect.
    _deauthorize(store, body)
    assert store.disconnected() == {}
    assert _listed(db_url, capsys) == []
    assert store.count() == 1


def test_which_deauthorizations_after_a_reconnect_count(store: WebhookStore) -> None:
    body = envelope("account.deauthorized", 10, id=10)
    _deauthorize(store, body, datetime.now(timezone.utc) - timedelta(days=1))
    store.mark_connected("10", "tap-bigcartel-connect")
    reconnected = datetime.now(timezone.utc)

    # Within Big Cartel's 7 days of retries: the stored body is a retry of the old delivery.
    _deauthorize(store, body, reconnected + timedelta(days=6))
    assert store.disconnected() == {}
    # A body first seen after the reconnect is a new deauthorization.
    other = json.dumps({"type": "account.deauthorized", "payload": {"id": "10"}}).encode()
    _deauthorize(store, other, reconnected + timedelta(days=6))
    assert set(store.disconnected()) == {"10"}
    assert store.disconnected()["10"].changed_at == reconnected + timedelta(days=6)

    # Past the retry period, the old body can only be a new deauthorization.
    store.mark_connected("10", "tap-bigcartel-connect")
    reconnected = datetime.now(timezone.utc)
    _deauthorize(store, body, reconnected + timedelta(days=7, seconds=1))
    assert set(store.disconnected()) == {"10"}
    assert store.disconnected()["10"].reason == "account.deauthorized event 1"


def test_a_switched_off_deauthorization_changes_nothing(store: WebhookStore) -> None:
    body = envelope("account.deauthorized", 10, id=10)
    store.record(body, account_id="10", topic="account.deauthorized", status="ignored", payload="")
    assert store.disconnected() == {}


def test_consumer_errors_name_the_setting_and_hide_the_password() -> None:
    url = "postgresql+psycopg://fulfil:s3cret-pw@127.0.0.1:1/webhooks"
    with pytest.raises(StoreUnavailableError) as raised, consumer_errors(url):
        WebhookStore(url).disconnected()
    assert str(raised.value).startswith("webhook_db_url: cannot use the webhook store:")
    assert "s3cret-pw" not in str(raised.value)
