"""The OAuth flow: authorize, token exchange, deauthorize."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from sandbox_helpers import Api

from bigcartel_sandbox import Sandbox

CALLBACK = "https://app.example.com/callback?source=sandbox"


def _authorize(sandbox: Sandbox, **params: str) -> dict[str, list[str]]:
    query = {
        "client_id": sandbox.config.client_id,
        "response_type": "code",
        "state": "xyz",
        "redirect_uri": CALLBACK,
        **params,
    }
    response = requests.get(f"{sandbox.url}/oauth/authorize", params=query, allow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK.split("?")[0]
    return parse_qs(location.query)


def _token(
    sandbox: Sandbox, code: str, overrides: dict[str, str] | None = None
) -> requests.Response:
    form = {
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        "code": code,
        "redirect_uri": CALLBACK,
        **(overrides or {}),
    }
    return requests.post(f"{sandbox.url}/oauth/token", data=form)


def test_authorize_and_exchange_the_code(sandbox: Sandbox) -> None:
    sandbox.store.authorize_account_id = sandbox.shops[1].account_id
    params = _authorize(sandbox)
    assert params["state"] == ["xyz"] and params["source"] == ["sandbox"]
    response = _token(sandbox, params["code"][0])
    assert response.status_code == 200
    assert response.json() == {
        "access_token": sandbox.shops[1].access_token,
        "token_type": "bearer",
        "account_id": 1002,
    }


def test_token_accepts_json(sandbox: Sandbox) -> None:
    code = _authorize(sandbox)["code"][0]
    body = {
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        "code": code,
    }
    response = requests.post(f"{sandbox.url}/oauth/token", json=body)
    assert response.status_code == 200
    assert response.json()["account_id"] == 1001


def test_codes_are_single_use(sandbox: Sandbox) -> None:
    code = _authorize(sandbox)["code"][0]
    assert _token(sandbox, code).status_code == 200
    reused = _token(sandbox, code)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_token_errors(sandbox: Sandbox) -> None:
    code = _authorize(sandbox)["code"][0]
    cases = [
        ({"client_secret": "wrong"}, 401, "invalid_client_secret"),
        ({"client_id": "someone-else"}, 401, "invalid_client_id"),
        ({"redirect_uri": "https://elsewhere.example/"}, 400, "invalid_redirect_uri"),
        ({"code": "made-up"}, 400, "invalid_grant"),
    ]
    for overrides, status, error in cases:
        response = _token(sandbox, code, overrides)
        assert (response.status_code, response.json()["error"]) == (status, error), overrides
    assert _token(sandbox, code).status_code == 200, "failed attempts do not use the code up"


def test_authorize_errors_redirect_back(sandbox: Sandbox) -> None:
    assert _authorize(sandbox, client_id="nope")["error"] == ["invalid_client_id"]
    assert _authorize(sandbox, response_type="token")["error"] == ["invalid_response_type"]
    sandbox.store.authorize_decision = "deny"
    denied = _authorize(sandbox)
    assert denied["error"] == ["access_denied"] and denied["state"] == ["xyz"]
    assert "code" not in denied
    response = requests.get(
        f"{sandbox.url}/oauth/authorize",
        params={"client_id": sandbox.config.client_id},
        allow_redirects=False,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


def test_deauthorize_revokes_the_token_until_reauthorized(sandbox: Sandbox, api: Api) -> None:
    assert api.get("").status_code == 200
    url = f"{sandbox.url}/oauth/deauthorize/{api.shop.account_id}"
    config = sandbox.config
    assert requests.post(url, auth=(config.client_id, "wrong")).status_code == 401
    assert requests.post(url).status_code == 401
    assert api.get("").status_code == 200
    missing = requests.post(
        f"{sandbox.url}/oauth/deauthorize/4242", auth=(config.client_id, config.client_secret)
    )
    assert missing.status_code == 404

    response = requests.post(url, auth=(config.client_id, config.client_secret))
    assert response.status_code == 204 and response.content == b""
    assert api.get("").status_code == 401
    assert api.get(f"{sandbox.url}/v1/accounts").status_code == 401

    sandbox.store.authorize_account_id = api.shop.account_id
    token = _token(sandbox, _authorize(sandbox)["code"][0]).json()["access_token"]
    assert token == api.shop.access_token
    assert api.get("").status_code == 200
