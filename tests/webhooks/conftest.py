"""Fixtures: a webhook store on SQLite and on PostgreSQL (``db_url``, from tests/conftest.py),
and the receiver served over HTTP."""

from __future__ import annotations

import logging
import threading
import typing as t

import pytest
from webhooks_helpers import ALL_TOPICS, SECRET, Receiver
from werkzeug.serving import make_server

from bigcartel_webhooks.app import create_app
from bigcartel_webhooks.store import WebhookStore


@pytest.fixture
def store(db_url: str) -> t.Iterator[WebhookStore]:
    webhook_store = WebhookStore(db_url)
    yield webhook_store
    webhook_store.close()


class _Served:
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


@pytest.fixture
def serve(store: WebhookStore) -> t.Iterator[t.Callable[..., Receiver]]:
    """Start a receiver over ``store``; keyword arguments go to ``create_app``."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    served: list[_Served] = []

    def start(**options: t.Any) -> Receiver:
        options.setdefault("enabled_topics", ALL_TOPICS)
        server = _Served(create_app(store, SECRET, **options))
        served.append(server)
        return Receiver(f"{server.base}/webhooks/bigcartel", store)

    yield start
    for server in served:
        server.stop()


@pytest.fixture
def receiver(serve: t.Callable[..., Receiver]) -> Receiver:
    return serve()
