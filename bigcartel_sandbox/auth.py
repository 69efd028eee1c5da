"""Who may call the API: shop tokens and passwords, the OAuth app, and authorization codes."""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass

from bigcartel_sandbox.models import Shop


class OAuthError(Exception):
    """An OAuth answer ``{"error": code}``, with the HTTP status to send it with."""

    def __init__(self, error: str, status: int, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.status = status
        self.description = description


@dataclass(frozen=True)
class _Grant:
    account_id: str
    client_id: str
    redirect_uri: str


class Credentials:
    """Thread-safe registry of every credential the sandbox accepts.

    Not settled by the docs: each shop has exactly one access token. Revoking it makes it fail;
    a later authorization of the same shop makes the same token work again, so the shop
    credentials a test was given stay valid across a revoke-and-reconnect.
    """

    def __init__(self, shops: list[Shop], client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.Lock()
        self._tokens = {shop.access_token: shop.account_id for shop in shops}
        self._token_of = {shop.account_id: shop.access_token for shop in shops}
        self._logins = {(shop.subdomain, shop.password): shop.account_id for shop in shops}
        self._revoked: set[str] = set()
        self._grants: dict[str, _Grant] = {}

    def account_for_token(self, token: str) -> str | None:
        with self._lock:
            account_id = self._tokens.get(token)
            return None if account_id in self._revoked else account_id

    def account_for_login(self, subdomain: str, password: str) -> str | None:
        """HTTP Basic with a shop's subdomain and password; unaffected by OAuth revocation."""
        with self._lock:
            return self._logins.get((subdomain, password))

    def check_client(self, client_id: str, client_secret: str) -> None:
        """Raise ``OAuthError`` unless these are the OAuth app's id and secret."""
        if not hmac.compare_digest(client_id.encode(), self.client_id.encode()):
            raise OAuthError("invalid_client_id", 401, "The client_id is invalid.")
        if not hmac.compare_digest(client_secret.encode(), self.client_secret.encode()):
            raise OAuthError("invalid_client_secret", 401, "The client_secret is invalid.")

    def issue_code(self, account_id: str, client_id: str, redirect_uri: str) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(account_id, client_id, redirect_uri)
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str | None) -> str:
        """Exchange a code once for its shop's token (re-activated if it had been revoked).

        Not settled by the docs: an unknown or used code is ``invalid_grant`` (RFC 6749); a
        redirect_uri that differs from the one authorized is ``invalid_redirect_uri``, while
        leaving it out is allowed, the docs marking it optional.
        """
        with self._lock:
            grant = self._grants.get(code)
            if grant is None or grant.client_id != client_id:
                raise OAuthError("invalid_grant", 400, "The code is invalid or already used.")
            if redirect_uri is not None and redirect_uri != grant.redirect_uri:
                raise OAuthError(
                    "invalid_redirect_uri", 400, "The redirect_uri differs from the authorized one."
                )
            del self._grants[code]
            self._revoked.discard(grant.account_id)
            return grant.account_id

    def token_for(self, account_id: str) -> str:
        return self._token_of[account_id]

    def revoke(self, account_id: str) -> bool:
        """Make the shop's token fail; ``False`` when it already did."""
        with self._lock:
            if account_id in self._revoked:
                return False
            self._revoked.add(account_id)
            return True
