"""Shared database fixtures: a SQLite file per test, and a fresh schema on the PostgreSQL server.

PostgreSQL tests fail, never skip, when the server is unreachable: a CI without PostgreSQL must
go red rather than pass without having tested the multi-machine ledger.
"""

from __future__ import annotations

import os
import typing as t
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

POSTGRES_URL = os.environ.get(
    "FULFILLMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def postgres_url() -> t.Iterator[str]:
    """The server's URL with ``search_path`` set to a schema of this test's own."""
    admin = sa.create_engine(POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 10})
    schema = f"test_{uuid.uuid4().hex}"
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
