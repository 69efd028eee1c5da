"""The OAuth 2.0 routes: authorize (auto-approved), token exchange and deauthorization.

Authorization is decided by store switches instead of a login page: ``authorize_account_id`` is
the shop that approves, and ``authorize_decision = "deny"`` makes it refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, redirect, request

from bigcartel_sandbox.auth import OAuthError
from bigcartel_sandbox.web import json_response, services

bp = Blueprint("oauth", __name__, url_prefix="/oauth")


@bp.errorhandler(OAuthError)
def oauth_error(error: OAuthError) -> Response:
    return json_response(
        {"error": error.error, "error_description": error.description}, error.status
    )


@bp.get("/authorize")
def authorize() -> Response:
    args = request.args
    redirect_uri = args.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # Not settled by the docs: the sandbox app has no registered redirect URI to fall back
        # on, so one is required, and with nowhere to redirect the error is answered directly.
        raise OAuthError(
            "invalid_redirect_uri", 400, "redirect_uri must be an absolute http(s) URL."
        )
    state = args.get("state")
    store = services().store
    client_id = args.get("client_id", "")
    if client_id != store.credentials.client_id:
        return _redirect_back(redirect_uri, state, error="invalid_client_id")
    if args.get("response_type", "code") != "code":
        return _redirect_back(redirect_uri, state, error="invalid_response_type")
    if store.authorize_decision == "deny":
        return _redirect_back(redirect_uri, state, error="access_denied")
    code = store.credentials.issue_code(store.authorize_account_id, client_id, redirect_uri)
    return _redirect_back(redirect_uri, state, code=code)


@bp.post("/token")
def token() -> Response:
    """Accepts form-encoded or JSON parameters."""
    params: Any = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(params, Mapping):
        params = {}
    client_id = str(params.get("client_id", ""))
    credentials = services().store.credentials
    credentials.check_client(client_id, str(params.get("client_secret", "")))
    redirect_uri = params.get("redirect_uri")
    account_id = credentials.redeem_code(
        str(params.get("code", "")), client_id, str(redirect_uri) if redirect_uri else None
    )
    return json_response(
        {
            "access_token": credentials.token_for(account_id),
            "token_type": "bearer",
            "account_id": int(account_id),
        }
    )


@bp.post("/deauthorize/<account_id>")
def deauthorize(account_id: str) -> Response:
    auth = request.authorization
    if auth is None or auth.type != "basic":
        raise OAuthError(
            "invalid_client_id", 401, "Use HTTP Basic with the app's client_id and client_secret."
        )
    store = services().store
    store.credentials.check_client(auth.username or "", auth.password or "")
    if not store.has_account(account_id):
        # Not settled by the docs: the error for an unknown account.
        raise OAuthError("not_found", 404, f"Account {account_id} does not exist.")
    store.revoke_token(account_id)
    return Response(status=204)


def _redirect_back(redirect_uri: str, state: str | None, **params: str) -> Response:
    if state is not None:
        params["state"] = state
    parts = urlsplit(redirect_uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return redirect(urlunsplit(parts._replace(query=urlencode(query))), code=302)
