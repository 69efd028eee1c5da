"""Airflow 3 DAG: sync thousands of Big Cartel shops as K parallel ``meltano run`` shards.

``plan_shards`` reads the shop list and splits it into K shards (``orchestrate.sharding``: a shop
stays in its shard across runs, so its state under ``<env>:tap-bigcartel-to-target-fulfillment:
shard-<i>`` stays valid); ``run_shard`` is mapped over the non-empty shards, one
``meltano --environment <env> run tap-bigcartel target-fulfillment --state-id-suffix shard-<i>``
each; ``summarize`` (trigger rule ``all_done``) runs after every shard, names the failed shards
and the shops in them that could not be synced, and fails the DAG run if any failed. Mapped task
instances are independent: one failing shard does not stop or skip the others.

A failing shard names its failing shops: tap-bigcartel syncs every other shop, then ends on one
line naming each shop it could not sync (``ShopsFailedError``) or skipped as deauthorized;
``run_shard`` reads those account ids from the relayed output (``sharding.ShardReport``), raises
an error naming them and leaves them in the XCom ``shard_failure`` for ``summarize``.

Secrets: XCom carries account ids only. Each ``run_shard`` reads the shop list again on its worker
and hands the shard's tokens to meltano in the child's environment (``TAP_BIGCARTEL_ACCOUNTS``,
``TARGET_FULFILLMENT_ACCOUNTS``); nothing with a token is templated, logged or returned.

Settings (environment of the scheduler/dag-processor *and* the workers; Airflow Variables where
noted are read at run time and win over the environment):

=================================  ============================================================
``BIGCARTEL_SHOPS_SOURCE``         where the shops are (Variable ``bigcartel_shops_source``):
                                   ``env:VAR``, ``file:///shops.json``, ``<SQLAlchemy URL>#table``.
                                   Not a DAG param: a database URL may hold a password.
``BIGCARTEL_SHARDS``               K, default 4 (Variable ``bigcartel_shards``; the ``shards``
                                   param of a manual run wins). Changing K moves shops between
                                   shards: see ``orchestrate/sharding.py`` for the state migration.
``BIGCARTEL_MELTANO_PROJECT_DIR``  the Meltano project (default: this repository's root)
``BIGCARTEL_MELTANO_BIN``          the meltano command (default ``meltano``; may hold arguments)
``BIGCARTEL_MELTANO_ENVIRONMENT``  Meltano environment, default ``prod`` (param ``environment``)
``BIGCARTEL_SHARD_CONCURRENCY``    ``max_active_tis_per_dag`` of ``run_shard``, default 4: at most
                                   this many shards run at once, whatever K is
``BIGCARTEL_SHARD_POOL``           pool of ``run_shard`` (default ``default_pool``): give the DAG
                                   its own pool to bound the slots all Big Cartel syncs may take
``BIGCARTEL_SHARD_TIMEOUT_MIN``    ``execution_timeout`` of one shard, default 360
``BIGCARTEL_SHARD_RETRIES``        retries of a failed shard, default 1 (a rerun resumes from the
                                   shard's state; target-fulfillment's ledger never sends twice)
``BIGCARTEL_SCHEDULE``             the DAG's schedule, default ``*/5 * * * *`` (``none``: manual)
=================================  ============================================================

Schedule: one story with ``meltano.yml``. Its ``fulfillment-every-5-minutes`` schedule runs the job
``fulfillment`` (``tap-bigcartel target-fulfillment``) every 5 minutes; this DAG is the same job,
sharded, so its default is the same interval (a test compares the two). Use one of them for a set
of shops, never both: a Meltano schedule and this DAG would sync the same shops under two state
ids (``...-to-target-fulfillment`` and ``...:shard-<i>``), twice the API calls (the ledger keeps
it from sending twice). ``max_active_runs=1`` and ``catchup=False``: a run longer than 5 minutes
delays the next one instead of piling runs up. ``warehouse-hourly`` (target-duckdb) is not
this DAG's.

Logs: this module logs as ``bigcartel_shards`` (``__name__`` is a generated module name under the
DAG processor). Meltano's output is relayed line by line into the task log, with terminal escape
sequences removed: Meltano 4.4 renders a failed plugin's "Error details" panel with rich's bold and
dim styles even when its output is no terminal, and even with ``NO_COLOR`` or ``--log-format
uncolored`` (no_color drops colours, not styles); only its ``key_value``/``json`` formats avoid
them, at the price of every line repeating the run's context. ``NO_COLOR=1`` is still set for
meltano and the plugins, so none of them asks for colours.

Celery or Kubernetes executor: each ``run_shard`` runs ``meltano`` where the task runs, so the
worker image needs meltano with the plugins installed (``meltano install``) and this project.
Shards on different workers must share state and ledger: set ``MELTANO_DATABASE_URI`` to
PostgreSQL (or a ``s3://``/``gs://`` state backend) and target-fulfillment's ``ledger_url`` to
PostgreSQL; the default SQLite files only work when every shard runs on one machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import Param, Variable, dag, get_current_context, task

try:
    from orchestrate import sharding
except ImportError:  # the DAG folder alone is on sys.path: add the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from orchestrate import sharding

# A plain name: under the DAG processor __name__ is "unusual_prefix_<hash>_bigcartel_shards".
log = logging.getLogger("bigcartel_shards")
# The interval of meltano.yml's fulfillment-every-5-minutes schedule (the same job, sharded).
DEFAULT_SCHEDULE = "*/5 * * * *"
FAILURE_KEY = "shard_failure"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _setting(variable: str, env: str, default: str | None = None) -> str | None:
    """A Variable if it exists, else the environment, else the default (read at run time).

    ``Variable.get(key, default=...)`` is the documented form for a Variable that may be unset: it
    returns the default. (Airflow 3.1's task SDK still logged a ``Variable not found`` error for
    each such lookup, in every task; 3.3 logs it at debug level only.)
    """
    value = Variable.get(variable, default=None)
    if value not in (None, ""):
        return str(value)
    return os.environ.get(env) or default


def _shops_source() -> str:
    source = _setting("bigcartel_shops_source", "BIGCARTEL_SHOPS_SOURCE")
    if not source:
        raise ValueError("set BIGCARTEL_SHOPS_SOURCE or the Variable bigcartel_shops_source")
    return source


# Meltano's console lines: "2026-12-02T01:55:41.198033Z [error    ] meltano      Extractor failed".
_MELTANO_LEVEL = re.compile(r"^\S+ \[(debug|info|warning|error|critical)\s*\]")


def _relayed_level(line: str) -> int:
    """The level of a relayed Meltano line (its own), so its errors are errors in the task log."""
    match = _MELTANO_LEVEL.match(line)
    return logging.getLevelName(match.group(1).upper()) if match else logging.INFO


def _stop(process: subprocess.Popen[str], grace_seconds: float = 30) -> None:
    """SIGTERM meltano (it stops its plugins), then SIGKILL if it has not exited in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _failure(
    index: int, returncode: int | None, failed_shops: list[str], how: str
) -> dict[str, Any]:
    """The XCom a failing shard leaves for ``summarize``: account ids only, never tokens."""
    return {
        "shard_index": index,
        "returncode": returncode,
        "failed_shops": failed_shops,
        "how": how,
    }


def _failure_text(failed_shops: list[str], shard_size: int, how: str = "failed") -> str:
    if failed_shops:
        return (
            f"{len(failed_shops)} of its {shard_size} shops could not be synced: "
            f"{_some(failed_shops, label=False)}"
        )
    if how == "stopped":
        return f"stopped (execution timeout or kill) before any of its {shard_size} shops was named"
    return (
        f"no shop named as failed (of its {shard_size}): meltano or the target failed, "
        "see the shard's log"
    )


def _some(account_ids: list[str], limit: int = 20, *, label: bool = True) -> str:
    shown = ", ".join(account_ids[:limit]) + ("..." if len(account_ids) > limit else "")
    return f"{len(account_ids)} shops: {shown}" if label else shown


def _by_shard(values: Any) -> dict[int, dict[str, Any]]:
    """XComs of all map indexes by shard index (one value comes back bare, none as None)."""
    if values is None:
        return {}
    if isinstance(values, dict):
        values = [values]
    items: Iterable[Any] = values
    return {int(value["shard_index"]): value for value in items if isinstance(value, dict)}


_schedule = os.environ.get("BIGCARTEL_SCHEDULE", DEFAULT_SCHEDULE)


@dag(
    dag_id="bigcartel_shards",
    schedule=None if _schedule.lower() in ("", "none") else _schedule,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # two runs of one shard would race on its state
    tags=["bigcartel", "meltano"],
    doc_md=__doc__,
    params={
        "shards": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="K, the number of shards (empty: Variable bigcartel_shards, "
            "BIGCARTEL_SHARDS, else 4). Changing it moves shops between shards.",
        ),
        "environment": Param(
            os.environ.get("BIGCARTEL_MELTANO_ENVIRONMENT", "prod"),
            type="string",
            description="Meltano environment",
        ),
    },
)
def bigcartel_shards() -> None:
    @task
    def plan_shards(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Split the shops into K shards; XCom gets account ids only, never tokens."""
        k = (params or {}).get("shards")
        if k in (None, ""):
            k = int(_setting("bigcartel_shards", "BIGCARTEL_SHARDS", str(sharding.DEFAULT_SHARDS)))
        shops = sharding.load_shops(_shops_source())
        groups = sharding.shard(shops, int(k))
        plans = [
            {"shard_index": index, "account_ids": [shop.account_id for shop in group]}
            for index, group in enumerate(groups)
            if group
        ]
        log.info("%d shops in %d shards (%d non-empty)", len(shops), k, len(plans))
        return plans

    # A TaskFlow task running meltano with subprocess, rather than BashOperator / @task.bash or
    # SubprocessHook: (1) BashOperator's ``env`` is a templated field, so the shard's tokens would
    # be rendered into rendered_task_instance_fields and shown in the UI (here they exist only in
    # the child's environment); (2) on failure BashOperator raises a bare "non-zero exit code" and
    # SubprocessHook keeps only the last output line, while the failing shops are on the tap's
    # line in the middle of Meltano's output; (3) SubprocessHook starts the child in a session of
    # its own and relies on the operator's on_kill, which a @task does not wire. Here meltano stays
    # in the task's process group, which Airflow 3.3's supervisor signals as a whole when it
    # kills the task, and an execution timeout stops it below.
    @task(
        max_active_tis_per_dag=_env_int("BIGCARTEL_SHARD_CONCURRENCY", 4),
        pool=os.environ.get("BIGCARTEL_SHARD_POOL", "default_pool"),
        retries=_env_int("BIGCARTEL_SHARD_RETRIES", 1),
        retry_delay=timedelta(minutes=5),
        execution_timeout=timedelta(minutes=_env_int("BIGCARTEL_SHARD_TIMEOUT_MIN", 360)),
        map_index_template="{{ shard_label }}",
    )
    def run_shard(plan: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One ``meltano run`` for one shard; tokens reach meltano through its environment only."""
        index = int(plan["shard_index"])
        context = get_current_context()
        context["shard_label"] = sharding.shard_suffix(index)  # type: ignore[typeddict-unknown-key]
        wanted = set(plan["account_ids"])
        shops = [shop for shop in sharding.load_shops(_shops_source()) if shop.account_id in wanted]
        gone = sorted(wanted - {shop.account_id for shop in shops})
        if gone:
            log.warning(
                "shard %d: %d shops left the list since planning: %s", index, len(gone), gone
            )
        if not shops:
            return {"shard_index": index, "shops": 0, "returncode": 0, "skipped_shops": []}
        environment = (params or {}).get("environment") or os.environ.get(
            "BIGCARTEL_MELTANO_ENVIRONMENT", "prod"
        )
        argv, secret_env = sharding.shard_command(
            index,
            shops,
            environment,
            meltano=shlex.split(os.environ.get("BIGCARTEL_MELTANO_BIN", "meltano")),
        )
        project_dir = os.environ.get("BIGCARTEL_MELTANO_PROJECT_DIR") or str(REPO_ROOT)
        log.info("shard %d: %d shops: %s (in %s)", index, len(shops), shlex.join(argv), project_dir)
        child_env = {**os.environ, "MELTANO_PROJECT_ROOT": project_dir, **secret_env}
        child_env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        child_env["NO_COLOR"] = "1"  # the output goes to a task log, never to a terminal
        report = sharding.ShardReport(shop.account_id for shop in shops)
        ti = context["ti"]
        process = subprocess.Popen(
            argv,
            cwd=project_dir,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:  # meltano's and the plugins' logs (the tap scrubs tokens)
                line = sharding.strip_ansi(line.rstrip())  # Meltano's styled error panel
                log.log(_relayed_level(line), "%s", line)
                report.read(line)
            returncode = process.wait()
        except BaseException:  # AirflowTaskTimeout or an interrupt: meltano stops with the task
            _stop(process)
            with contextlib.suppress(Exception):  # never hide why the task stopped
                ti.xcom_push(FAILURE_KEY, _failure(index, None, report.failed_shops, "stopped"))
            raise
        if report.skipped_shops:
            log.warning(
                "shard %d: deauthorized shops skipped (reconnect them): %s",
                index,
                ", ".join(report.skipped_shops),
            )
        if returncode != 0:
            ti.xcom_push(FAILURE_KEY, _failure(index, returncode, report.failed_shops, "failed"))
            raise RuntimeError(
                f"shard {index}: meltano exited with code {returncode}; "
                + _failure_text(report.failed_shops, len(shops))
            )
        return {
            "shard_index": index,
            "shops": len(shops),
            "returncode": 0,
            "skipped_shops": report.skipped_shops,
        }

    @task(trigger_rule="all_done")
    def summarize(plans: list[dict[str, Any]]) -> dict[str, Any]:
        """Report every shard; fail the run naming the failed shards and their failing shops.

        The shards' XComs are pulled for all map indexes at once (a slice): pulling one map index
        that has none, a failed shard's return value, would log an ``XCom not found`` error.
        """
        ti = get_current_context()["ti"]
        results = _by_shard(ti.xcom_pull(task_ids="run_shard"))
        failures = _by_shard(ti.xcom_pull(task_ids="run_shard", key=FAILURE_KEY))
        failed = []
        skipped: list[str] = []
        for plan in plans:
            index = int(plan["shard_index"])
            count = len(plan["account_ids"])
            if index in results:
                skipped += results[index].get("skipped_shops") or []
                log.info("shard-%d: ok (%d shops)", index, count)
                continue
            failure = failures.get(index)
            if failure is None:
                detail = f"no report (killed or lost its worker); {_some(plan['account_ids'])}"
            else:
                detail = _failure_text(failure["failed_shops"], count, failure.get("how", ""))
            log.error("shard-%d: FAILED: %s", index, detail)
            failed.append(f"shard-{index} ({detail})")
        if skipped:
            log.warning("deauthorized shops skipped (reconnect them): %s", ", ".join(skipped))
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(plans)} shards failed: {'; '.join(failed)}")
        return {"shards": len(plans), "failed": 0, "skipped_shops": sorted(skipped)}

    plans = plan_shards()
    results = run_shard.expand(plan=plans)
    results >> summarize(plans)


bigcartel_shards()
