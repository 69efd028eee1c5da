"""Fixtures: a webhook store on SQLite and on PostgreSQL, and the receiver served over HTTP.

PostgreSQL tests fail, never skip, when the server is unreachable.
"""

from __future__ import annotations

import logging
import os
import threading
import typing as t
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from webhooks_helpers import ALL_TOPICS, SECRET, Receiver
from werkzeug.serving import make_server

from bigcartel_webhooks.app import create_app
from bigcartel_webhooks.store import WebhookStore

POSTGRES_URL = os.environ.get(
    "FULFILLMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'webhooks.db'}"


@pytest.fixture
def postgres_url() -> t.Iterator[str]:
    """The server's URL with ``search_path`` set to a schema of this test's own."""
    admin = sa.create_engine(POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 10})
    schema = f"test_webhooks_{uuid.uuid4().hex}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as error:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is required"
            f" (or set FULFILLMENT_TEST_POSTGRES_URL): {error}",
            pytrace=False,
        )
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test that uses it runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


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
