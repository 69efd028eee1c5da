"""The OAuth client against the emulator: authorize URL, code exchange, revoke, plain errors."""

from __future__ import annotations

import socket
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from core_helpers import CLIENT_ID, CLIENT_SECRET, USER_AGENT, Waits, recording_policy

from bigcartel_core.oauth import Grant, OAuthClient, OAuthError
from bigcartel_sandbox import Sandbox

REDIRECT_URI = "https://connect.example.com/callback"


def _client(sandbox: Sandbox, secret: str = CLIENT_SECRET) -> OAuthClient:
    return OAuthClient(
        CLIENT_ID, secret, USER_AGENT, api_url=sandbox.url, oauth_base_url=sandbox.url
    )


def _code(client: OAuthClient, state: str = "st4te") -> str:
    """Play the browser: the emulator approves and redirects back with a code."""
    answer = requests.get(
        client.authorize_url(REDIRECT_URI, state), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    query = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    assert query["state"] == state
    return query["code"]


def _accounts(sandbox: Sandbox, token: str) -> int:
    return requests.get(
        f"{sandbox.url}/v1/accounts",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.api+json",
            "User-Agent": USER_AGENT,
        },
        timeout=10,
    ).status_code


def test_authorize_url_carries_the_parameters(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        url = client.authorize_url(REDIRECT_URI, "abc")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{sandbox.url}/oauth/authorize"
    assert dict(parse_qsl(parts.query)) == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "state": "abc",
        "redirect_uri": REDIRECT_URI,
    }
    assert CLIENT_SECRET not in url


def test_exchange_gives_a_working_token_and_hides_it(sandbox: Sandbox) -> None:
    shop = sandbox.shops[0]
    with _client(sandbox) as client:
        grant = client.exchange_code(_code(client), REDIRECT_URI)
    assert grant.account_id == str(shop.account_id)
    assert _accounts(sandbox, grant.access_token) == 200
    assert grant.access_token not in repr(grant) and CLIENT_SECRET not in repr(client)
    [token_request] = [r for r in sandbox.requests if r["path"] == "/oauth/token"]
    assert token_request["headers"]["User-Agent"] == USER_AGENT
    assert token_request["headers"]["Accept"] == "application/json"


def test_a_used_code_is_refused_with_its_oauth_error(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        code = _code(client)
        client.exchange_code(code, REDIRECT_URI)
        with pytest.raises(OAuthError) as raised:
            client.exchange_code(code, REDIRECT_URI)
    error = raised.value
    assert error.status is not None and 400 <= error.status < 500
    assert error.error == "invalid_grant"
    assert code not in str(error) and CLIENT_SECRET not in str(error)
    assert [r["status"] for r in sandbox.requests if r["path"] == "/oauth/token"] == [
        200,
        error.status,
    ]


def test_a_wrong_secret_is_refused_without_showing_it(sandbox: Sandbox) -> None:
    with _client(sandbox, secret="wrong-secret-value") as client:
        code = _code(client)
        with pytest.raises(OAuthError) as raised:
            client.exchange_code(code, REDIRECT_URI)
    assert raised.value.status == 401
    assert "wrong-secret-value" not in str(raised.value)


def test_revoke_stops_the_token_and_errors_carry_the_status(sandbox: Sandbox) -> None:
    first, second = sandbox.shops
    with _client(sandbox) as client:
        client.revoke(str(first.account_id))
        with pytest.raises(OAuthError) as unknown:
            client.revoke("999999999")
    assert _accounts(sandbox, first.access_token) == 401
    assert _accounts(sandbox, second.access_token) == 200
    assert unknown.value.status == 404
    with (
        _client(sandbox, secret="wrong-secret-value") as client,
        pytest.raises(OAuthError) as refused,
    ):
        client.revoke(str(second.account_id))
    assert refused.value.status == 401
    assert "wrong-secret-value" not in str(refused.value)
    assert _accounts(sandbox, second.access_token) == 200


def test_an_unreachable_api_is_an_oauth_error_without_status(waits: Waits) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OAuthClient(
        CLIENT_ID,
        CLIENT_SECRET,
        USER_AGENT,
        api_url=f"http://127.0.0.1:{port}",
        timeout=2,
        policy=recording_policy(waits, max_retries=1),
    )
    with client, pytest.raises(OAuthError) as raised:
        client.exchange_code("a-code", REDIRECT_URI)
    assert raised.value.status is None
    assert "a-code" not in str(raised.value) and CLIENT_SECRET not in str(raised.value)
    assert len(waits.seen) == 1  # a connection never made is retried, even for a POST


def test_grant_is_a_plain_value() -> None:
    assert Grant(account_id="1", access_token="t") == Grant("1", "t")
