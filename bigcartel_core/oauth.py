"""Big Cartel's OAuth 2.0 for apps: the authorize URL, the code exchange and the revoke.

Authorize at ``my.bigcartel.com/oauth/authorize``; ``POST api.bigcartel.com/oauth/token`` trades
the one-time code for ``{access_token, token_type, account_id}`` (no refresh tokens);
``POST /oauth/deauthorize/{account_id}`` with HTTP Basic client id and secret revokes (204).
Requests go through :func:`bigcartel_core.http.new_session`; the token POST is sent once, since a
code is single-use and a resent one could only be refused. No error or repr shows a secret.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlencode

import requests

from bigcartel_core.errors import redact
from bigcartel_core.http import RetryPolicy, new_session

DEFAULT_OAUTH_BASE_URL = "https://my.bigcartel.com"
DEFAULT_API_URL = "https://api.bigcartel.com"


@dataclass(frozen=True)
class Grant:
    """What the token endpoint answered: the shop and its token."""

    account_id: str
    access_token: str = field(repr=False)


class OAuthError(Exception):
    """Big Cartel refused an OAuth request, or could not be reached (``status`` None).

    ``error`` is the OAuth error code when the answer carried one (``invalid_grant``...),
    ``description`` its words; both have every secret of the client removed.
    """

    def __init__(
        self,
        message: str,
        status: int | None,
        error: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.description = description


class OAuthClient:
    """The OAuth client of one Big Cartel app (client id and secret)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        user_agent: str,
        *,
        api_url: str = DEFAULT_API_URL,
        oauth_base_url: str = DEFAULT_OAUTH_BASE_URL,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.api_url = api_url.rstrip("/")
        self.oauth_base_url = oauth_base_url.rstrip("/")
        self._session = new_session(
            user_agent,
            timeout=timeout,
            policy=policy,
            accept="application/json",
            content_type=None,
        )

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, api_url={self.api_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> OAuthClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where the shop owner approves the app; Big Cartel redirects back with a code."""
        query = urlencode(
            {
                "client_id": self.client_id,
                "response_type": "code",
                "state": state,
                "redirect_uri": redirect_uri,
            }
        )
        return f"{self.oauth_base_url}/oauth/authorize?{query}"

    def exchange_code(self, code: str, redirect_uri: str) -> Grant:
        """Trade the one-time code for the shop's token."""
        response = self._post(
            "/oauth/token",
            data={
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
            },
        )
        if response.status_code != 200:
            raise self._refused("the code exchange", response, [code])
        try:
            payload = response.json()
            return Grant(str(payload["account_id"]), str(payload["access_token"]))
        except (ValueError, KeyError, TypeError):
            raise OAuthError(
                "Big Cartel's token answer has no account_id and access_token.", 200
            ) from None

    def revoke(self, account_id: str) -> None:
        """Deauthorize the app for one shop; its token stops working."""
        response = self._post(
            f"/oauth/deauthorize/{account_id}", auth=(self.client_id, self._client_secret)
        )
        if response.status_code not in (200, 204):
            raise self._refused(f"revoking account {account_id}", response, [])

    def _post(self, path: str, **kwargs: t.Any) -> requests.Response:
        try:
            return self._session.post(f"{self.api_url}{path}", **kwargs)
        except requests.RequestException as error:
            raise OAuthError(
                f"Could not reach {self.api_url}: {type(error).__name__}.", None
            ) from None

    def _refused(self, what: str, response: requests.Response, secrets: list[str]) -> OAuthError:
        hidden = [self._client_secret, *secrets]
        try:
            payload = response.json()
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else {}
        error = payload.get("error")
        description = payload.get("error_description")
        error = redact(error, hidden) if isinstance(error, str) else None
        description = redact(str(description), hidden) if description else None
        words = description or error or "no details."
        return OAuthError(
            f"Big Cartel refused {what} (HTTP {response.status_code}): {words}",
            response.status_code,
            error,
            description,
        )
