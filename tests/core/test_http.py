"""The one HTTP session factory against the Big Cartel emulator and its fault switches.

No test sleeps: the policy's ``sleep`` records each wait (and may switch a fault off), so every
wait is checked exactly and a run takes no longer than the requests themselves.
"""

from __future__ import annotations

import random
import socket
from email.message import Message

import pytest
import requests
from core_helpers import USER_AGENT, Waits, recording_policy

from bigcartel_core import jsonapi
from bigcartel_core.auth import BearerAuth, Shop, discover_account_id
from bigcartel_core.errors import ShopUnavailableError
from bigcartel_core.http import new_session, user_agent
from bigcartel_core.jsonapi import JSONAPI
from bigcartel_core.retry import retry_delay
from bigcartel_core.version import package_version, project_contact
from bigcartel_sandbox import Sandbox


def _session(sandbox: Sandbox, waits: Waits, **policy: object) -> requests.Session:
    session = new_session(USER_AGENT, timeout=10, policy=recording_policy(waits, **policy))
    session.auth = BearerAuth(sandbox.shops[0].access_token)
    return session


def _orders(sandbox: Sandbox) -> str:
    return f"{sandbox.url}/v1/accounts/{sandbox.shops[0].account_id}/orders"


def _unshipped(sandbox: Sandbox) -> dict:
    shop = sandbox.shops[0]
    with new_session(USER_AGENT) as session:
        session.auth = BearerAuth(shop.access_token)
        orders = session.get(_orders(sandbox), params={"filter[shipping_status]": "unshipped"})
    assert orders.status_code == 200, orders.text
    return next(jsonapi.records(orders.json()))


def _shipment(order: dict) -> dict:
    items = [
        {"order_line_item_id": str(i["id"]), "quantity": i["quantity"]} for i in order["items"]
    ]
    return {"data": {"type": "shipments", "attributes": {"carrier": "ups", "items": items}}}


def _statuses(sandbox: Sandbox, method: str | None = None) -> list[int]:
    return [r["status"] for r in sandbox.requests if method in (None, r["method"])]


def _metadata(*project_urls: str) -> Message:
    """Distribution metadata as importlib.metadata gives it: an email message of fields."""
    meta = Message()
    meta["Metadata-Version"] = "2.4"
    meta["Name"] = "bigcartel-fulfillment"
    for field in project_urls:
        meta["Project-URL"] = field
    return meta


def test_user_agent_names_program_version_and_the_installed_contact() -> None:
    contact = project_contact()
    program = f"tap-bigcartel/{package_version()}"
    assert user_agent("tap-bigcartel") == (f"{program} (+{contact})" if contact else program)
    assert user_agent("tap-bigcartel", "acme (ops@example.com)") == "acme (ops@example.com)"
    assert user_agent("tap-bigcartel", "") == user_agent("tap-bigcartel")


def test_without_a_project_url_the_user_agent_has_no_placeholder_contact() -> None:
    assert project_contact(_metadata()) is None
    assert project_contact(_metadata("Changelog, not-a-url", "Homepage")) is None
    if project_contact() is None:  # pyproject.toml declares no [project.urls] (yet)
        assert user_agent("target-fulfillment") == f"target-fulfillment/{package_version()}"
    assert "bigcartel-fulfillment/bigcartel-fulfillment" not in user_agent("tap-bigcartel")


@pytest.mark.parametrize(
    ("fields", "contact"),
    [
        (["Homepage, https://shop.example/fulfillment"], "https://shop.example/fulfillment"),
        (
            ["Changelog, https://git.example/cl", "Source Code, https://git.example/src"],
            "https://git.example/src",
        ),
        (
            ["Repository, https://git.example/repo", "Home-page, https://example.org"],
            "https://example.org",
        ),
        (["Issues, https://git.example/issues"], "https://git.example/issues"),
    ],
)
def test_the_contact_comes_from_the_metadata_project_urls(fields: list[str], contact: str) -> None:
    assert project_contact(_metadata(*fields)) == contact


def test_headers_accept_content_type_and_user_agent(sandbox: Sandbox, waits: Waits) -> None:
    order = _unshipped(sandbox)
    sandbox.clear_requests()
    with _session(sandbox, waits) as session:
        assert session.get(_orders(sandbox)).status_code == 200
        body = {
            "data": {
                "id": order["id"],
                "type": "orders",
                "attributes": {"shipping_status": "shipped"},
            }
        }
        patched = session.patch(f"{_orders(sandbox)}/{order['id']}", json=body)
    assert patched.status_code == 200, patched.text
    get, patch = sandbox.requests
    for entry in (get, patch):
        assert entry["headers"]["Accept"] == JSONAPI
        assert entry["headers"]["User-Agent"] == USER_AGENT
    assert "Content-Type" not in get["headers"]
    assert patch["headers"]["Content-Type"] == JSONAPI
    assert waits.seen == []


def test_429_waits_as_long_as_retry_after_asks(sandbox: Sandbox, waits: Waits) -> None:
    sandbox.faults.fail_next(1, status=429, retry_after=7)
    with _session(sandbox, waits) as session:
        assert session.get(_orders(sandbox)).status_code == 200
    assert _statuses(sandbox) == [429, 200]
    assert waits.seen == [7.0]


def test_retry_after_is_bounded_by_max_wait(sandbox: Sandbox, waits: Waits) -> None:
    sandbox.faults.fail_next(1, status=503, retry_after=3600)
    with _session(sandbox, waits, max_wait=10.0) as session:
        assert session.get(_orders(sandbox)).status_code == 200
    assert waits.seen == [10.0]


def test_5xx_backs_off_with_capped_full_jitter(sandbox: Sandbox, waits: Waits) -> None:
    sandbox.faults.fail_next(1, status=500)
    sandbox.faults.fail_next(1, status=502)
    sandbox.faults.fail_next(1, status=503)
    with _session(sandbox, waits, max_wait=3.0, rng=random.Random(5)) as session:
        assert session.get(_orders(sandbox)).status_code == 200
    assert _statuses(sandbox) == [500, 502, 503, 200]
    expected_rng = random.Random(5)
    assert waits.seen == [retry_delay(n, 1.0, 3.0, None, expected_rng) for n in range(3)]
    assert all(0 <= wait <= min(3.0, 2**n) for n, wait in enumerate(waits.seen))
    assert len(set(waits.seen)) == 3


def test_retries_are_bounded_and_the_last_answer_returned(sandbox: Sandbox, waits: Waits) -> None:
    sandbox.faults.fail_next(10, status=502)
    with _session(sandbox, waits, max_retries=2) as session:
        response = session.get(_orders(sandbox))
    assert response.status_code == 502
    assert _statuses(sandbox) == [502, 502, 502]
    assert len(waits.seen) == 2


def test_a_dropped_connection_is_retried_for_a_get(sandbox: Sandbox, waits: Waits) -> None:
    sandbox.faults.drop_next(1)
    with _session(sandbox, waits) as session:
        assert session.get(_orders(sandbox)).status_code == 200
    assert _statuses(sandbox) == [0, 200]
    assert len(waits.seen) == 1


def test_a_read_timeout_is_retried(sandbox: Sandbox, waits: Waits) -> None:
    """The first answer is slower than the time-out; the wait switches the slowness off."""
    sandbox.faults.delay_seconds = 2.0
    waits.then = lambda: setattr(sandbox.faults, "delay_seconds", 0.0)
    session = new_session(USER_AGENT, timeout=0.5, policy=recording_policy(waits))
    session.auth = BearerAuth(sandbox.shops[0].access_token)
    with session:
        assert session.get(_orders(sandbox)).status_code == 200
    assert len(waits.seen) == 1


def test_a_refused_connection_is_retried_then_raised(waits: Waits) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = new_session(USER_AGENT, timeout=2, policy=recording_policy(waits, max_retries=2))
    with session, pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/v1/accounts")
    assert len(waits.seen) == 2


def test_a_post_whose_answer_may_be_lost_is_not_sent_again(sandbox: Sandbox, waits: Waits) -> None:
    """After a dropped connection or a 5xx the POST may have taken effect: the caller decides."""
    order = _unshipped(sandbox)
    url = f"{_orders(sandbox)}/{order['id']}/shipments"
    body = _shipment(order)
    sandbox.clear_requests()
    with _session(sandbox, waits) as session:
        sandbox.faults.drop_next(1)
        with pytest.raises(requests.ConnectionError):
            session.post(url, json=body)
        sandbox.faults.fail_next(1, status=503)
        assert session.post(url, json=body).status_code == 503
    assert _statuses(sandbox, "POST") == [0, 503]
    assert waits.seen == []


def test_a_post_refused_with_429_is_sent_again(sandbox: Sandbox, waits: Waits) -> None:
    order = _unshipped(sandbox)
    account_id = str(sandbox.shops[0].account_id)
    url = f"{_orders(sandbox)}/{order['id']}/shipments"
    body = _shipment(order)
    sandbox.clear_requests()
    sandbox.faults.fail_next(1, status=429, retry_after=2)
    with _session(sandbox, waits) as session:
        response = session.post(url, json=body)
    assert response.status_code in (200, 201), response.text
    assert _statuses(sandbox, "POST") == [429, response.status_code]
    assert waits.seen == [2.0]
    assert len(sandbox.store.shipments(account_id, order["id"])) == 1


def test_discover_account_id_uses_the_session(sandbox: Sandbox, waits: Waits) -> None:
    shop = sandbox.shops[0]
    sandbox.faults.fail_next(1, status=429, retry_after=4)
    sandbox.faults.drop_next(1)
    account_id = discover_account_id(
        Shop(None, BearerAuth(shop.access_token)),
        sandbox.url,
        USER_AGENT,
        10,
        policy=recording_policy(waits),
    )
    assert account_id == str(shop.account_id)
    assert _statuses(sandbox) == [429, 0, 200]
    assert waits.seen[0] == 4.0 and len(waits.seen) == 2
    assert {r["headers"]["User-Agent"] for r in sandbox.requests} == {USER_AGENT}


def test_discover_account_id_names_the_setting_not_the_token(sandbox: Sandbox) -> None:
    shop = sandbox.shops[0]
    sandbox.store.revoke_token(str(shop.account_id))
    with pytest.raises(ShopUnavailableError) as raised:
        discover_account_id(
            Shop(None, BearerAuth(shop.access_token), "accounts[0]"), sandbox.url, USER_AGENT, 10
        )
    assert raised.value.status == 401
    assert "accounts[0]" in str(raised.value)
    assert shop.access_token not in str(raised.value)
