"""Running Airflow from .venv-airflow for the tests: its environment, ``dags test``, the states.

Each run gets AIRFLOW_HOME in a tmp dir with a SQLite metadata DB there. ``AIRFLOW_TEST_VENV``
runs the tests on another Airflow install as it is (nothing is installed into it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# AIRFLOW_TEST_VENV runs these tests on another Airflow install as it is (nothing installed).
AIRFLOW_TEST_VENV = os.environ.get("AIRFLOW_TEST_VENV")
AIRFLOW_PYTHON = Path(AIRFLOW_TEST_VENV or ROOT / ".venv-airflow") / "bin" / "python"
DAGS = ROOT / "orchestrate" / "dags"


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "BIGCARTEL_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
    )
    env.update(extra)
    return env


def run_airflow_python(python: Path, code: str, env: dict[str, str]) -> dict:
    result_file = Path(env["AIRFLOW_HOME"]) / "result.json"
    script = "import json, os\n" + textwrap.dedent(code)
    process = subprocess.run(
        [str(python), "-c", script],
        env={**env, "RESULT_FILE": str(result_file)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-5000:]
    result = json.loads(result_file.read_text())
    result["_output"] = process.stdout + process.stderr
    return result


def migrate_db(airflow_python: Path, env: dict[str, str]) -> None:
    migrate = subprocess.run(
        [str(airflow_python.parent / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]


def dags_test(airflow_python: Path, env: dict[str, str], conf: dict) -> tuple[int, str]:
    """``airflow dags test bigcartel_shards -c CONF`` (the README's recipe): exit code, output.

    The tasks run in this one process and their logs go to its output, so the output is the text
    of every task log of the run.
    """
    process = subprocess.run(
        [
            airflow_python.parent / "airflow",
            "dags",
            "test",
            "bigcartel_shards",
            "-c",
            json.dumps(conf),
        ],
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=600,
        check=False,
    )
    return process.returncode, process.stdout + process.stderr


def task_states(home: Path) -> dict[tuple[str, int], tuple[str, str | None]]:
    database = sqlite3.connect(home / "airflow.db")
    try:
        rows = database.execute(
            "SELECT task_id, map_index, state, rendered_map_index FROM task_instance"
        ).fetchall()
    finally:
        database.close()
    return {(task, index): (state, label) for task, index, state, label in rows}


def assert_clean_task_logs(output: str) -> None:
    """The hygiene of a run's task logs: no colour codes, no false errors, a plain logger."""
    styled = [line for line in output.splitlines() if "\x1b" in line]
    assert not styled, styled[:5]  # Meltano's styled error panel, relayed as plain text
    assert "Variable not found" not in output  # unset Variables are read with a default
    assert "XCom not found" not in output  # summarize reads the shards' XComs as one slice
    assert "unusual_prefix" not in output  # the DAG module's logger has a plain name
    assert "[bigcartel_shards]" in output
