"""tests/orchestrate: puts the repository root on sys.path (``orchestrate`` is not installed);
the Airflow install that the DAG tests run (``airflow_runs``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from airflow_runs import AIRFLOW_PYTHON, AIRFLOW_TEST_VENV  # noqa: E402


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """.venv-airflow, installed by ``scripts/airflow.sh --install-only`` (a minute, once)."""
    if not AIRFLOW_TEST_VENV:
        subprocess.run(["bash", str(ROOT / "scripts" / "airflow.sh"), "--install-only"], check=True)
    return AIRFLOW_PYTHON
