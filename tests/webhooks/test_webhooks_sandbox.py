"""End to end: the Big Cartel emulator's signed webhooks arrive in the receiver's store."""

from __future__ import annotations

import json
import time
import typing as t

from webhooks_helpers import SECRET, Receiver

from bigcartel_core.webhook_store import WebhookEvent, WebhookStore
from bigcartel_sandbox.config import SandboxConfig
from bigcartel_sandbox.server import Sandbox


def _wait_for(store: WebhookStore, topic: str, deadline: float = 15.0) -> WebhookEvent:
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        events = store.list_events(topic=topic)
        if events:
            return events[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {topic} webhook within {deadline} s")


def test_emulator_webhooks_arrive(serve: t.Callable[..., Receiver]) -> None:
    receiver = serve()
    config = SandboxConfig(
        shops=1,
        orders_per_shop=3,
        products_per_shop=3,
        client_secret=SECRET,
        webhook_url=receiver.url,
        webhook_retry_delays=(0.2,),
    )
    with Sandbox(config) as sb:
        shop = sb.shops[0]
        product_id = sb.store.create_product(shop.account_id)
        sb.store.delete_product(shop.account_id, product_id)
        deleted = _wait_for(receiver.store, "product.deleted")
        assert deleted.account_id == str(shop.account_id)
        assert json.loads(deleted.payload) == {"id": product_id}
        assert deleted.status == "received"

        order_id = sb.store.create_order(shop.account_id)
        sb.store.update_order(shop.account_id, order_id, customer_note="leave it by the door")
        updated = _wait_for(receiver.store, "order.updated")
        assert updated.account_id == str(shop.account_id)
        order = json.loads(updated.payload)["data"]
        assert order["id"] == order_id
        assert order["attributes"]["customer_note"] == "leave it by the door"

        # The owner removes the app: the shop is marked disconnected for the tap and target.
        sb.store.revoke_token(shop.account_id)
        _wait_for(receiver.store, "account.deauthorized")
        assert set(receiver.store.disconnected()) == {str(shop.account_id)}
    kinds = [e.topic for e in receiver.store.list_events()]
    assert kinds.count("order.updated") == kinds.count("product.deleted") == 1
