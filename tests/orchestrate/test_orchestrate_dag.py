"""The Airflow 3 DAG, loaded and run by Airflow itself from .venv-airflow (not the project venv).

``scripts/airflow.sh --install-only`` creates .venv-airflow when missing (about a minute, once).
Each test runs Airflow in a subprocess with AIRFLOW_HOME in a tmp dir and a SQLite metadata DB
there; ``meltano`` is replaced by a fake that records what it was given.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import yaml
from airflow_runs import (
    ROOT,
    airflow_env,
    assert_clean_task_logs,
    dags_test,
    migrate_db,
    run_airflow_python,
    task_states,
)

from orchestrate.sharding import Shop, shard

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
if any(a["account_id"] == fail for a in accounts):
    # As Meltano 4.4 relays a tap-bigcartel run that failed a shop: its plugin error panel styled
    # with ANSI escapes although stdout is not a terminal (NO_COLOR drops colours, not bold), then
    # the tap's last stderr line as a log line.
    bold, plain = "\x1b[1m", "\x1b[0m"
    print(f"{{bold}}ShopsFailedError: {{plain}}1 shop(s) could not be synced: account {{fail}}:")
    print("2026-12-02T01:55:40.215724Z [error    ] tap-bigcartel 1 shop(s) could not be synced: "
          "account " + fail + ": accounts: Big Cartel refused the credentials (401 UNAUTHORIZED)")
    print("2026-12-02T01:55:41.198033Z [error    ] meltano      Extractor failed")
    sys.exit(1)
"""


def test_dagbag_loads_without_import_errors(airflow_python: Path, tmp_path: Path) -> None:
    result = run_airflow_python(
        airflow_python,
        """
        import airflow
        try:
            from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
        except ImportError:
            from airflow.models.dagbag import DagBag
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
                   "params": sorted(dag.params.keys()), "max_active_runs": dag.max_active_runs,
                   "schedule": str(dag.schedule), "catchup": dag.catchup},
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
    assert result["catchup"] is False
    # One schedule story: the DAG is meltano.yml's fulfillment job, sharded, on its schedule.
    assert result["schedule"] == fulfillment_schedule()


def fulfillment_schedule() -> str:
    """The interval of meltano.yml's schedule of the job that runs tap -> target-fulfillment."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    jobs = {
        job["name"]
        for job in project.get("jobs", [])
        if job.get("tasks") == ["tap-bigcartel target-fulfillment"]
    }
    intervals = [s["interval"] for s in project.get("schedules", []) if s.get("job") in jobs]
    assert len(intervals) == 1, intervals
    return intervals[0]


def test_schedule_env_override_and_manual(airflow_python: Path, tmp_path: Path) -> None:
    code = """
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        json.dump({"schedule": str(bag.dags["bigcartel_shards"].schedule)},
                  open(os.environ["RESULT_FILE"], "w"))
        """
    hourly = run_airflow_python(
        airflow_python, code, airflow_env(tmp_path, BIGCARTEL_SCHEDULE="@hourly")
    )
    assert hourly["schedule"] == "@hourly"
    manual = run_airflow_python(
        airflow_python, code, airflow_env(tmp_path, BIGCARTEL_SCHEDULE="none")
    )
    assert manual["schedule"] == "None"


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
    failing = expected[1][2].account_id
    env = airflow_env(
        home,
        BIGCARTEL_SHOPS_SOURCE=shops_file.as_uri(),
        BIGCARTEL_MELTANO_BIN=str(fake),
        BIGCARTEL_MELTANO_PROJECT_DIR=str(tmp_path),
        BIGCARTEL_SHARD_RETRIES="0",
        FAKE_MELTANO_OUT=str(out),
        FAKE_MELTANO_FAIL_SHOP=failing,
    )
    migrate_db(airflow_python, env)
    returncode, output = dags_test(airflow_python, env, {"shards": 3, "environment": "dev"})
    assert returncode != 0, output[-5000:]
    states = task_states(home)
    assert states[("plan_shards", -1)][0] == "success"
    assert states[("summarize", -1)][0] == "failed", output[-5000:]
    mapped = {index: value for (task, index), value in states.items() if task == "run_shard"}
    assert sorted(mapped) == [0, 1, 2]
    for index in range(3):
        assert mapped[index] == ("failed" if index == 1 else "success", f"shard-{index}")

    # The failure names the failing shop, in the shard's error and in the run's summary.
    size = len(expected[1])
    assert (
        f"shard 1: meltano exited with code 1; 1 of its {size} shops could not be synced: "
        f"{failing}\n" in output
    )
    assert (
        f"1 of 3 shards failed: shard-1 (1 of its {size} shops could not be synced: {failing})"
        in output
    )
    others = [shop.account_id for shop in expected[1] if shop.account_id != failing]
    summary = output[output.index("1 of 3 shards failed") :].splitlines()[0]
    assert not [account_id for account_id in others if account_id in summary]
    assert_clean_task_logs(output)
    # Meltano's error lines are errors in the task log, its other lines info.
    assert "[error    ] 2026-12-02T01:55:41.198033Z [error    ] meltano      Extractor" in output
    assert "[info     ] fake meltano: shard-0 " in output

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
    assert "do-not-leak" not in output
    for log_file in (home / "logs").rglob("*"):
        if log_file.is_file():
            assert "do-not-leak" not in log_file.read_text(errors="replace"), log_file
    database = sqlite3.connect(home / "airflow.db")
    try:
        for table in ("xcom", "rendered_task_instance_fields", "dag_run"):
            for row in database.execute(f"SELECT * FROM {table}"):
                assert "do-not-leak" not in repr(row), table
        xcoms = database.execute("SELECT COUNT(*) FROM xcom").fetchone()[0]
        failure_rows = database.execute(
            "SELECT map_index, value FROM xcom WHERE key = 'shard_failure'"
        ).fetchall()
    finally:
        database.close()
    assert xcoms >= 4  # the plan, the two successful shards' results and the failure
    assert [index for index, _ in failure_rows] == [1]
    assert failing in repr(failure_rows[0][1])
