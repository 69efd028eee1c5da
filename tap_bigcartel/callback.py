"""Receiving Big Cartel's OAuth redirect: a one-shot loopback listener and the callback's query.

Kept apart from the CLI so that the listener knows nothing of what the code is exchanged for;
the CLI decides what a missing or failed answer means to the user.
"""

from __future__ import annotations

import http.server
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Callback:
    """The query parameters Big Cartel redirected back with."""

    code: str | None
    state: str | None
    error: str | None


def is_loopback(redirect_uri: str) -> bool:
    """Only a loopback redirect can be received here; any other needs the URL pasted back."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def parse_callback(url: str) -> Callback:
    """The callback in a redirect URL, received or pasted; absent parameters are None."""
    query = parse_qs(urlsplit(url.strip()).query)

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    return Callback(code=first("code"), state=first("state"), error=first("error"))


class _HTTPServerV6(http.server.HTTPServer):
    """``HTTPServer`` binds IPv4 only; an IPv6 loopback redirect URI needs its own family."""

    address_family = socket.AF_INET6


class CallbackListener:
    """A one-shot HTTP listener on the loopback redirect URI, bound before the browser opens.

    Bound first so that the redirect can never arrive before anyone listens, and so that port 0
    can be resolved to a free port for the default redirect URI.
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.path = path or "/"
        self.callback: Callback | None = None
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10.0  # a client that connects and sends nothing cannot hold the wait

            def do_GET(self) -> None:
                if urlsplit(self.path).path != listener.path:
                    self.send_error(404)
                    return
                listener.callback = parse_callback(self.path)
                ok = listener.callback.code is not None and listener.callback.error is None
                body = (
                    "Big Cartel answered; you can close this window and return to the terminal."
                    if ok
                    else "Big Cartel did not grant access; see the terminal."
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Request lines carry the code; keep them off the terminal."""

        server_class = _HTTPServerV6 if ":" in host else http.server.HTTPServer
        self.server = server_class((host, port), Handler)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def wait(self, timeout: float) -> Callback | None:
        """Serve requests until the redirect arrives, for at most ``timeout`` seconds.

        None if it did not arrive in time. The listener is closed either way.
        """
        deadline = time.monotonic() + timeout
        try:
            while self.callback is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.server.timeout = remaining
                self.server.handle_request()
            return self.callback
        finally:
            self.server.server_close()

    def close(self) -> None:
        self.server.server_close()
