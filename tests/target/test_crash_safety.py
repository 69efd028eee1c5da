"""kill -9 the target at random points while it sends; a re-run must leave every order sent once.

The ShipStation emulator upserts on ``orderKey``, so "one order per key" alone would prove
nothing; the assertions count ``createorder`` requests per key: exactly one each, because an
interrupted submit is settled by looking the key up, never by sending again.
"""

from __future__ import annotations

import collections
import json
import random
import signal
import subprocess
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from pipeline import TAP, TARGET, tap_config, target_config

from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.ledger import Ledger

TRIALS_PER_DATABASE = 10
SS_KEY, SS_SECRET = "crash-key", "crash-secret"


@pytest.fixture(scope="module")
def tap_output(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[tuple[Path, Sandbox]]:
    """One recorded tap run, replayed into every trial."""
    workdir = tmp_path_factory.mktemp("tap")
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=80, products_per_shop=10, seed=8)) as bc:
        config = workdir / "tap.json"
        config.write_text(json.dumps(tap_config(bc)))
        output = workdir / "messages.jsonl"
        with output.open("w") as out:
            subprocess.run(
                [*TAP, "--config", str(config)], stdout=out, stderr=subprocess.DEVNULL, check=True
            )
        yield output, bc


def _sends(ss: ShipStationSandbox) -> int:
    return sum(r["method"] == "POST" and r["path"] == "/orders/createorder" for r in ss.requests)


def _keys_posted(ss: ShipStationSandbox) -> collections.Counter:
    return collections.Counter(order["orderKey"] for order in ss.store.orders())


def _run_until_killed(
    command: list[str], messages: Path, ss: ShipStationSandbox, after: int
) -> None:
    with messages.open() as stdin:
        process = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while process.poll() is None and _sends(ss) < after:
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
        with ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET, latency_seconds=0.01) as ss:
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
            kill_after = rng.randint(0, 30)
            _run_until_killed(command, messages, ss, kill_after)
            with messages.open() as stdin:
                subprocess.run(
                    command,
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
            requests_per_key = collections.Counter(
                r["body"]["orderKey"]
                for r in ss.requests
                if r["method"] == "POST" and r["path"] == "/orders/createorder"
            )
            stored = _keys_posted(ss)
        ledger = Ledger(settings["ledger_url"])
        submitted = {e.order_key for e in ledger.by_state("submitted")}
        in_doubt = ledger.in_doubt("shipstation")
        ledger.close()
        if database == "postgres":
            _drop_schema(settings["ledger_url"])
        assert set(stored) == submitted, f"trial {trial} (killed after {kill_after} sends)"
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
