"""Signed webhooks, sent on every change and retried after failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import Api, Received, Receiver

from bigcartel_sandbox import Sandbox, SandboxConfig
from bigcartel_sandbox.webhooks import Delivery

RETRY_DELAYS = (0.01, 0.02, 0.05)


@pytest.fixture
def hooked(receiver: Receiver) -> Iterator[Sandbox]:
    config = SandboxConfig(
        shops=2,
        orders_per_shop=20,
        products_per_shop=10,
        webhook_url=receiver.url,
        webhook_retry_delays=RETRY_DELAYS,
    )
    with Sandbox(config) as sandbox:
        yield sandbox


def _event(received: Received) -> dict[str, Any]:
    return json.loads(received.body)


def _types(received: list[Received]) -> list[str]:
    return [_event(r)["type"] for r in received]


def _finished(sandbox: Sandbox, count: int, timeout: float = 10.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deliveries = sandbox.store.webhooks.deliveries
        if len(deliveries) >= count and all(d.finished for d in deliveries):
            return deliveries
        time.sleep(0.01)
    raise AssertionError("webhook deliveries did not finish in time")


def test_patch_sends_signed_order_updated(hooked: Sandbox, receiver: Receiver) -> None:
    api = Api(hooked, hooked.shops[0])
    order_id = api.get("/orders", params={"page[limit]": 1}).json()["data"][0]["id"]
    body = {"data": {"id": order_id, "type": "orders", "attributes": {"shipping_city": "Oslo"}}}
    assert api.patch(f"/orders/{order_id}", body).status_code == 200

    (hook,) = receiver.wait_for(lambda received: len(received) >= 1)
    assert hook.path == "/hooks"
    assert hook.headers["Content-Type"] == "application/json"
    expected = hmac.new(b"sandbox-client-secret", hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Webhook-Signature"] == expected
    event = _event(hook)
    assert event["account_id"] == 1001 and event["type"] == "order.updated"
    assert event["payload"]["data"]["id"] == order_id
    assert event["payload"]["data"]["attributes"]["shipping_city"] == "Oslo"
    assert event["payload"]["data"]["links"]["self"].startswith(hooked.url)
    assert any(r["type"] == "order_line_items" for r in event["payload"]["included"])


def test_failed_delivery_is_retried_with_the_same_body(hooked: Sandbox, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    hooked.store.update_orders(hooked.shops[1].account_id, 1)
    attempts = receiver.wait_for(lambda received: len(received) >= 3)
    assert len({(a.body, a.headers["X-Webhook-Signature"]) for a in attempts}) == 1
    (delivery,) = _finished(hooked, 1)
    assert delivery.statuses == [500, 503, 200] and delivery.delivered


def test_retries_are_bounded(hooked: Sandbox, receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    hooked.store.update_products(hooked.shops[0].account_id, 1)
    (delivery,) = _finished(hooked, 1)
    assert delivery.statuses == [500] * (1 + len(RETRY_DELAYS))
    assert not delivery.delivered


def test_connection_errors_are_retried() -> None:
    config = SandboxConfig(
        shops=1, orders_per_shop=5, products_per_shop=3, webhook_retry_delays=(0.01,)
    )
    with Sandbox(config) as sandbox:
        sandbox.store.webhook_url = f"http://127.0.0.1:{_closed_port()}/hooks"
        sandbox.store.update_orders("1001", 1)
        (delivery,) = _finished(sandbox, 1)
        assert delivery.statuses == [None, None]


def _closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_product_and_account_events(hooked: Sandbox, receiver: Receiver) -> None:
    store = hooked.store
    product_id = store.create_product("1001")
    store.delete_product("1001", product_id)
    order_id = store.create_order("1001")
    store.revoke_token("1001")
    received = receiver.wait_for(lambda r: "account.deauthorized" in _types(r))
    types = _types(received)
    assert types[:3] == ["product.created", "product.deleted", "order.created"]
    assert "product.updated" in types[3:-1]
    events = [_event(r) for r in received]
    assert events[0]["payload"]["data"]["id"] == product_id
    assert events[1]["payload"] == {"id": product_id}
    assert events[2]["payload"]["data"]["id"] == order_id
    assert events[-1]["payload"] == {"id": "1001"}


def test_no_webhooks_without_url(receiver: Receiver) -> None:
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=5, products_per_shop=3)) as sandbox:
        sandbox.store.update_orders("1001", 2)
        assert sandbox.store.webhooks.deliveries == []
        sandbox.store.webhook_url = receiver.url
        sandbox.store.update_orders("1001", 1)
        assert len(receiver.wait_for(lambda received: len(received) >= 1)) == 1
