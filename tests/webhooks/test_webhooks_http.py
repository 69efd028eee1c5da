"""The receiver over real HTTP: signature, size and shape checks, topic switches, retries."""

from __future__ import annotations

import http.client
import json
import typing as t
from urllib.parse import urlsplit

from webhooks_helpers import SECRET, Receiver, envelope

from bigcartel_core.webhook_store import delivery_key
from bigcartel_webhooks.app import signature


def test_signed_delivery_is_stored_once_even_when_delivered_twice(receiver: Receiver) -> None:
    body = envelope("order.created", 4242, id="9001", type="orders")
    first = receiver.post(body)
    second = receiver.post(body)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["duplicate"] is False
    assert second.json() == {"id": first.json()["id"], "status": "received", "duplicate": True}
    events = receiver.store.list_events()
    assert len(events) == 1
    event = events[0]
    assert (event.topic, event.account_id, event.status) == ("order.created", "4242", "received")
    assert event.delivery_key == delivery_key(body)
    assert json.loads(event.payload) == {"id": "9001", "type": "orders"}
    assert event.received_at.tzinfo is not None
    assert event.processed_at is None


def test_bad_signatures_are_refused_and_nothing_is_stored(receiver: Receiver) -> None:
    body = envelope()
    good = signature(SECRET, body)
    for sig in (
        None,
        "",
        "0" * 64,
        good[:32],
        good[:-1],
        good + "0",
        signature("another-secret", body).upper(),
        "g" * 64,
        "G" + good[1:],
        "é" * 64,
    ):
        assert receiver.post(body, sig=sig).status_code == 401, sig
    # A signature of another body does not carry over.
    assert receiver.post(envelope(account_id=7), sig=good).status_code == 401
    assert receiver.store.list_events() == []


def test_signature_in_either_case_is_accepted(receiver: Receiver) -> None:
    """The docs do not say which case the hex digest is in, so a sender may well use upper case."""
    upper = envelope(account_id=1)
    mixed = envelope(account_id=2)
    mixed_sig = "".join(c.upper() if i % 2 else c for i, c in enumerate(signature(SECRET, mixed)))
    assert receiver.post(upper, sig=signature(SECRET, upper).upper()).status_code == 200
    assert receiver.post(mixed, sig=mixed_sig).status_code == 200
    assert sorted(e.account_id for e in receiver.store.list_events()) == ["1", "2"]


def test_json_too_deep_to_parse_is_refused_and_nothing_is_stored(receiver: Receiver) -> None:
    depth = 100_000
    for body in (
        b"[" * depth + b"]" * depth,
        b'{"type": "order.updated", "payload": ' + b'{"a": ' * depth + b"1" + b"}" * (depth + 1),
    ):
        response = receiver.post(body)
        assert response.status_code == 400
        assert response.json() == {"error": "body is nested too deeply to parse"}
    assert receiver.store.list_events() == []


def test_bad_signature_is_checked_before_the_body_is_parsed(receiver: Receiver) -> None:
    assert receiver.post(b"not json", sig="0" * 64).status_code == 401


def test_oversized_body_is_refused_before_it_is_read(serve: t.Callable[..., Receiver]) -> None:
    receiver = serve(max_body_bytes=1024)
    address = urlsplit(receiver.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        # Declare 10 MiB and send none of it: the answer must come from the header alone.
        connection.putrequest("POST", address.path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(10 * 1024 * 1024))
        connection.putheader("X-Webhook-Signature", "0" * 64)
        connection.endheaders()
        assert connection.getresponse().status == 413
    finally:
        connection.close()
    padded = envelope(note="x" * 2000)
    assert receiver.post(padded).status_code == 413
    assert receiver.post(envelope(note="x" * 500)).status_code == 200
    assert len(receiver.store.list_events()) == 1


def test_body_at_the_limit_is_accepted(serve: t.Callable[..., Receiver]) -> None:
    body = envelope()
    receiver = serve(max_body_bytes=len(body))
    assert receiver.post(body).status_code == 200


def test_malformed_deliveries_are_refused(receiver: Receiver) -> None:
    for body in (
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"order.created"',
        json.dumps({"account_id": 1, "payload": {}}).encode(),
        json.dumps({"account_id": 1, "type": "", "payload": {}}).encode(),
        json.dumps({"account_id": 1, "type": 5, "payload": {}}).encode(),
        json.dumps({"account_id": 1, "type": "order." + "x" * 200, "payload": {}}).encode(),
        json.dumps({"account_id": "9" * 65, "type": "order.updated", "payload": {}}).encode(),
    ):
        assert receiver.post(body).status_code == 400, body
    assert receiver.store.list_events() == []


def test_switched_off_topics_are_stored_as_ignored(serve: t.Callable[..., Receiver]) -> None:
    receiver = serve(enabled_topics=["orders"])
    for topic in ("order.updated", "product.deleted", "account.plan.upgraded", "mystery.event"):
        response = receiver.post(envelope(topic))
        assert response.status_code == 200
    statuses = {e.topic: e.status for e in receiver.store.list_events()}
    assert statuses == {
        "order.updated": "received",
        "product.deleted": "ignored",
        "account.plan.upgraded": "ignored",
        "mystery.event": "ignored",
    }


def test_deauthorization_without_account_id_takes_the_payload_id(receiver: Receiver) -> None:
    body = json.dumps({"type": "account.deauthorized", "payload": {"id": "555"}}).encode()
    assert receiver.post(body).status_code == 200
    assert receiver.store.list_events()[0].account_id == "555"


def test_only_post_on_the_webhook_path(receiver: Receiver) -> None:
    import requests

    assert requests.get(receiver.url, timeout=10).status_code == 405
    assert requests.post(receiver.url + "/x", data=b"{}", timeout=10).status_code == 404


def test_oversized_chunked_body_is_refused(serve: t.Callable[..., Receiver]) -> None:
    """Without a Content-Length the limit still holds, counted as the body is read."""
    import requests

    receiver = serve(max_body_bytes=1024)
    body = envelope(note="x" * 4000)

    def chunks() -> t.Iterator[bytes]:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    headers = {"X-Webhook-Signature": signature(SECRET, body)}
    response = requests.post(receiver.url, data=chunks(), headers=headers, timeout=10)
    assert response.status_code == 413
    assert receiver.store.list_events() == []

    small = envelope(note="x" * 100)

    def small_chunks() -> t.Iterator[bytes]:
        yield small[:50]
        yield small[50:]

    headers = {"X-Webhook-Signature": signature(SECRET, small)}
    response = requests.post(receiver.url, data=small_chunks(), headers=headers, timeout=10)
    assert response.status_code == 200
    assert len(receiver.store.list_events()) == 1
