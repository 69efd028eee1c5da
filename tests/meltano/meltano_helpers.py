"""Helpers and fixtures of the Meltano tests: the real `meltano` CLI (scripts/meltano.sh).

Meltano and the plugins are installed once per session (`scripts/meltano.sh install` in the
repository). Each test runs in a project directory of its own: a copy of meltano.yml whose
`.meltano/extractors` and `.meltano/loaders` link to the installed plugin venvs, so the system
database (state), run configs and logs are the test's own.
PostgreSQL tests fail, never skip, when the server is unreachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bigcartel_sandbox import Sandbox, SandboxConfig

REPO = Path(__file__).resolve().parents[2]
MELTANO_SH = REPO / "scripts" / "meltano.sh"
POSTGRES_URL = os.environ.get(
    "FULFILLMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STATE_ID = "dev:tap-bigcartel-to-{loader}"
# What the dev environment of meltano.yml names: the emulator's two default shops.
SHOP_IDS = ("1001", "1002")


@pytest.fixture(scope="session")
def meltano_installed() -> Path:
    """Meltano in .venv-meltano and every plugin of meltano.yml under .meltano/, once."""
    result = subprocess.run(
        ["bash", str(MELTANO_SH), "install"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return REPO / ".meltano"


@dataclass
class Project:
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def meltano(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            **self.env,
        }
        env.pop("MELTANO_PROJECT_ROOT", None)
        result = subprocess.run(
            ["bash", str(MELTANO_SH), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        if check:
            assert result.returncode == 0, (
                f"meltano {' '.join(args)} exited {result.returncode}\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
            )
        return result

    def state(self, loader: str) -> dict[str, t.Any]:
        result = self.meltano("state", "get", STATE_ID.format(loader=loader))
        return json.loads(result.stdout.strip().splitlines()[-1])


def make_project(root: Path, installed: Path) -> Project:
    root.mkdir(parents=True)
    (root / "meltano.yml").write_text((REPO / "meltano.yml").read_text())
    sys_dir = root / ".meltano"
    sys_dir.mkdir()
    for kind in ("extractors", "loaders"):
        (sys_dir / kind).symlink_to(installed / kind, target_is_directory=True)
    return Project(root)


@pytest.fixture
def project(tmp_path: Path, meltano_installed: Path) -> Project:
    return make_project(tmp_path / "project", meltano_installed)


@pytest.fixture
def sandbox() -> t.Iterator[Sandbox]:
    with Sandbox(SandboxConfig(orders_per_shop=40, products_per_shop=12)) as sandbox:
        assert tuple(shop.account_id for shop in sandbox.shops) == SHOP_IDS
        yield sandbox


def point_at(project: Project, sandbox: Sandbox) -> None:
    """The dev environment, with the emulator's URL (it listens on a free port)."""
    project.env["TAP_BIGCARTEL_API_URL"] = sandbox.url
    project.env["TARGET_FULFILLMENT_API_URL"] = sandbox.url


@pytest.fixture
def postgres_schema() -> t.Iterator[tuple[sa.Engine, str]]:
    """An engine on the PostgreSQL server and a schema name of this test's own (dropped after)."""
    engine = sa.create_engine(
        POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 10}
    )
    schema = f"meltano_{uuid.uuid4().hex[:16]}"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as error:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is required"
            f" (or set FULFILLMENT_TEST_POSTGRES_URL): {error}",
            pytrace=False,
        )
    yield engine, schema
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()
