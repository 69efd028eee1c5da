"""The write-back client on the core's session: exactly once when a POST's answer is lost."""

from __future__ import annotations

import random
import typing as t

import pytest
import requests

from bigcartel_core.auth import BearerAuth
from bigcartel_core.http import RetryPolicy
from bigcartel_sandbox import Sandbox, SandboxConfig
from target_fulfillment.bigcartel import (
    BigCartelWriter,
    ShipmentUpdate,
    ShippedLine,
    WriteBackError,
    WriteBackInDoubt,
)


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


def _whole_order(
    writer: BigCartelWriter, sandbox: Sandbox, account_id: str, order_id: str
) -> tuple[ShipmentUpdate, dict[str, int]]:
    """A shipment of every unshipped unit, and the shipped counts it brings the lines to."""
    state = writer.read_order(account_id, order_id)
    lines = [
        ShippedLine(id_, line.unshipped) for id_, line in state.lines.items() if line.unshipped
    ]
    expected = {line.order_line_item_id: line.quantity for line in lines}
    sandbox.clear_requests()
    return ShipmentUpdate("ups", "1Z999", None, lines), expected


def test_a_lost_answer_to_the_post_is_settled_by_the_read_back(sandbox: Sandbox) -> None:
    """The shipment is made, its answer lost: the read-back shows it, nothing is sent again."""
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    waits: list[float] = []
    writer = _writer(sandbox, waits)
    update, expected = _whole_order(writer, sandbox, account_id, order_id)

    def lose(response: requests.Response) -> None:
        raise requests.ConnectionError("connection reset after the request was processed")

    _once(writer, "POST", lose)
    with writer._session:
        assert writer.post_shipment(account_id, order_id, update, expected) == "shipment"
    assert len(sandbox.store.shipments(account_id, order_id)) == 1
    calls = [(r["method"], r["status"]) for r in sandbox.requests]
    assert calls == [("POST", 201), ("GET", 200)]
    assert waits == []


def test_a_5xx_to_the_post_is_sent_again_after_the_read_back(sandbox: Sandbox) -> None:
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    waits: list[float] = []
    writer = _writer(sandbox, waits)
    update, expected = _whole_order(writer, sandbox, account_id, order_id)
    sandbox.faults.fail_next(1, status=503)
    with writer._session:
        assert writer.post_shipment(account_id, order_id, update, expected) == "shipment"
    calls = [(r["method"], r["status"]) for r in sandbox.requests]
    assert calls == [("POST", 503), ("GET", 200), ("POST", 201)]
    assert len(sandbox.store.shipments(account_id, order_id)) == 1
    assert len(waits) == 1 and 0 <= waits[0] <= 0.5


def test_a_lost_answer_and_a_failed_read_back_leave_the_post_in_doubt(sandbox: Sandbox) -> None:
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    writer = _writer(sandbox, [])
    update, expected = _whole_order(writer, sandbox, account_id, order_id)

    def lose(response: requests.Response) -> None:
        sandbox.faults.fail_next(10, status=502)
        raise requests.ConnectionError("connection reset after the request was processed")

    _once(writer, "POST", lose)
    with writer._session, pytest.raises(WriteBackInDoubt) as raised:
        writer.post_shipment(account_id, order_id, update, expected)
    assert [r["status"] for r in sandbox.requests] == [201, 502, 502, 502]
    assert order_id in str(raised.value)
    assert len(sandbox.store.shipments(account_id, order_id)) == 1


def test_the_read_back_counts_each_lines_shipped_units(sandbox: Sandbox) -> None:
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    writer = _writer(sandbox, [])
    before = writer.read_order(account_id, order_id)
    first_id, first = next(iter(before.lines.items()))
    part = [ShippedLine(first_id, 1)]
    update = ShipmentUpdate("ups", "1Z1", None, part)
    expected = {first_id: first.shipped + 1}
    assert not before.shows(expected)
    assert writer.post_shipment(account_id, order_id, update, expected) == "shipment"
    after = writer.read_order(account_id, order_id)
    assert after.shows(expected) and after == before.after(part)
    assert after.finished == (sum(line.unshipped for line in before.lines.values()) == 1)


def test_a_get_that_stays_unavailable_fails_after_the_sessions_retries(
    sandbox: Sandbox,
) -> None:
    account_id, order_id = str(sandbox.shops[0].account_id), _unshipped_order(sandbox)
    waits: list[float] = []
    writer = _writer(sandbox, waits)
    sandbox.faults.fail_next(10, status=502)
    with writer._session, pytest.raises(WriteBackError) as raised:
        writer.read_order(account_id, order_id)
    assert [r["status"] for r in sandbox.requests] == [502, 502, 502]
    assert len(waits) == 2
    assert order_id in str(raised.value)
    assert sandbox.shops[0].access_token not in str(raised.value)
    assert sandbox.store.shipments(account_id, order_id) == []
