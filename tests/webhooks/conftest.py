"""Fixtures: a webhook store on SQLite and on PostgreSQL (``db_url``, from tests/conftest.py),
and the receiver served over HTTP."""

from __future__ import annotations

import logging
import typing as t

import pytest
from webhook_events import ServedApp
from webhooks_helpers import ALL_TOPICS, SECRET, Receiver

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_webhooks.app import create_app


@pytest.fixture
def store(db_url: str) -> t.Iterator[WebhookStore]:
    webhook_store = WebhookStore(db_url)
    yield webhook_store
    webhook_store.close()


@pytest.fixture
def serve(store: WebhookStore) -> t.Iterator[t.Callable[..., Receiver]]:
    """Start a receiver over ``store``; keyword arguments go to ``create_app``."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    served: list[ServedApp] = []

    def start(**options: t.Any) -> Receiver:
        options.setdefault("enabled_topics", ALL_TOPICS)
        server = ServedApp(create_app(store, SECRET, **options))
        served.append(server)
        return Receiver(f"{server.base}/webhooks/bigcartel", store)

    yield start
    for server in served:
        server.stop()


@pytest.fixture
def receiver(serve: t.Callable[..., Receiver]) -> Receiver:
    return serve()
