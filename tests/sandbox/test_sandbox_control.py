"""The control API under /_sandbox/ and the command line."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests
from sandbox_helpers import Api

from bigcartel_sandbox import Sandbox


def test_shops_lists_credentials(sandbox: Sandbox) -> None:
    shops = requests.get(f"{sandbox.url}/_sandbox/shops").json()
    assert shops[1] == {
        "account_id": "1002",
        "subdomain": "shop2",
        "password": "sandbox-password-2",
        "access_token": "sandbox-token-1002",
        "country": "CA",
    }


def test_stats_count_api_requests_by_route(api: Api, sandbox: Sandbox) -> None:
    api.get("/orders")
    api.get("/orders", params={"page[offset]": 20})
    api.get("/orders/NOPE-1")
    api.get("/nowhere")
    stats = requests.get(f"{sandbox.url}/_sandbox/stats").json()
    assert stats["total"] == 4
    assert stats["by_endpoint"] == {
        "GET (unmatched)": 1,
        "GET /v1/accounts/<account_id>/orders": 2,
        "GET /v1/accounts/<account_id>/orders/<record_id>": 1,
    }
    assert stats["by_status"] == {"200": 2, "404": 2}
    assert requests.post(f"{sandbox.url}/_sandbox/requests/clear").status_code == 204
    assert requests.get(f"{sandbox.url}/_sandbox/stats").json()["total"] == 0


def test_faults_can_be_set_remotely(api: Api, sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/_sandbox/faults"
    settings = requests.post(
        url, json={"fail_next": {"count": 1, "status": 429, "retry_after": 2}, "drop_next": 1}
    ).json()
    assert settings["queued"] == 2
    response = api.get("")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
    assert requests.post(url, json={"error_rate": 2}).status_code == 400
    assert requests.post(url, json={"bogus": 1}).status_code == 400
    assert requests.post(url, json={"reset": True}).json()["queued"] == 0
    assert api.get("").status_code == 200


def test_mutate_and_mutate_while_paging(api: Api, sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/_sandbox"
    response = requests.post(
        f"{url}/mutate", json={"account_id": "1001", "resource": "orders", "count": 3}
    )
    ids = response.json()["ids"]
    assert len(ids) == 3
    newest = api.get("/orders", params={"sort": "-updated_at", "page[limit]": 3}).json()["data"]
    assert {o["id"] for o in newest} == set(ids)
    bad = requests.post(f"{url}/mutate", json={"account_id": "1001", "resource": "carts"})
    assert bad.status_code == 400
    unknown = requests.post(f"{url}/mutate", json={"account_id": "9", "resource": "orders"})
    assert unknown.status_code == 404

    answer = requests.post(f"{url}/mutate-while-paging", json={"orders": 2, "mode": "random"})
    assert answer.json() == {"counts": {"orders": 2}, "mode": "random"}
    assert sandbox.store.mutate_while_paging == {"orders": 2}
    assert requests.post(f"{url}/mutate-while-paging", json={"mode": "sideways"}).status_code == 400


def test_shipments_are_readable(api: Api, sandbox: Sandbox) -> None:
    body = api.get("/orders", params={"filter[shipping_status]": "unshipped"}).json()
    order = body["data"][0]
    item_id = order["relationships"]["items"]["data"][0]["id"]
    shipment = {"items": [{"order_line_item_id": item_id, "quantity": 1}], "carrier": "DHL"}
    api.post(
        f"/orders/{order['id']}/shipments", {"data": {"type": "shipments", "attributes": shipment}}
    )
    url = f"{sandbox.url}/_sandbox/accounts/1001/orders/{order['id']}/shipments"
    recorded = requests.get(url).json()
    assert [s["carrier"] for s in recorded] == ["DHL"]
    assert recorded == sandbox.store.shipments("1001", order["id"])
    assert (
        requests.get(f"{sandbox.url}/_sandbox/accounts/1001/orders/X-1/shipments").status_code
        == 404
    )


def test_command_line_serves_until_terminated() -> None:
    command = [
        sys.executable,
        "-m",
        "bigcartel_sandbox",
        "--port",
        "0",
        "--shops",
        "1",
        "--orders",
        "5",
        "--products",
        "3",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        shops = requests.get(f"{url}/_sandbox/shops", timeout=5).json()
        assert [s["account_id"] for s in shops] == ["1001"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
