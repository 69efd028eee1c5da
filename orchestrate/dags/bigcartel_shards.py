"""Airflow 3 DAG: sync thousands of Big Cartel shops as K parallel ``meltano run`` shards.

``plan_shards`` reads the shop list and splits it into K shards (``orchestrate.sharding``: a shop
stays in its shard across runs, so its state under ``<env>:tap-bigcartel-to-target-fulfillment:
shard-<i>`` stays valid); ``run_shard`` is mapped over the non-empty shards, one
``meltano --environment <env> run tap-bigcartel target-fulfillment --state-id-suffix shard-<i>``
each; ``summarize`` (trigger rule ``all_done``) runs after every shard, names the failed ones and
fails the DAG run if any failed. Mapped task instances are independent: one failing shard does not
stop or skip the others.

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
``BIGCARTEL_SCHEDULE``             the DAG's schedule, default ``@hourly`` (``none`` for manual)
=================================  ============================================================

Celery or Kubernetes executor: each ``run_shard`` runs ``meltano`` where the task runs, so the
worker image needs meltano with the plugins installed (``meltano install``) and this project.
Shards on different workers must share state and ledger: set ``MELTANO_DATABASE_URI`` to
PostgreSQL (or a ``s3://``/``gs://`` state backend) and target-fulfillment's ``ledger_url`` to
PostgreSQL; the default SQLite files only work when every shard runs on one machine.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import Param, Variable, dag, get_current_context, task

try:
    from orchestrate import sharding
except ImportError:  # the DAG folder alone is on sys.path: add the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from orchestrate import sharding

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _setting(variable: str, env: str, default: str | None = None) -> str | None:
    """A Variable if it exists, else the environment, else the default (read at run time)."""
    value = Variable.get(variable, default=None)
    if value not in (None, ""):
        return str(value)
    return os.environ.get(env) or default


def _shops_source() -> str:
    source = _setting("bigcartel_shops_source", "BIGCARTEL_SHOPS_SOURCE")
    if not source:
        raise ValueError("set BIGCARTEL_SHOPS_SOURCE or the Variable bigcartel_shops_source")
    return source


_schedule = os.environ.get("BIGCARTEL_SCHEDULE", "@hourly")


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
        get_current_context()["shard_label"] = sharding.shard_suffix(index)  # type: ignore[typeddict-unknown-key]
        wanted = set(plan["account_ids"])
        shops = [shop for shop in sharding.load_shops(_shops_source()) if shop.account_id in wanted]
        gone = sorted(wanted - {shop.account_id for shop in shops})
        if gone:
            log.warning(
                "shard %d: %d shops left the list since planning: %s", index, len(gone), gone
            )
        if not shops:
            return {"shard_index": index, "shops": 0, "returncode": 0}
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
        for line in process.stdout:  # meltano's and the plugins' logs (the tap scrubs tokens)
            log.info("%s", line.rstrip())
        returncode = process.wait()
        if returncode != 0:
            raise RuntimeError(f"shard {index}: meltano exited with code {returncode}")
        return {"shard_index": index, "shops": len(shops), "returncode": 0}

    @task(trigger_rule="all_done")
    def summarize(plans: list[dict[str, Any]], results: Any) -> dict[str, Any]:
        """Report every shard; fail the run naming the shards (and their shops) that failed."""
        done = {int(result["shard_index"]) for result in results or [] if result}
        failed = [plan for plan in plans if int(plan["shard_index"]) not in done]
        for plan in plans:
            status = "FAILED" if plan in failed else "ok"
            log.info(
                "shard-%s: %s (%d shops)", plan["shard_index"], status, len(plan["account_ids"])
            )
        if failed:
            names = ", ".join(
                f"shard-{plan['shard_index']} ({len(plan['account_ids'])} shops: "
                f"{', '.join(plan['account_ids'][:10])}"
                f"{'...' if len(plan['account_ids']) > 10 else ''})"
                for plan in failed
            )
            raise RuntimeError(f"{len(failed)} of {len(plans)} shards failed: {names}")
        return {"shards": len(plans), "failed": 0}

    plans = plan_shards()
    results = run_shard.expand(plan=plans)
    summarize(plans, results)


bigcartel_shards()
