"""Headers, credentials and error answers of the /v1 API, and the request log."""

from __future__ import annotations

import requests
from sandbox_helpers import JSONAPI, USER_AGENT, Api

from bigcartel_sandbox import Sandbox


def _errors(response: requests.Response) -> list[dict[str, str]]:
    assert response.headers["Content-Type"] == JSONAPI
    errors = response.json()["errors"]
    assert errors and errors[0]["status"] == str(response.status_code)
    assert errors[0]["title"] and errors[0]["detail"]
    return errors


def test_missing_user_agent_is_400(api: Api) -> None:
    # requests always sends its own User-Agent unless the header is set to None... or empty.
    response = api.get("", headers={"User-Agent": ""})
    assert response.status_code == 400
    assert "User-Agent" in _errors(response)[0]["detail"]


def test_accept_header_must_be_jsonapi(api: Api) -> None:
    for accept in (None, "*/*", "application/json"):
        response = api.get("", headers={"Accept": accept})
        assert response.status_code == 406, accept
        assert JSONAPI in _errors(response)[0]["detail"]
    assert api.get("", headers={"Accept": f"application/json, {JSONAPI}"}).status_code == 200


def test_body_needs_jsonapi_content_type(api: Api, sandbox: Sandbox) -> None:
    order_id = next(iter(sandbox.store.update_orders(api.shop.account_id, 1)))
    response = api.session.patch(
        f"{api.account_url}/orders/{order_id}",
        json={"data": {"id": order_id, "type": "orders", "attributes": {}}},
    )
    assert response.status_code == 400
    assert "Content-Type" in _errors(response)[0]["detail"]


def test_bearer_and_basic_credentials(sandbox: Sandbox) -> None:
    shop = sandbox.shops[1]
    headers = {"User-Agent": USER_AGENT, "Accept": JSONAPI}
    url = f"{sandbox.url}/v1/accounts/{shop.account_id}"
    basic = requests.get(url, headers=headers, auth=(shop.subdomain, shop.password))
    bearer = requests.get(url, headers={**headers, "Authorization": f"Bearer {shop.access_token}"})
    assert basic.status_code == bearer.status_code == 200
    assert basic.json()["data"]["attributes"]["subdomain"] == shop.subdomain
    assert bearer.json() == basic.json()


def test_missing_and_wrong_credentials_are_401(sandbox: Sandbox, api: Api) -> None:
    shop = sandbox.shops[0]
    headers = {"User-Agent": USER_AGENT, "Accept": JSONAPI}
    url = f"{sandbox.url}/v1/accounts/{shop.account_id}"
    for extra, auth in (
        ({}, None),
        ({"Authorization": "Bearer not-a-token"}, None),
        ({}, (shop.subdomain, "wrong-password")),
        ({"Authorization": "Token sandbox-token-1001"}, None),
    ):
        response = requests.get(url, headers={**headers, **extra}, auth=auth)
        assert response.status_code == 401, (extra, auth)
        _errors(response)


def test_revoked_token_is_401_but_basic_still_works(sandbox: Sandbox, api: Api) -> None:
    assert api.get("").status_code == 200
    sandbox.store.revoke_token(api.shop.account_id)
    assert api.get("").status_code == 401
    shop = api.shop
    basic = requests.get(
        api.account_url,
        headers={"User-Agent": USER_AGENT, "Accept": JSONAPI},
        auth=(shop.subdomain, shop.password),
    )
    assert basic.status_code == 200


def test_credentials_of_another_shop_are_401(api: Api, other_api: Api) -> None:
    response = api.get(f"{other_api.account_url}/orders")
    assert response.status_code == 401
    assert other_api.shop.account_id in _errors(response)[0]["detail"]


def test_unknown_account_order_and_route_are_404(api: Api, sandbox: Sandbox) -> None:
    assert api.get(f"{sandbox.url}/v1/accounts/999999").status_code == 404
    response = api.get("/orders/NOPE-000000")
    assert response.status_code == 404
    assert "NOPE-000000" in _errors(response)[0]["detail"]
    other_shop_order = _first_id(Api(sandbox, sandbox.shops[1]), "/orders")
    assert api.get(f"/orders/{other_shop_order}").status_code == 404
    assert api.get("/no-such-thing").status_code == 404
    _errors(api.get("/no-such-thing"))


def test_accounts_lists_the_credentials_account(api: Api, sandbox: Sandbox) -> None:
    body = api.get(f"{sandbox.url}/v1/accounts").json()
    assert [a["id"] for a in body["data"]] == [api.shop.account_id]
    assert body["meta"]["count"] == "1"
    account = body["data"][0]
    included = {(r["type"], r["id"]) for r in body["included"]}
    for name in ("currency", "country", "plan", "account_image"):
        ref = account["relationships"][name]["data"]
        assert (ref["type"], ref["id"]) in included
    assert ("countries", api.shop.country) in included


def test_countries_sorted_by_name_for_any_credential(api: Api, sandbox: Sandbox) -> None:
    body = api.get(f"{sandbox.url}/v1/countries").json()
    names = [c["attributes"]["name"] for c in body["data"]]
    assert names == sorted(names)
    assert {"US", "CA", "GB", "DE", "AU"} <= {c["id"] for c in body["data"]}
    assert body["meta"]["count"] == str(len(names))


def test_request_log_records_each_request(api: Api, sandbox: Sandbox) -> None:
    sandbox.clear_requests()
    api.get("/orders", params={"page[limit]": "5", "sort": "-updated_at"}, headers={"x-Trace": "7"})
    api.get("/orders/NOPE-1")
    first, second = sandbox.requests
    assert first["method"] == "GET"
    assert first["path"] == f"/v1/accounts/{api.shop.account_id}/orders"
    assert first["query"] == {"page[limit]": "5", "sort": "-updated_at"}
    assert first["headers"]["x-Trace"] == "7"
    assert first["headers"]["User-Agent"] == USER_AGENT
    assert first["status"] == 200
    assert second["status"] == 404
    sandbox.clear_requests()
    assert sandbox.requests == []


def _first_id(api: Api, path: str) -> str:
    return str(api.get(path, params={"page[limit]": 1}).json()["data"][0]["id"])
