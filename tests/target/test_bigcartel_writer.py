"""The write-back client on the core's session: exactly once when a POST's answer is lost."""

from __future__ import annotations

import random
import typing as t

import pytest
import requests

from bigcartel_core.auth import BearerAuth
from bigcartel_core.http import RetryPolicy
from bigcartel_sandbox import Sandbox, SandboxConfig
from target_fulfillment.bigcartel import BigCartelWriter, ShipmentUpdate, WriteBackError

UPDATE = ShipmentUpdate(carrier="ups", tracking_number="1Z999", tracking_url=None, lines=None)


@pytest.fixture
def sandbox() -> t.Iterator[Sandbox]:
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=5, products_per_shop=3, seed=11)) as sb:
        yield sb


def _writer(sandbox: Sandbox, waits: list[float]) -> BigCartelWriter:
    shop = sandbox.shops[0]
    policy = RetryPolicy(max_retries=2, sleep=waits.append, rng=random.Random(3))
    return BigCartelWriter(
        sandbox.url,
        "writer-tests (+https://example.com)",
        {str(shop.account_id): BearerAuth(shop.access_token)},
        secrets=(shop.access_token,),
        policy=policy,
    )


def _unshipped_order(sandbox: Sandbox) -> str:
    shop = sandbox.shops[0]
    listing = requests.get(
        f"{sandbox.url}/v1/accounts/{shop.account_id}/orders",
        params={"filter[shipping_status]": "unshipped"},
        headers={
            "Authorization": f"Bearer {shop.access_token}",
            "Accept": "application/vnd.api+json",
            "User-Agent": "writer-tests",
        },
        timeout=10,
    )
    sandbox.clear_requests()
    return str(listing.json()["data"][0]["id"])


def _once(
    writer: BigCartelWriter, method: str, action: t.Callable[[requests.Response], None]
) -> None:
    """Run ``action`` on the writer's first answer to ``method``, as the network sees it."""
    done = False

    def hook(response: requests.Response, **_: t.Any) -> None:
        nonlocal done
        if response.request.method == method and not done:
            done = True
            action(response)

    writer._session.hooks["response"].append(hook)


def test_a_lost_answer_to_the_post_is_not_shipped_twice(sandbox: Sandbox) -> None:
    """The shipment is made, its answer lost: the retry reads the order back and stops."""
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    waits: list[float] = []
    writer = _writer(sandbox, waits)

    def lose(response: requests.Response) -> None:
        raise requests.ConnectionError("connection reset after the request was processed")

    _once(writer, "POST", lose)
    with writer._session:
        assert writer.write_back(account_id, order_id, UPDATE) == "already"
    assert len(sandbox.store.shipments(account_id, order_id)) == 1
    calls = [(r["method"], r["status"]) for r in sandbox.requests]
    assert calls == [("GET", 200), ("POST", 201), ("GET", 200)]
    assert len(waits) == 1


def test_a_5xx_to_the_post_goes_round_from_the_read_back(sandbox: Sandbox) -> None:
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    waits: list[float] = []
    writer = _writer(sandbox, waits)
    # The read-back answers; the POST right after it gets a 503.
    _once(writer, "GET", lambda response: sandbox.faults.fail_next(1, status=503))
    with writer._session:
        assert writer.write_back(account_id, order_id, UPDATE) == "shipment"
    calls = [(r["method"], r["status"]) for r in sandbox.requests]
    assert calls == [("GET", 200), ("POST", 503), ("GET", 200), ("POST", 201)]
    assert len(sandbox.store.shipments(account_id, order_id)) == 1
    assert len(waits) == 1 and 0 <= waits[0] <= 0.5


def test_a_get_that_stays_unavailable_fails_after_the_sessions_retries(
    sandbox: Sandbox,
) -> None:
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    waits: list[float] = []
    writer = _writer(sandbox, waits)
    sandbox.faults.fail_next(10, status=502)
    with writer._session, pytest.raises(WriteBackError) as raised:
        writer.write_back(account_id, order_id, UPDATE)
    assert [r["status"] for r in sandbox.requests] == [502, 502, 502]
    assert len(waits) == 2
    assert order_id in str(raised.value)
    assert sandbox.shops[0].access_token not in str(raised.value)
    assert sandbox.store.shipments(account_id, order_id) == []
