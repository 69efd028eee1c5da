"""Two and three target-fulfillment workers on one ledger, started at staggered moments.

Each test runs real worker processes with the same default config (only the shared
``ledger_url`` and the backend's settings) and the same Singer input (one shop, products with
``SKU:`` lines, paid unshipped orders and a few that are not eligible) on one ledger, PostgreSQL
or a SQLite file on local disk, and then checks what the warehouse received:

* every eligible order reached the warehouse exactly once (ShipStation: one createorders taken
  per ``orderKey`` in the emulator's request log; file: one order file per key collected), none
  is lost and none that is not eligible was sent;
* after all workers end, every order the warehouse has is ``submitted`` in the ledger: no row is
  left ``failed`` or ``submitting`` for it;
* every worker exits 0, and no customer name, e-mail or address is in any worker's stderr.

The stagger is by events, with a deadline each (no fixed sleeps); how a worker is started and
what each event means is in ``workers.py``. Worker 1 always starts first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from workers import postgres_schema, run_round

DATABASES = ["sqlite", "postgres"]
SHIPSTATION_ORDERS = 40
FILE_ORDERS = 60
#: The file backend's races are narrow (a worker sends 60 orders in about a second), so its
#: staggered tests run several rounds, each on a fresh ledger, and stop at the first unsafe one.
FILE_ROUNDS = 4


@contextlib.contextmanager
def _fresh_ledger(server_url: str, database: str, workdir: Path) -> Iterator[str]:
    """A new ledger for one round: a SQLite file in ``workdir``, or a new PostgreSQL schema."""
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'ledger.db'}"
    else:
        with postgres_schema(server_url) as url:
            yield url


def _rounds(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    *,
    database: str,
    backend: str,
    workers: int,
    schedule: str,
    orders: int,
    rounds: int = 1,
) -> None:
    # The fixture makes an unreachable PostgreSQL fail the test rather than skip it.
    server_url = request.getfixturevalue(f"{database}_url")
    for number in range(1, rounds + 1):
        workdir = tmp_path / f"round-{number}"
        workdir.mkdir()
        with _fresh_ledger(server_url, database, workdir) as ledger_url:
            result = run_round(
                workdir=workdir,
                ledger_url=ledger_url,
                database=database,
                backend=backend,
                workers=workers,
                schedule=schedule,
                orders=orders,
            )
        problems = result.problems()
        assert not problems, f"round {number} of {rounds}: {result.describe()}"


@pytest.mark.timeout(150)
@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("database", DATABASES)
def test_staggered_workers_against_shipstation_send_each_order_once(
    database: str, workers: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """ShipStation emulator, 8 requests per 1.6 s: workers block on the rate limit (with 40
    orders in one batch, the harness spends the budget first, so that worker 1's batch waits).

    Two workers: worker 2 starts while worker 1 waits on the rate limit (the window has reset,
    worker 1 was told to wait longer and holds claimed orders). Three workers: worker 2 starts
    once the ledger shows worker 1's first claim, worker 3 while worker 1 waits on the rate
    limit. Each order must be created once, and every order ShipStation has must be
    ``submitted`` in the ledger.
    """
    _rounds(
        request,
        tmp_path,
        database=database,
        backend="shipstation",
        workers=workers,
        schedule="staggered",
        orders=SHIPSTATION_ORDERS,
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("database", DATABASES)
def test_staggered_workers_against_the_file_warehouse_send_each_order_once(
    database: str, workers: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """File backend, with a 3PL thread collecting (moving away) order files while workers run.

    Worker 2 starts once the ledger shows worker 1's first claim; worker 3 once the warehouse
    has collected an order file after worker 2 started. The warehouse must collect exactly
    one file per eligible order, and each collected order must be ``submitted`` in the ledger.
    Up to ``FILE_ROUNDS`` rounds, each on a fresh ledger: the races here are narrow.
    """
    _rounds(
        request,
        tmp_path,
        database=database,
        backend="file",
        workers=workers,
        schedule="staggered",
        orders=FILE_ORDERS,
        rounds=FILE_ROUNDS,
    )


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("backend", "workers", "orders"),
    [("shipstation", 2, SHIPSTATION_ORDERS), ("file", 2, FILE_ORDERS), ("file", 3, FILE_ORDERS)],
)
@pytest.mark.parametrize("database", DATABASES)
def test_workers_started_together_send_each_order_once(
    database: str,
    backend: str,
    workers: int,
    orders: int,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """Every worker starts at the same moment (a stagger of zero, as with workers started
    within a second or two of each other): they store the same orders in the order cache at
    once, create the ledger's tables at once, then compete for every order. No worker may crash
    (a duplicate key in the order cache), and the usual promises hold.
    """
    _rounds(
        request,
        tmp_path,
        database=database,
        backend=backend,
        workers=workers,
        schedule="together",
        orders=orders,
    )
