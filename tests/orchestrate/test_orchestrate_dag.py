"""The Airflow 3 DAG, loaded and run by Airflow itself from .venv-airflow (not the project venv).

``scripts/airflow.sh --install-only`` creates .venv-airflow when missing (about a minute, once).
Each test runs Airflow in a subprocess with AIRFLOW_HOME in a tmp dir and a SQLite metadata DB
there; ``meltano`` is replaced by a fake that records what it was given.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestrate.sharding import Shop, shard

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
DAGS = ROOT / "orchestrate" / "dags"

FAKE_MELTANO = """\
#!{python}
import json, os, sys
accounts = json.loads(os.environ["TAP_BIGCARTEL_ACCOUNTS"])
suffix = sys.argv[sys.argv.index("--state-id-suffix") + 1]
record = {{
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "accounts": accounts,
    "target_accounts": json.loads(os.environ["TARGET_FULFILLMENT_ACCOUNTS"]),
}}
with open(os.path.join(os.environ["FAKE_MELTANO_OUT"], suffix + ".json"), "w") as out:
    json.dump(record, out)
print("fake meltano:", suffix, len(accounts), "shops")
fail = os.environ.get("FAKE_MELTANO_FAIL_SHOP")
sys.exit(3 if any(a["account_id"] == fail for a in accounts) else 0)
"""


@pytest.fixture(scope="module")
def airflow_python() -> Path:
    subprocess.run(["bash", str(ROOT / "scripts" / "airflow.sh"), "--install-only"], check=True)
    return AIRFLOW_PYTHON


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


def test_dagbag_loads_without_import_errors(airflow_python: Path, tmp_path: Path) -> None:
    result = run_airflow_python(
        airflow_python,
        """
        import airflow
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        dag = bag.dags["bigcartel_shards"]  # get_dag() would ask the metadata DB
        tasks = {
            t.task_id: {
                "type": type(t).__name__,
                "trigger_rule": str(t.trigger_rule.value if hasattr(t.trigger_rule, "value")
                                    else t.trigger_rule),
                "max_active_tis_per_dag": t.max_active_tis_per_dag,
                "pool": t.pool,
                "upstream": sorted(t.upstream_task_ids),
            }
            for t in dag.tasks
        }
        json.dump({"version": airflow.__version__, "errors": {k: str(v) for k, v in
                   bag.import_errors.items()}, "dag_ids": sorted(bag.dag_ids), "tasks": tasks,
                   "params": sorted(dag.params.keys()), "max_active_runs": dag.max_active_runs},
                  open(os.environ["RESULT_FILE"], "w"))
        """,
        airflow_env(tmp_path, BIGCARTEL_SHARD_CONCURRENCY="3", BIGCARTEL_SHARD_POOL="bigcartel"),
    )
    assert result["version"].startswith("3.")
    assert result["errors"] == {}
    assert result["dag_ids"] == ["bigcartel_shards"]
    tasks = result["tasks"]
    assert set(tasks) == {"plan_shards", "run_shard", "summarize"}
    assert tasks["run_shard"]["type"] == "DecoratedMappedOperator"
    assert tasks["run_shard"]["max_active_tis_per_dag"] == 3
    assert tasks["run_shard"]["pool"] == "bigcartel"
    assert tasks["summarize"]["trigger_rule"] == "all_done"
    assert tasks["summarize"]["upstream"] == ["plan_shards", "run_shard"]
    assert result["params"] == ["environment", "shards"]
    assert result["max_active_runs"] == 1


def test_mapped_shards_run_independently_and_summary_fails_the_run(
    airflow_python: Path, tmp_path: Path
) -> None:
    home = tmp_path / "airflow"
    home.mkdir()
    out = tmp_path / "meltano-calls"
    out.mkdir()
    fake = tmp_path / "fake-meltano"
    fake.write_text(FAKE_MELTANO.format(python=sys.executable))
    fake.chmod(0o755)
    shops = [Shop(str(2000 + i), f"tok-{i:04d}-do-not-leak") for i in range(23)]
    shops_file = tmp_path / "shops.json"
    shops_file.write_text(json.dumps([shop.as_setting() for shop in shops]))
    expected = shard(shops, 3)
    failing = expected[1][0].account_id
    env = airflow_env(
        home,
        BIGCARTEL_SHOPS_SOURCE=shops_file.as_uri(),
        BIGCARTEL_MELTANO_BIN=str(fake),
        BIGCARTEL_MELTANO_PROJECT_DIR=str(tmp_path),
        BIGCARTEL_SHARD_RETRIES="0",
        FAKE_MELTANO_OUT=str(out),
        FAKE_MELTANO_FAIL_SHOP=failing,
    )
    migrate = subprocess.run(
        [str(airflow_python.parent / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    result = run_airflow_python(
        airflow_python,
        """
        from airflow.dag_processing.dagbag import DagBag
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        run = bag.get_dag("bigcartel_shards").test(run_conf={"shards": 3, "environment": "dev"})
        with create_session() as session:
            tis = [
                [ti.task_id, ti.map_index, str(ti.state), ti.rendered_map_index]
                for ti in session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id)
            ]
        json.dump({"state": str(run.state), "run_id": run.run_id, "tis": tis},
                  open(os.environ["RESULT_FILE"], "w"))
        """,
        env,
    )
    assert result["state"] == "failed"
    states = {(task, index): (state, label) for task, index, state, label in result["tis"]}
    assert states[("plan_shards", -1)][0] == "success"
    assert states[("summarize", -1)][0] == "failed"
    mapped = {index: value for (task, index), value in states.items() if task == "run_shard"}
    assert sorted(mapped) == [0, 1, 2]
    for index in range(3):
        assert mapped[index] == ("failed" if index == 1 else "success", f"shard-{index}")
    assert "1 of 3 shards failed: shard-1" in result["_output"]

    # Each mapped instance ran the shard's command with exactly the planned shops and tokens.
    for index, group in enumerate(expected):
        call = json.loads((out / f"shard-{index}.json").read_text())
        assert call["argv"] == [
            "--environment",
            "dev",
            "run",
            "tap-bigcartel",
            "target-fulfillment",
            "--state-id-suffix",
            f"shard-{index}",
        ]
        assert call["accounts"] == [shop.as_setting() for shop in group]
        assert call["target_accounts"] == call["accounts"]
        assert call["cwd"] == str(tmp_path)

    # No token in Airflow's output, task logs, XCom or rendered fields.
    assert "do-not-leak" not in result["_output"]
    for log_file in (home / "logs").rglob("*"):
        if log_file.is_file():
            assert "do-not-leak" not in log_file.read_text(errors="replace"), log_file
    database = sqlite3.connect(home / "airflow.db")
    try:
        for table in ("xcom", "rendered_task_instance_fields", "dag_run"):
            for row in database.execute(f"SELECT * FROM {table}"):
                assert "do-not-leak" not in repr(row), table
        xcoms = database.execute("SELECT COUNT(*) FROM xcom").fetchone()[0]
    finally:
        database.close()
    assert xcoms >= 3  # the plan and the two successful shards' results were checked
