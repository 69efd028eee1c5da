"""Credentials for each shop: an OAuth bearer token, or HTTP Basic for personal projects."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from bigcartel_core.errors import BigCartelAPIError, ConfigError, ShopUnavailableError
from bigcartel_core.http import RetryPolicy, new_session


class BearerAuth(AuthBase):
    """``Authorization: Bearer`` with a token that no repr or log line can show."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token=[redacted])"


@dataclass(frozen=True)
class Shop:
    """One shop to sync. ``account_id`` may be unknown until asked of the API."""

    account_id: str | None
    auth: AuthBase = field(repr=False, compare=False)
    #: Which setting the credentials came from, for error messages.
    source: str = "access_token"


def shops_from_config(config: Mapping[str, t.Any]) -> list[Shop]:
    """The shops a config names, in one of three auth modes; anything ambiguous is refused."""
    accounts = config.get("accounts") or []
    token = config.get("access_token")
    basic = config.get("subdomain") or config.get("password")
    modes = [
        name
        for name, present in (
            ("accounts", accounts),
            ("access_token", token),
            ("subdomain/password", basic),
        )
        if present
    ]
    if len(modes) != 1:
        raise ConfigError(
            "Configure exactly one way to authenticate: `access_token` (OAuth, optional "
            "`account_id`), `subdomain` + `password` (personal project), or `accounts` (a list of "
            f"{{account_id, access_token}}); found {', '.join(modes) or 'none'}."
        )
    if accounts:
        shops, seen = [], set()
        for index, entry in enumerate(accounts):
            account_id = str(entry.get("account_id") or "").strip()
            if not account_id or not entry.get("access_token"):
                raise ConfigError(
                    f"`accounts[{index}]` needs both `account_id` and `access_token`."
                )
            if account_id in seen:
                raise ConfigError(f"`accounts` lists account {account_id} twice.")
            seen.add(account_id)
            shops.append(Shop(account_id, BearerAuth(entry["access_token"]), f"accounts[{index}]"))
        return shops
    configured_id = str(config.get("account_id") or "").strip() or None
    if token:
        return [Shop(configured_id, BearerAuth(token), "access_token")]
    if not (config.get("subdomain") and config.get("password")):
        raise ConfigError("Personal-project auth needs both `subdomain` and `password`.")
    auth = HTTPBasicAuth(config["subdomain"], config["password"])
    return [Shop(configured_id, auth, "subdomain/password")]


def discover_account_id(
    shop: Shop,
    api_url: str,
    user_agent: str,
    timeout: float,
    *,
    policy: RetryPolicy | None = None,
) -> str:
    """Ask ``GET /v1/accounts`` which account the credentials open (a one-element list)."""
    with new_session(user_agent, timeout=timeout, policy=policy) as session:
        response = session.get(f"{api_url.rstrip('/')}/v1/accounts", auth=shop.auth)
    if response.status_code in (401, 403):
        raise ShopUnavailableError(
            f"Big Cartel rejected the credentials in `{shop.source}` ({response.status_code}): "
            "the token was revoked, the app deauthorized, or the password is wrong.",
            response.status_code,
        )
    if response.status_code != 200:
        raise BigCartelAPIError(
            f"GET /v1/accounts with the credentials in `{shop.source}` answered "
            f"{response.status_code} {response.reason}.",
            response.status_code,
        )
    data = response.json().get("data") or []
    if not data:
        raise BigCartelAPIError(
            f"GET /v1/accounts with the credentials in `{shop.source}` returned no account.", 200
        )
    return str(data[0]["id"])
