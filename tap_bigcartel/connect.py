"""``tap-bigcartel-connect``: run Big Cartel's OAuth flow for one shop and store its token.

The shop owner approves the app in a browser; Big Cartel redirects back with a one-time code,
which is exchanged for the shop's access token. The token is added to the Meltano env vars
``TAP_BIGCARTEL_ACCOUNTS`` and ``TARGET_FULFILLMENT_ACCOUNTS`` (a JSON array of
``{account_id, access_token}``) in an env file, next to the shops already there. ``--revoke``
deauthorizes a shop and removes it again. Secrets are never printed.

Usage::

    tap-bigcartel-connect --client-id ID            # secret from BIGCARTEL_CLIENT_SECRET
    tap-bigcartel-connect --revoke ACCOUNT_ID
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from bigcartel_core.http import user_agent
from bigcartel_core.oauth import (
    DEFAULT_API_URL,
    DEFAULT_OAUTH_BASE_URL,
    Grant,
    OAuthClient,
    OAuthError,
)
from bigcartel_core.webhook_store import WebhookStore
from tap_bigcartel.callback import CallbackListener, is_loopback, parse_callback
from tap_bigcartel.envfile import ENV_VARS, EnvFileError, update_env_file

PROG = "tap-bigcartel-connect"

AUTHORIZE_ERRORS = {
    "access_denied": "The shop owner denied access to the shop.",
    "invalid_client_id": "Big Cartel does not know this client id; check --client-id.",
    "invalid_client_secret": "Big Cartel refused the client secret; check --client-secret.",
    "invalid_redirect_uri": (
        "Big Cartel refused the redirect URI; it must match the one registered for the app."
    ),
    "invalid_response_type": "Big Cartel refused the response type of the request.",
    "invalid_grant": "The authorization code is invalid or was already used; connect again.",
}


class ConnectError(Exception):
    """A failure explained in plain words; the CLI prints it and exits non-zero."""


def oauth_client(args: argparse.Namespace) -> OAuthClient:
    """The app's OAuth client, with the User-Agent Big Cartel asks for."""
    return OAuthClient(
        args.client_id,
        args.client_secret,
        user_agent(PROG),
        api_url=args.api_url,
        oauth_base_url=args.oauth_base_url,
        timeout=args.request_timeout,
    )


def exchange_code(client: OAuthClient, code: str, redirect_uri: str) -> Grant:
    """Trade the one-time code for the shop's token."""
    try:
        return client.exchange_code(code, redirect_uri)
    except OAuthError as error:
        if error.status is None or error.status == 200:
            raise ConnectError(str(error)) from None
        raise ConnectError(
            f"Big Cartel refused the code exchange (HTTP {error.status}): {_words(error)}"
        ) from None


def revoke(client: OAuthClient, account_id: str) -> None:
    """Deauthorize the app for one shop (HTTP Basic with the app's credentials)."""
    try:
        client.revoke(account_id)
    except OAuthError as error:
        if error.status is None:
            raise ConnectError(str(error)) from None
        if error.status == 401:
            raise ConnectError(
                "Big Cartel refused the app's credentials; check --client-id and --client-secret."
            ) from None
        if error.status == 404:
            raise ConnectError(f"Big Cartel has no account {account_id}.") from None
        raise ConnectError(
            f"Big Cartel refused to revoke account {account_id} (HTTP {error.status}): "
            f"{_words(error)}"
        ) from None


def _words(error: OAuthError) -> str:
    """The CLI's plain words for an OAuth error code, else the API's own."""
    if error.error in AUTHORIZE_ERRORS:
        return AUTHORIZE_ERRORS[error.error]
    return error.description or error.error or "no details."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Connect a Big Cartel shop through OAuth and store its token for Meltano "
        f"({' and '.join(ENV_VARS)}), or revoke it.",
    )
    parser.add_argument(
        "--client-id",
        default=os.environ.get("BIGCARTEL_CLIENT_ID"),
        help="the app's client id (default: env BIGCARTEL_CLIENT_ID)",
    )
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("BIGCARTEL_CLIENT_SECRET"),
        help="the app's client secret (default: env BIGCARTEL_CLIENT_SECRET, preferred: argv "
        "is visible to other users)",
    )
    parser.add_argument(
        "--redirect-uri",
        help="default http://127.0.0.1:<free port>/callback, received here; a non-loopback "
        "URI means pasting the URL the browser lands on",
    )
    parser.add_argument(
        "--oauth-base-url",
        default=DEFAULT_OAUTH_BASE_URL,
        help=f"host of the authorize page (default {DEFAULT_OAUTH_BASE_URL})",
    )
    parser.add_argument(
        "--api-url",
        default=DEFAULT_API_URL,
        help=f"host of the token and deauthorize endpoints (default {DEFAULT_API_URL})",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env"),
        help="env file Meltano reads, updated in place (default .env in the current directory)",
    )
    parser.add_argument(
        "--webhook-db-url",
        default=os.environ.get("TAP_BIGCARTEL_WEBHOOK_DB_URL"),
        help="the webhook store (the tap's webhook_db_url): a connected shop is marked "
        "connected there, undoing an earlier account.deauthorized (default: env "
        "TAP_BIGCARTEL_WEBHOOK_DB_URL)",
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the browser's redirect (default 300)",
    )
    parser.add_argument("--request-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--revoke", metavar="ACCOUNT_ID", help="deauthorize this shop and remove it"
    )
    return parser


def connect(args: argparse.Namespace, client: OAuthClient) -> Grant:
    """The authorization-code flow, up to a stored token."""
    state = secrets.token_urlsafe(32)
    listener: CallbackListener | None = None
    redirect_uri: str = args.redirect_uri or ""
    try:
        if not redirect_uri:
            listener = CallbackListener("127.0.0.1", 0, "/callback")
            redirect_uri = f"http://127.0.0.1:{listener.port}/callback"
        elif is_loopback(redirect_uri):
            parts = urlsplit(redirect_uri)
            try:
                listener = CallbackListener(
                    parts.hostname or "127.0.0.1", parts.port or 80, parts.path
                )
            except OSError as error:
                raise ConnectError(
                    f"Cannot listen on {parts.netloc} for the redirect: {error.strerror}."
                ) from None
        url = client.authorize_url(redirect_uri, state)
        print("Open this URL to let the shop owner approve the app:", flush=True)
        print(url, flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        if listener is not None:
            print(f"Waiting for Big Cartel to redirect to {redirect_uri} ...", flush=True)
            received = listener.wait(args.timeout)
            if received is None:
                raise ConnectError(
                    f"No answer from Big Cartel within {args.timeout:g} seconds; connect again."
                )
            callback = received
        else:
            print("Paste the URL the browser was redirected to, then press Enter:", flush=True)
            pasted = sys.stdin.readline()
            if not pasted.strip():
                raise ConnectError("No redirect URL was pasted.")
            callback = parse_callback(pasted)
    finally:
        if listener is not None:
            listener.close()
    if callback.state != state:
        raise ConnectError(
            "The answer's state does not match this request: it may be forged or from an older "
            "attempt. Nothing was stored; connect again."
        )
    if callback.error:
        raise ConnectError(
            AUTHORIZE_ERRORS.get(callback.error, f"Big Cartel answered error {callback.error!r}.")
            + " Nothing was stored."
        )
    if not callback.code:
        raise ConnectError("Big Cartel's answer carries no code. Nothing was stored.")
    return exchange_code(client, callback.code, redirect_uri)


def mark_connected(db_url: str, account_id: str) -> None:
    """Undo an earlier account.deauthorized, so the tap and the target use the shop again."""
    try:
        store = WebhookStore(db_url)
        try:
            store.mark_connected(account_id, PROG)
        finally:
            store.close()
    except (sa.exc.SQLAlchemyError, ValueError) as error:
        raise ConnectError(
            f"The token is stored, but the webhook store could not mark account {account_id} "
            f"connected ({type(error).__name__}); run `bigcartel-webhooks reconnect "
            f"{account_id}` once it is reachable."
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.client_id:
        parser.error("--client-id (or BIGCARTEL_CLIENT_ID) is required")
    if not args.client_secret:
        parser.error("--client-secret (or BIGCARTEL_CLIENT_SECRET) is required")
    try:
        with oauth_client(args) as client:
            if args.revoke:
                revoke(client, args.revoke)
                removed = update_env_file(args.env_file, remove=args.revoke)
                where = f"removed from {args.env_file}" if removed else f"not in {args.env_file}"
                print(f"Revoked access to account {args.revoke}; {where}.")
                return 0
            grant = connect(args, client)
        update_env_file(args.env_file, add=grant)
        print(f"Connected account {grant.account_id}; stored in {args.env_file}.")
        if args.webhook_db_url:
            mark_connected(args.webhook_db_url, grant.account_id)
            print(f"Marked account {grant.account_id} connected in the webhook store.")
        return 0
    except (ConnectError, EnvFileError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was stored.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
