"""kill -9 the target at random points while it sends; a re-run must leave every order sent once.

The ShipStation emulator upserts on ``orderKey``, so "one order per key" alone would prove
nothing; the assertions count the ``createorders`` requests that carried each key: exactly one
each, because an interrupted batch is settled by looking its keys up, never by sending again.
The orders go in two batches; the target is killed after a random number of orders were
answered, or while a batch is in flight (stored by the emulator, its answer held back).
"""

from __future__ import annotations

import collections
import functools
import json
import random
import signal
import subprocess
import time
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from backend_calls import creates_per_key
from pipeline import TAP, TARGET, tap_config, target_config

from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.ledger import Ledger

TRIALS_PER_DATABASE = 10
#: How long the emulator holds a batch's answer before dropping the connection: long enough to
#: kill the target while it waits (its request timeout is the default 30 s).
HANG_SECONDS = 1.0
SS_KEY, SS_SECRET = "crash-key", "crash-secret"


@pytest.fixture(scope="module")
def tap_output(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[tuple[Path, Sandbox]]:
    """One recorded tap run, replayed into every trial."""
    workdir = tmp_path_factory.mktemp("tap")
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=250, products_per_shop=10, seed=8)) as bc:
        config = workdir / "tap.json"
        config.write_text(json.dumps(tap_config(bc)))
        output = workdir / "messages.jsonl"
        with output.open("w") as out:
            subprocess.run(
                [*TAP, "--config", str(config)], stdout=out, stderr=subprocess.DEVNULL, check=True
            )
        yield output, bc


def _answered(ss: ShipStationSandbox, orders: int) -> bool:
    """At least this many orders were in answered (or dropped) createorders requests."""
    return sum(creates_per_key(ss.requests).values()) >= orders


def _in_flight(ss: ShipStationSandbox) -> bool:
    """A batch picked by the emulator's lost-answer fault is stored and its answer held."""
    return ss.store.pending_create_timeouts == 0


def _keys_posted(ss: ShipStationSandbox) -> collections.Counter:
    return collections.Counter(order["orderKey"] for order in ss.store.orders())


def _wait_for(condition: t.Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the emulator never logged the dropped request"
        time.sleep(0.01)


def _run_until_killed(command: list[str], messages: Path, until: t.Callable[[], bool]) -> None:
    with messages.open() as stdin:
        process = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while process.poll() is None and not until():
            try:
                process.wait(timeout=0.002)
            except subprocess.TimeoutExpired:
                continue
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_kill_minus_nine_while_sending_loses_and_repeats_nothing(
    database: str,
    request: pytest.FixtureRequest,
    tap_output: tuple[Path, Sandbox],
    tmp_path: Path,
) -> None:
    messages, bc = tap_output
    rng = random.Random(f"crash-{database}")
    expected: set[str] | None = None
    for trial in range(TRIALS_PER_DATABASE):
        workdir = tmp_path / f"trial-{trial}"
        workdir.mkdir()
        ledger_url = (
            f"sqlite:///{workdir / 'ledger.db'}"
            if database == "sqlite"
            else request.getfixturevalue("postgres_url")
        )
        in_flight = trial % 3 == 2
        with ShipStationSandbox(
            api_key=SS_KEY,
            api_secret=SS_SECRET,
            latency_seconds=0.01,
            timeout_hang_seconds=HANG_SECONDS if in_flight else 0.0,
        ) as ss:
            settings = target_config(
                bc,
                workdir,
                backend="shipstation",
                shipstation_api_url=ss.url,
                shipstation_api_key=SS_KEY,
                shipstation_api_secret=SS_SECRET,
                ledger_url=ledger_url if database == "sqlite" else _fresh_schema(ledger_url, trial),
            )
            config = workdir / "target.json"
            config.write_text(json.dumps(settings))
            command = [*TARGET, "--config", str(config)]
            kill_after = rng.randint(0, 150)
            if in_flight:
                ss.store.timeout_next_create(1)
                _run_until_killed(command, messages, functools.partial(_in_flight, ss))
                # The held request is logged (unanswered) once the emulator drops it.
                _wait_for(lambda: any(r["status"] is None for r in ss.requests))
            else:
                until = functools.partial(_answered, ss, kill_after)
                _run_until_killed(command, messages, until)
            with messages.open() as stdin:
                subprocess.run(
                    command,
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
            requests_per_key = creates_per_key(ss.requests)
            stored = _keys_posted(ss)
        ledger = Ledger(settings["ledger_url"])
        submitted = {e.order_key for e in ledger.by_state("submitted")}
        in_doubt = ledger.in_doubt("shipstation")
        ledger.close()
        if database == "postgres":
            _drop_schema(settings["ledger_url"])
        where = "in flight" if in_flight else f"after {kill_after} orders answered"
        assert set(stored) == submitted, f"trial {trial} (killed {where})"
        assert not in_doubt
        if expected is None:
            expected = submitted
            assert len(expected) > 20
        assert submitted == expected, f"trial {trial}: an order was lost or invented"
        assert set(requests_per_key) == set(stored)
        assert max(requests_per_key.values()) == 1, f"trial {trial}: an order was sent twice"


def _fresh_schema(postgres_url: str, trial: int) -> str:
    """A schema per trial beside the test's own PostgreSQL schema, so trials share nothing."""
    url = sa.make_url(postgres_url)
    base_schema = url.query["options"].removeprefix("-csearch_path=")
    schema = f"{base_schema}_t{trial}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    engine.dispose()
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def _drop_schema(url: str) -> None:
    parsed = sa.make_url(url)
    schema = parsed.query["options"].removeprefix("-csearch_path=")
    engine = sa.create_engine(parsed)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()
