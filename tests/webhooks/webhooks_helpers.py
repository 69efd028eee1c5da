"""Helpers shared by the webhook receiver tests."""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass

import requests

from bigcartel_webhooks.app import signature
from bigcartel_webhooks.store import WebhookStore

SECRET = "test-client-secret"
ALL_TOPICS = ("orders", "products", "account")


def envelope(topic: str = "order.updated", account_id: int = 101, **payload: t.Any) -> bytes:
    """A delivery body shaped as Big Cartel (and the emulator) send it."""
    return json.dumps({"account_id": account_id, "type": topic, "payload": payload}).encode()


@dataclass
class Receiver:
    url: str
    store: WebhookStore

    def post(
        self,
        body: bytes,
        sig: str | None = "sign",
        session: requests.Session | None = None,
    ) -> requests.Response:
        """POST ``body``; ``sig="sign"`` signs it correctly, None sends no signature."""
        headers = {"Content-Type": "application/json"}
        if sig == "sign":
            sig = signature(SECRET, body)
        if sig is not None:
            headers["X-Webhook-Signature"] = sig
        poster = session or requests
        return poster.post(self.url, data=body, headers=headers, timeout=30)
