"""Bad input benchmark (issue 9): what one bad record does to a run, and to the next one.

Each bad input of ``tests/target/bad_records.py`` goes to the real target process beside
``--good`` good orders (file backend), on SQLite and on PostgreSQL. The target then runs again on
what the tap would send next: nothing new once the STATE after the input came out, the same input
again when it did not. A run that fails there is wedged, as every later run would be. A last row
per database feeds every bad input at once. Prints one table:

    input, db, tried (orders offered), held, rejected, sent, bad sent (bad orders that reached
    the warehouse), exit code, STATE out (the STATE after the input was emitted), wedged

``rejected`` is ``n/a`` where the ledger has no ``rejected()``. Run:
``.venv/bin/python benchmarks/bad_input_benchmark.py [--database sqlite|postgres|both]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "target"))

import bad_records as br  # noqa: E402
import pipeline  # noqa: E402

from target_fulfillment.ledger import Ledger  # noqa: E402

POSTGRES_URL = os.environ.get(
    "FULFILLMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Row:
    """One line of the table."""

    name: str
    database: str
    tried: int
    held: int
    rejected: int | None
    sent: int
    bad_sent: int
    exit_code: int
    acknowledged: bool
    wedged: bool


class Database:
    """A fresh ledger per input: a SQLite file, or a PostgreSQL schema dropped afterwards."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self._schema: str | None = None
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / 'ledger.db'}"
            return
        self._admin = sa.create_engine(POSTGRES_URL, poolclass=NullPool)
        self._schema = f"bench_{uuid.uuid4().hex}"
        with self._admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{self._schema}"')
        url = sa.make_url(POSTGRES_URL).update_query_dict(
            {"options": f"-csearch_path={self._schema}"}
        )
        self.url = url.render_as_string(hide_password=False)

    def drop(self) -> None:
        if self._schema is not None:
            with self._admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{self._schema}" CASCADE')
            self._admin.dispose()


def postgres_available() -> bool:
    engine = sa.create_engine(POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def run_target(
    workdir: Path, config: dict[str, t.Any], messages: list[dict]
) -> tuple[int, list[t.Any]]:
    """The target process, fed ``messages``; its exit code and the STATE values it emitted."""
    done = pipeline.run_target(workdir, config, messages)
    (workdir / f"stderr-{len(list(workdir.glob('stderr-*')))}.txt").write_text(done.stderr)
    return done.target_returncode, done.states


def sent_orders(workdir: Path) -> list[tuple[str, str]]:
    """(account_id, order_id) of every order file in the outbox."""
    found = []
    for path in (workdir / "outbox").glob("bigcartel-*.json"):
        if path.name.endswith(".cancel.json"):
            continue
        document = json.loads(path.read_bytes().decode("utf-8", "replace"))
        found.append((str(document.get("account_id")), str(document.get("order_id"))))
    return found


def ledger_counts(url: str) -> tuple[int, int | None]:
    """Held orders, and rejected records (None when the ledger cannot list them)."""
    ledger = Ledger(url)
    try:
        held = ledger.counts().get("held", 0)
        rejected = getattr(ledger, "rejected", None)
        return held, None if rejected is None else len(list(rejected()))
    finally:
        ledger.close()


def measure(name: str, kind: str, bad: list[br.BadInput], good: int, root: Path) -> Row:
    """Run the bad inputs beside ``good`` good orders, then again on empty input."""
    workdir = root / f"{kind}-{len(list(root.iterdir())):03d}"
    workdir.mkdir(parents=True)
    database = Database(kind, workdir)
    try:
        config = {
            "ledger_url": database.url,
            "file_outbox_dir": str(workdir / "outbox"),
            "file_inbox_dir": str(workdir / "inbox"),
            "origin_country": "US",
        }
        messages = [
            *br.base_messages(br.good_orders(good)),
            *(message for item in bad for message in item.messages()),
            br.state_message(name),
        ]
        exit_code, states = run_target(workdir, config, messages)
        acknowledged = messages[-1]["value"] in states
        # As the tap would: input not acknowledged by its STATE is sent again, else nothing new.
        wedged = run_target(workdir, config, [] if acknowledged else messages)[0] != 0
        try:
            held, rejected = ledger_counts(database.url)
        except Exception:  # a ledger the run left unreadable still gets a row
            held, rejected = 0, None
        sent = sent_orders(workdir)
        good_ids = {(br.ACCOUNT, br.good_order_id(i)) for i in range(good)}
        tried = good + sum(stream == "orders" for item in bad for stream, _ in item.records)
        return Row(
            name=name,
            database=kind,
            tried=tried,
            held=held,
            rejected=rejected,
            sent=len(sent),
            bad_sent=sum(pair not in good_ids for pair in sent),
            exit_code=exit_code,
            acknowledged=acknowledged,
            wedged=wedged,
        )
    finally:
        database.drop()


def table(rows: list[Row]) -> str:
    headers = (
        "input",
        "db",
        "tried",
        "held",
        "rejected",
        "sent",
        "bad sent",
        "exit",
        "STATE out",
        "wedged",
    )
    body = [
        (
            row.name,
            row.database,
            str(row.tried),
            str(row.held),
            "n/a" if row.rejected is None else str(row.rejected),
            str(row.sent),
            str(row.bad_sent),
            str(row.exit_code),
            "yes" if row.acknowledged else "no",
            "yes" if row.wedged else "no",
        )
        for row in rows
    ]
    rejected = [row.rejected for row in rows if row.rejected is not None]
    totals = (
        f"TOTAL ({len(rows)} runs)",
        "",
        str(sum(row.tried for row in rows)),
        str(sum(row.held for row in rows)),
        str(sum(rejected)) if rejected else "n/a",
        str(sum(row.sent for row in rows)),
        str(sum(row.bad_sent for row in rows)),
        f"{sum(row.exit_code != 0 for row in rows)} non-zero",
        f"{sum(not row.acknowledged for row in rows)} missing",
        f"{sum(row.wedged for row in rows)} wedged",
    )
    widths = [max(len(line[i]) for line in (headers, *body, totals)) for i in range(len(headers))]

    def render(line: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(headers), rule, *map(render, body), rule, render(totals)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--good", type=int, default=10, help="good orders beside each input")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if "postgres" in kinds and not postgres_available():
        print(f"PostgreSQL at {POSTGRES_URL} is unreachable: SQLite only", file=sys.stderr)
        kinds.remove("postgres")
    catalogue = br.catalogue()
    root = Path(tempfile.mkdtemp(prefix="bad-input-bench-"))
    rows = []
    try:
        for kind in kinds:
            rows.append(measure("(no bad input)", kind, [], args.good, root))
            for bad in catalogue:
                rows.append(measure(bad.name, kind, [bad], args.good, root))
            rows.append(measure("(all at once)", kind, catalogue, args.good * 4, root))
    finally:
        if args.keep:
            print(f"work folders kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"Bad input benchmark: each input beside {args.good} good orders (file backend)")
    print(table(rows))
    print()
    for bad in catalogue:
        print(f"  {bad.name}: {bad.issue}; expected {bad.outcome}")


if __name__ == "__main__":
    main()
