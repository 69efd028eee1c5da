"""createorders: batches of up to 100 orders, upserted one by one with a result per order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from shipstation_sandbox import ShipStationSandbox

OrderFactory = Callable[..., dict[str, Any]]
AUTH = ("k", "s")
RESULT_FIELDS = ["orderId", "orderNumber", "orderKey", "success", "errorMessage"]


def batch(make_order: OrderFactory, count: int, prefix: str = "key") -> list[dict[str, Any]]:
    return [
        make_order(orderNumber=f"B{number}", orderKey=f"{prefix}-{number}")
        for number in range(count)
    ]


def create_many(api: requests.Session, orders: list[Any]) -> dict[str, Any]:
    response = api.post("/orders/createorders", json=orders)
    assert response.status_code == 200, response.text
    return response.json()


def test_batch_of_100_is_stored_with_results_in_request_order(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    orders = batch(make_order, 100)

    answer = create_many(api, orders)

    assert list(answer) == ["hasErrors", "results"]
    assert answer["hasErrors"] is False
    results = answer["results"]
    assert [list(result) for result in results] == [RESULT_FIELDS] * 100
    assert [r["orderKey"] for r in results] == [o["orderKey"] for o in orders]
    assert [r["orderNumber"] for r in results] == [o["orderNumber"] for o in orders]
    assert all(r["success"] is True and r["errorMessage"] is None for r in results)
    stored = {o["orderKey"]: o for o in sandbox.store.orders()}
    assert len(stored) == 100
    assert [r["orderId"] for r in results] == [stored[o["orderKey"]]["orderId"] for o in orders]
    # Each order is stored exactly as createorder stores it.
    single = api.post("/orders/createorder", json=orders[0]).json()
    assert {k: v for k, v in single.items() if k != "modifyDate"} == {
        k: v for k, v in stored["key-0"].items() if k != "modifyDate"
    }


def test_batch_of_101_is_refused_whole(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    response = api.post("/orders/createorders", json=batch(make_order, 101))
    assert response.status_code == 400
    assert "100" in response.json()["Message"]
    assert sandbox.store.orders() == []


@pytest.mark.parametrize("body", [[], {"orders": []}, "x"])
def test_empty_or_non_list_batch_is_refused(
    api: requests.Session, sandbox: ShipStationSandbox, body: Any
) -> None:
    response = api.post("/orders/createorders", json=body)
    assert response.status_code == 400
    assert response.json()["Message"]
    assert sandbox.store.orders() == []


def test_body_that_is_not_json_is_refused(api: requests.Session) -> None:
    assert api.post("/orders/createorders", data="[").status_code == 400


def test_mixed_batch_gives_a_result_per_order(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    locked = api.post("/orders/createorder", json=make_order(orderKey="shipped-one")).json()
    sandbox.store.ship("shipped-one")
    cancelled = api.post("/orders/createorder", json=make_order(orderKey="gone")).json()
    sandbox.store.cancel("gone")
    missing_number = make_order(orderKey="bad-1")
    del missing_number["orderNumber"]
    before_locked = [o for o in sandbox.store.orders() if o["orderKey"] in {"shipped-one", "gone"}]

    answer = create_many(
        api,
        [
            make_order(orderNumber="A1", orderKey="good-1"),
            missing_number,
            make_order(orderNumber="A3", orderKey="shipped-one"),
            make_order(orderNumber="A4", orderKey="bad-2", orderStatus="paid"),
            make_order(orderNumber="A5", orderKey="gone"),
            "not an order",
            make_order(orderNumber="A7", orderKey="good-2"),
        ],
    )

    assert answer["hasErrors"] is True
    results = answer["results"]
    assert [r["success"] for r in results] == [True, False, False, False, False, False, True]
    assert [r["orderKey"] for r in results] == [
        "good-1",
        "bad-1",
        "shipped-one",
        "bad-2",
        "gone",
        None,
        "good-2",
    ]
    assert results[0]["errorMessage"] is None and results[6]["errorMessage"] is None
    assert "orderNumber" in results[1]["errorMessage"]
    assert "shipped" in results[2]["errorMessage"]
    assert "orderStatus" in results[3]["errorMessage"]
    assert "cancelled" in results[4]["errorMessage"]
    assert results[5]["errorMessage"]
    # A locked order exists and keeps its id; an invalid one has none.
    assert [r["orderId"] for r in results[1:6]] == [
        None,
        locked["orderId"],
        None,
        cancelled["orderId"],
        None,
    ]
    stored = {o["orderKey"]: o for o in sandbox.store.orders()}
    assert set(stored) == {"shipped-one", "gone", "good-1", "good-2"}
    assert [stored[k] for k in ("shipped-one", "gone")] == before_locked
    assert stored["good-1"]["orderId"] == results[0]["orderId"]
    assert stored["good-2"]["orderNumber"] == "A7"


def test_batch_upserts_on_order_key(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    first = api.post("/orders/createorder", json=make_order(orderKey="k1")).json()

    answer = create_many(
        api,
        [
            make_order(orderKey="k1", orderStatus="on_hold"),
            make_order(orderNumber="2", orderKey="k2", customerEmail="a@example.com"),
            make_order(orderNumber="2", orderKey="k2", customerEmail="b@example.com"),
        ],
    )

    results = answer["results"]
    assert answer["hasErrors"] is False
    assert results[0]["orderId"] == first["orderId"]
    assert results[1]["orderId"] == results[2]["orderId"] != first["orderId"]
    stored = {o["orderKey"]: o for o in sandbox.store.orders()}
    assert len(stored) == 2
    assert stored["k1"]["orderStatus"] == "on_hold"
    assert stored["k1"]["createDate"] == first["createDate"]
    assert stored["k2"]["customerEmail"] == "b@example.com"


def test_orders_without_key_in_a_batch_get_distinct_keys(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    body = make_order()
    del body["orderKey"]
    results = create_many(api, [body, body])["results"]
    assert results[0]["orderKey"] and results[1]["orderKey"]
    assert results[0]["orderKey"] != results[1]["orderKey"]
    assert len(sandbox.store.orders()) == 2


def test_every_create_request_is_logged(
    api: requests.Session, sandbox: ShipStationSandbox, make_order: OrderFactory
) -> None:
    orders = batch(make_order, 3)
    api.post("/orders/createorders", json=orders)
    api.post("/orders/createorder", json=make_order(orderKey="single"))
    api.post("/orders/createorders", json=[])

    creates = [
        (entry["path"], entry["status"], entry["body"])
        for entry in sandbox.requests
        if entry["path"].startswith("/orders/createorder")
    ]
    assert creates == [
        ("/orders/createorders", 200, orders),
        ("/orders/createorder", 200, make_order(orderKey="single")),
        ("/orders/createorders", 400, []),
    ]


def test_timeout_on_a_batch_stores_all_and_answers_nothing(make_order: OrderFactory) -> None:
    with ShipStationSandbox(*AUTH) as sandbox, requests.Session() as client:
        client.auth = AUTH
        url = f"{sandbox.url}/orders/createorders"
        sandbox.store.timeout_next_create()
        orders = batch(make_order, 5)

        refused = client.post(url, json=[], timeout=10)
        with pytest.raises(requests.ConnectionError):
            client.post(url, json=orders, timeout=10)

        assert refused.status_code == 400
        assert [o["orderKey"] for o in sandbox.store.orders()] == [o["orderKey"] for o in orders]
        assert sandbox.store.pending_create_timeouts == 0
        # One timeout drops one whole batch; the retry is answered and upserts the same orders.
        retried = client.post(url, json=orders, timeout=10)
        assert retried.status_code == 200
        stored_ids = [o["orderId"] for o in sandbox.store.orders()]
        assert [r["orderId"] for r in retried.json()["results"]] == stored_ids
        assert [e["status"] for e in sandbox.requests] == [400, None, 200]


def test_timeout_applies_to_the_next_create_of_either_kind(make_order: OrderFactory) -> None:
    with ShipStationSandbox(*AUTH) as sandbox, requests.Session() as client:
        client.auth = AUTH
        switched = requests.post(
            f"{sandbox.url}/_sandbox/timeout_next_create", json={"n": 2}, timeout=10
        )
        assert switched.status_code == 204

        with pytest.raises(requests.ConnectionError):
            client.post(f"{sandbox.url}/orders/createorders", json=batch(make_order, 2), timeout=10)
        with pytest.raises(requests.ConnectionError):
            client.post(
                f"{sandbox.url}/orders/createorder", json=make_order(orderKey="x"), timeout=10
            )
        answered = client.post(
            f"{sandbox.url}/orders/createorders", json=batch(make_order, 1, "z"), timeout=10
        )

        assert answered.status_code == 200
        assert [o["orderKey"] for o in sandbox.store.orders()] == ["key-0", "key-1", "x", "z-0"]
        assert [(e["path"], e["status"]) for e in sandbox.requests] == [
            ("/orders/createorders", None),
            ("/orders/createorder", None),
            ("/orders/createorders", 200),
        ]


def test_batch_with_only_refused_orders_still_takes_the_timeout(
    make_order: OrderFactory,
) -> None:
    with ShipStationSandbox(*AUTH) as sandbox:
        sandbox.store.timeout_next_create()
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{sandbox.url}/orders/createorders", json=[{}], auth=AUTH, timeout=10)
        assert sandbox.store.orders() == []
        assert sandbox.store.pending_create_timeouts == 0


def test_held_batch_outlasts_the_client_timeout(make_order: OrderFactory) -> None:
    sandbox = ShipStationSandbox(*AUTH, timeout_hang_seconds=60).start()
    try:
        sandbox.store.timeout_next_create()
        with pytest.raises(requests.Timeout):
            requests.post(
                f"{sandbox.url}/orders/createorders",
                json=batch(make_order, 2),
                auth=AUTH,
                timeout=0.3,
            )
        assert [o["orderKey"] for o in sandbox.store.orders()] == ["key-0", "key-1"]
    finally:
        sandbox.stop()
