"""Several target-fulfillment workers on one ledger: rounds of 2 and 3 staggered workers.

Each round runs real ``target-fulfillment`` processes with the same default config and input on
one ledger (PostgreSQL, and SQLite on local disk), against the ShipStation emulator with a tight
rate limit and against the file backend with a 3PL thread collecting order files while they
run (the harness is ``tests/target/workers.py``: how workers are staggered, what is counted).
It prints one line per round: orders sent twice and lost (goal 0 and 0), rows left ``failed`` or
``submitting`` for orders the warehouse has, worker exit codes, customer data in stderr, wall
time; then the totals. Loopback only; every round has a deadline, so it stops by itself.

Run: ``.venv/bin/python benchmarks/workers_benchmark.py --rounds 3 --orders 40``. PostgreSQL is
``FULFILLMENT_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
each round gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "target"))

from workers import SCHEDULES, RoundResult, postgres_schema, run_round  # noqa: E402

POSTGRES_URL = os.environ.get(
    "FULFILLMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DATABASES = ("postgres", "sqlite")
BACKENDS = ("shipstation", "file")
HEADER = (
    f"{'round':>5}  {'db':<8}  {'backend':<11}  {'workers':>7}  {'orders':>6}  "
    f"{'sent twice':>10}  {'lost':>4}  {'left failed/submitting':>22}  "
    f"{'exit!=0':>7}  {'pii':>3}  {'wall s':>6}"
)


@contextlib.contextmanager
def ledger_url(database: str, workdir: Path) -> Iterator[str]:
    """A fresh ledger: a SQLite file in ``workdir``, or a new schema on the PostgreSQL server."""
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'ledger.db'}"
    else:
        with postgres_schema(POSTGRES_URL) as url:
            yield url


def row(number: int, result: RoundResult) -> str:
    left = len(result.left_in("failed")) + len(result.left_in("submitting"))
    failed_exits = sum(1 for code in result.exit_codes if code)
    return (
        f"{number:>5}  {result.database:<8}  {result.backend:<11}  {result.workers:>7}  "
        f"{len(result.eligible):>6}  {len(result.sent_twice):>10}  {len(result.lost):>4}  "
        f"{left:>22}  {failed_exits:>7}  {'yes' if result.leaks else 'no':>3}  "
        f"{result.wall_seconds:>6.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per combination")
    parser.add_argument("--orders", type=int, default=40, help="orders per round (9 in 10 sent)")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    parser.add_argument("--databases", nargs="+", default=list(DATABASES), choices=DATABASES)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--schedule", default="staggered", choices=SCHEDULES)
    parser.add_argument(
        "--round-timeout", type=float, default=180.0, help="seconds before a round's workers die"
    )
    parser.add_argument("--verbose", action="store_true", help="print each round's problems")
    args = parser.parse_args()

    print(
        f"{args.schedule} workers on one ledger, {args.orders} orders per round "
        f"({args.rounds} rounds per combination)"
    )
    print(HEADER)
    totals: dict[tuple[str, str, int], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    started = time.monotonic()
    number = 0
    with tempfile.TemporaryDirectory(prefix="workers-bench-") as scratch:
        for database in args.databases:
            for backend in args.backends:
                for workers in args.workers:
                    for _ in range(args.rounds):
                        number += 1
                        workdir = Path(scratch) / f"round-{number}"
                        workdir.mkdir()
                        with ledger_url(database, workdir) as url:
                            result = run_round(
                                workdir=workdir,
                                ledger_url=url,
                                database=database,
                                backend=backend,
                                workers=workers,
                                schedule=args.schedule,
                                orders=args.orders,
                                timeout_seconds=args.round_timeout,
                            )
                        print(row(number, result), flush=True)
                        if args.verbose:
                            for problem in result.problems():
                                print(f"       {problem[:300]}")
                        total = totals[(database, backend, workers)]
                        total["rounds"] += 1
                        total["bad rounds"] += bool(result.problems())
                        total["sent twice"] += len(result.sent_twice)
                        total["lost"] += len(result.lost)
                        total["left"] += len(result.left_in("failed")) + len(
                            result.left_in("submitting")
                        )
                        total["exit!=0"] += sum(1 for code in result.exit_codes if code)
    print()
    print(
        f"{'db':<8}  {'backend':<11}  {'workers':>7}  {'rounds':>6}  {'unsafe':>6}  "
        f"{'sent twice':>10}  {'lost':>4}  {'left':>4}  {'exit!=0':>7}"
    )
    for (database, backend, workers), total in totals.items():
        print(
            f"{database:<8}  {backend:<11}  {workers:>7}  {total['rounds']:>6}  "
            f"{total['bad rounds']:>6}  {total['sent twice']:>10}  {total['lost']:>4}  "
            f"{total['left']:>4}  {total['exit!=0']:>7}"
        )
    print(f"\n{time.monotonic() - started:.0f} s in all; goal: 0 sent twice and 0 lost")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
