"""Helpers for the emulator's tests: an API client and a webhook receiver's record."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from bigcartel_sandbox import Sandbox, Shop

JSONAPI = "application/vnd.api+json"
USER_AGENT = "sandbox-tests (tests@example.com)"


class Api:
    """A ``requests`` session sending the headers the docs require, with one shop's token."""

    def __init__(self, sandbox: Sandbox, shop: Shop) -> None:
        self.sandbox = sandbox
        self.shop = shop
        self.session = requests.Session()
        self.session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Accept": JSONAPI,
                "Authorization": f"Bearer {shop.access_token}",
            }
        )

    @property
    def account_url(self) -> str:
        return f"{self.sandbox.url}/v1/accounts/{self.shop.account_id}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self._url(path), timeout=10, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.patch(self._url(path), **self._json(body), timeout=10, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.post(self._url(path), **self._json(body), timeout=10, **kwargs)

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.account_url}{path}"

    @staticmethod
    def _json(body: Any) -> dict[str, Any]:
        return {"data": json.dumps(body), "headers": {"Content-Type": JSONAPI}}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local webhook endpoint; answers with ``statuses`` in turn, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0
    ) -> list[Received]:
        """Poll until ``predicate(received)`` holds, failing the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = list(self.received)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.01)
        raise AssertionError(f"webhook receiver timed out; got {snapshot!r}")
