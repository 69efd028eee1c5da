"""Webhook deliveries stored as the receiver stores them, for the tap's and target's tests."""

from __future__ import annotations

import json
import threading
import typing as t
from datetime import datetime

from werkzeug.serving import make_server

from bigcartel_core.webhook_store import WebhookStore


def deliver(
    store: WebhookStore,
    account_id: str,
    topic: str,
    payload: t.Any,
    *,
    status: str = "received",
    received_at: datetime | None = None,
) -> None:
    """Store a delivery as the receiver does: the envelope of the docs, its payload as JSON."""
    body = json.dumps({"account_id": int(account_id), "type": topic, "payload": payload})
    store.record(
        body.encode(),
        account_id=account_id,
        topic=topic,
        status=status,
        payload=json.dumps(payload),
        received_at=received_at,
    )


def store_url(store: WebhookStore) -> str:
    return store.engine.url.render_as_string(hide_password=False)


class ServedApp:
    """A WSGI app served over HTTP on a free port, in a thread of this process."""

    def __init__(self, app: t.Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()
