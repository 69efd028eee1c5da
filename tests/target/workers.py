"""Several target-fulfillment workers on one ledger, started at staggered moments.

The harness shared by ``tests/target/test_workers.py`` and ``benchmarks/workers_benchmark.py``.
One round: N real ``target-fulfillment`` processes with the same default config (only the
shared ``ledger_url`` and the backend settings are set) and the same Singer input; a warehouse
(the ShipStation emulator with a tight rate limit, or a 3PL thread collecting order files from
the outbox); then what the warehouse received is compared with the ledger.

How a worker "starts": every process is spawned up front and handed its whole input, but its
stdin stays open; a worker starts its run when its input ends (EOF: the SDK drains, the orders
go to the order cache, then reconcile, evaluate, send). So the stagger is set by events, to
the millisecond, and not blurred by interpreter start-up:

* ``first_claim``: the ledger shows a ``submitting`` or ``submitted`` row;
* ``rate_wait``: worker 1 waits on the rate limit: it was told the budget is spent
  (``X-Rate-Limit-Remaining: 0`` or a 429) and the ``X-Rate-Limit-Reset`` it was given is still
  ahead, while the emulator's window has already reset (the window is inferred from the answers:
  the first request of a window is answered ``Remaining = limit - 1``);
* ``first_collected``: the warehouse has collected an order file since the previous start.

Each worker talks to the ShipStation emulator under a path prefix of its own (``/w1``, ``/w2``,
...), which a WSGI middleware strips and records, so the harness can tell whose request the
rate limit refused. The emulator itself is unchanged and keeps its own request log.

A worker sends its orders 100 per request, so a round's few requests would never spend the
budget: in a staggered ShipStation round a :class:`BudgetSpender` (another client of the
account, ``/w0``) keeps it spent until worker 1 is refused, so worker 1 waits for the reset
holding its claimed batch.
"""

from __future__ import annotations

import array
import collections
import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
import termios
import threading
import time
import typing as t
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa
from backend_calls import creates_per_key
from sqlalchemy.pool import NullPool

from shipstation_sandbox import ShipStationSandbox
from target_fulfillment.ledger import Ledger

TARGET = [sys.executable, "-m", "target_fulfillment.target"]
ACCOUNT_ID = "4242"
SS_KEY, SS_SECRET = "workers-key-5d1c", "workers-secret-9e07"
ORDER_FORMAT = "bigcartel-fulfillment/order@1"

#: ShipStation emulator: 8 requests per 1.6 s window, 0.1 s added to every answer. Tight on
#: purpose: with its 4 threads a worker spends the budget early in a window and is then told to
#: wait for the reset in whole seconds (``X-Rate-Limit-Reset`` is rounded up), so it waits about
#: 0.5 s past the window's end holding claimed orders. A worker starting then finds budget.
RATE_LIMIT = 8
RATE_WINDOW_SECONDS = 1.6
LATENCY_SECONDS = 0.1
#: ``rate_wait`` fires once worker 1 is to wait at least this much longer for its reset.
STILL_WAITING_SECONDS = 0.3

#: Every tenth order is not eligible (already shipped, or not paid): it must never be sent.
INELIGIBLE_EVERY = 10
POLL_SECONDS = 0.01
#: Longest wait for a stagger event; a worker whose event never comes starts anyway.
EVENT_TIMEOUT_SECONDS = 60.0

#: Which event starts worker 2, 3, ... (worker 1 starts first) in a ``staggered`` round.
STAGGER_EVENTS: dict[tuple[str, int], tuple[str, ...]] = {
    ("shipstation", 2): ("rate_wait",),
    ("shipstation", 3): ("first_claim", "rate_wait"),
    ("file", 2): ("first_claim",),
    ("file", 3): ("first_claim", "first_collected"),
}
SCHEDULES = ("staggered", "together")

#: Words of the generated customers (names, e-mail domain, street, city) that must never reach a
#: worker's stderr: a traceback printing an order document would carry them.
PERSONAL_DATA = ("Marchbanks", "Ottoline", "buyers.example", "Quillfeather", "Wexhollow")


# The Singer input


def order_key(order_id: str) -> str:
    return f"bigcartel-{ACCOUNT_ID}-{order_id}"


def order_id(index: int) -> str:
    return f"WRK-{index:05d}"


def is_eligible(index: int) -> bool:
    return index % INELIGIBLE_EVERY != INELIGIBLE_EVERY - 1


def eligible_keys(orders: int) -> set[str]:
    return {order_key(order_id(i)) for i in range(orders) if is_eligible(i)}


def ineligible_keys(orders: int) -> set[str]:
    return {order_key(order_id(i)) for i in range(orders) if not is_eligible(i)}


def order_record(index: int) -> dict[str, t.Any]:
    """A Big Cartel order as tap-bigcartel emits it; every tenth is shipped or unpaid."""
    payment, shipping = "completed", "unshipped"
    if not is_eligible(index):
        payment, shipping = (
            ("pending", "unshipped") if index % 20 == 19 else ("completed", "shipped")
        )
    return {
        "id": order_id(index),
        "account_id": ACCOUNT_ID,
        "payment_status": payment,
        "shipping_status": shipping,
        "customer_first_name": "Ottoline",
        "customer_last_name": f"Marchbanks{index}",
        "customer_email": f"ottoline.marchbanks{index}@buyers.example",
        "shipping_address_1": f"{index} Quillfeather Lane",
        "shipping_city": "Wexhollow",
        "shipping_state": "OR",
        "shipping_zip": "97201",
        "shipping_country": {"id": "US" if index % 4 else "CA", "name": "x"},
        "total": "42.50",
        "shipping_total": "5.00",
        "currency": {"id": "USD"},
        "completed_at": "2026-05-01T12:00:00+00:00",
        "updated_at": "2026-05-01T12:00:00+00:00",
        "items": [
            {
                "id": f"{index}01",
                "product": {"id": str(index % 5)},
                "product_option": {"id": f"{index % 5}-{1 + index % 3}"},
                "product_name": "Tee",
                "quantity": 2,
                "price": "15.00",
            },
            {
                "id": f"{index}02",
                "product": {"id": "9"},
                "product_option": {"id": "9-1"},
                "product_name": "Mug",
                "quantity": 1,
                "price": "12.50",
            },
        ],
    }


def singer_messages(orders: int) -> list[dict[str, t.Any]]:
    """accounts, products with ``SKU:`` lines (3-option tees, a 1-option mug), orders, STATE."""
    fields = {
        "accounts": ("id", "account_id", "country"),
        "products": ("id", "account_id", "name", "description", "options", "updated_at"),
        "orders": tuple(order_record(0)),
    }
    messages: list[dict[str, t.Any]] = [
        {
            "type": "SCHEMA",
            "stream": stream,
            "key_properties": ["account_id", "id"],
            "schema": {"type": "object", "properties": {name: {} for name in names}},
        }
        for stream, names in fields.items()
    ]
    messages.append(
        {
            "type": "RECORD",
            "stream": "accounts",
            "record": {"id": ACCOUNT_ID, "account_id": ACCOUNT_ID, "country": {"id": "US"}},
        }
    )
    for product in (*range(5), 9):
        names = ("SMALL", "MEDIUM", "LARGE") if product < 5 else ("Default",)
        record = {
            "id": str(product),
            "account_id": ACCOUNT_ID,
            "name": f"Product {product}",
            "description": f"<p>Soft.</p><p>SKU: P{product}-</p>",
            "options": [{"id": f"{product}-{n}", "name": name} for n, name in enumerate(names, 1)],
            "updated_at": "2026-01-01T00:00:00+00:00",
        }
        messages.append({"type": "RECORD", "stream": "products", "record": record})
    messages += [
        {"type": "RECORD", "stream": "orders", "record": order_record(i)} for i in range(orders)
    ]
    messages.append({"type": "STATE", "value": {"bookmarks": {"orders": {"replication_key": 1}}}})
    return messages


# What the ShipStation emulator answered, by worker


@dataclass(frozen=True)
class Answer:
    """One API answer of the emulator, as the middleware saw it go out."""

    worker: int
    method: str
    path: str
    status: int
    remaining: int | None
    reset: int | None
    at: float


class WorkerTap:
    """WSGI middleware before the emulator: strips ``/w<n>`` and records each answer by worker.

    Wrapping ``app.wsgi_app`` is Flask's own way to add middleware; the emulator is unchanged.
    """

    _PREFIX = re.compile(r"/w(\d+)(/.*)")

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._answers: list[Answer] = []

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> Iterable[bytes]:
        match = self._PREFIX.fullmatch(environ.get("PATH_INFO", ""))
        worker = 0
        if match:
            worker = int(match.group(1))
            environ["PATH_INFO"] = match.group(2)
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]

        def recording_start_response(status: str, headers: list, exc_info: t.Any = None) -> t.Any:
            if not path.startswith("/_sandbox/"):
                named = {name.lower(): value for name, value in headers}
                answer = Answer(
                    worker,
                    method,
                    path,
                    int(status.split()[0]),
                    _integer(named.get("x-rate-limit-remaining")),
                    _integer(named.get("x-rate-limit-reset")),
                    time.monotonic(),
                )
                with self._lock:
                    self._answers.append(answer)
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)

    def answers(self) -> list[Answer]:
        with self._lock:
            return list(self._answers)

    def waits_past_reset(self, worker: int, since: float) -> bool:
        """Whether ``worker`` still waits on the rate limit although the window has reset.

        For each window since ``since`` (its first request is answered ``Remaining = limit -
        1``), the worker's wait ends at the latest "spent" answer it got in it (a 429 or
        ``Remaining: 0``) plus that answer's ``X-Rate-Limit-Reset``.
        """
        now = time.monotonic()
        answers = self.answers()
        starts = [a.at for a in answers if a.status != 429 and a.remaining == RATE_LIMIT - 1]
        for start in starts:
            if start < since - RATE_WINDOW_SECONDS or now < start + RATE_WINDOW_SECONDS:
                continue
            waits = [
                a.at + a.reset
                for a in answers
                if a.worker == worker
                and start <= a.at < start + RATE_WINDOW_SECONDS
                and a.reset is not None
                and (a.status == 429 or a.remaining == 0)
            ]
            if waits and max(waits) >= now + STILL_WAITING_SECONDS:
                return True
        return False


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def shipstation_sandbox() -> tuple[ShipStationSandbox, WorkerTap]:
    """A started emulator with the tight rate limit and the tagging middleware in front."""
    sandbox = ShipStationSandbox(
        SS_KEY,
        SS_SECRET,
        latency_seconds=LATENCY_SECONDS,
        rate_limit=RATE_LIMIT,
        rate_limit_window_seconds=RATE_WINDOW_SECONDS,
    )
    tap = WorkerTap(sandbox.app.wsgi_app)
    sandbox.app.wsgi_app = tap  # type: ignore[method-assign]
    sandbox.start()
    return sandbox, tap


class BudgetSpender:
    """Another client of the account: keeps every window's budget spent (16 requests in flight,
    so a new window is spent within milliseconds) until worker 1 is refused early in a window.

    Refused early (``X-Rate-Limit-Reset`` of 2 s, rounded up), worker 1 waits past the
    window's end holding its batch. Refused late (1 s), it would retry in the next window: that
    one is spent too, and each retry lands 0.6 s earlier in its window, so within three
    refusals, well inside the client's five retries.
    """

    CLIENTS = 16

    def __init__(self, url: str, tap: WorkerTap, deadline: float) -> None:
        self.url = f"{url}/w0/orders"
        self.tap = tap
        self.deadline = deadline
        self.threads = [
            threading.Thread(target=self.spend, name=f"budget-spender-{n}", daemon=True)
            for n in range(self.CLIENTS)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def spend(self) -> None:
        with requests.Session() as session:
            session.auth = (SS_KEY, SS_SECRET)
            while time.monotonic() < self.deadline and not self.worker_1_waits():
                session.get(self.url, params={"pageSize": "1"}, timeout=10)

    def worker_1_waits(self) -> bool:
        return any(
            a.worker == 1 and a.status == 429 and (a.reset or 0) >= 2 for a in self.tap.answers()
        )


def created_per_key(sandbox: ShipStationSandbox) -> collections.Counter[str]:
    """Orders in createorders requests the emulator took (200, or stored then dropped), per
    orderKey."""
    return creates_per_key(sandbox.requests, (200, None))


# The 3PL collecting order files


class Warehouse(threading.Thread):
    """A 3PL collecting order files from the outbox while the workers run.

    As the file-exchange pattern has it: every visible ``*.json`` in the outbox is taken (one
    atomic rename into the warehouse's own folder, the download-then-delete of an SFTP client)
    and then read; hidden names (``.sent/``, ``.*.tmp``) are the target's own. A file the
    target took back first (an update) is simply not there any more.
    """

    def __init__(self, outbox: Path, collected: Path) -> None:
        super().__init__(name="warehouse", daemon=True)
        self.outbox = outbox
        self.collected = collected
        self.orders: collections.Counter[str] = collections.Counter()
        self.other: list[str] = []
        self.collected_at: list[float] = []
        self._stop_event = threading.Event()
        self._sequence = 0
        self._lock = threading.Lock()
        collected.mkdir(parents=True, exist_ok=True)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sweep()
            self._stop_event.wait(POLL_SECONDS)

    def stop(self) -> None:
        """Stop polling, then collect whatever is left once (the workers have ended)."""
        self._stop_event.set()
        self.join(timeout=10)
        self.sweep()

    def sweep(self) -> None:
        with self._lock:
            if not self.outbox.is_dir():
                return
            for path in sorted(self.outbox.iterdir()):
                if path.name.startswith(".") or not path.name.endswith(".json"):
                    continue
                self._sequence += 1
                taken = self.collected / f"{self._sequence:06d}-{path.name}"
                try:
                    os.rename(path, taken)
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    continue
                try:
                    document = json.loads(taken.read_bytes())
                except ValueError as error:  # files appear whole, so this is a finding
                    self.other.append(f"{path.name}: unreadable ({error})")
                    continue
                if isinstance(document, dict) and document.get("format") == ORDER_FORMAT:
                    self.orders[document["key"]] += 1
                    self.collected_at.append(time.monotonic())
                else:
                    self.other.append(f"{path.name}: not an order file")

    def collected_since(self, since: float) -> bool:
        return any(moment >= since for moment in list(self.collected_at))


# The ledger, read beside the workers


class LedgerProbe:
    """Counts the ledger's claimed rows while the workers run, without creating anything."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = sa.make_url(url)
        self._sqlite_file = (
            Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None
        )
        if self._sqlite_file is None:
            self._engine = sa.create_engine(url, pool_size=1)
        else:
            # Read-only and not pooled: the probe must never create the file, nor hold it
            # against the switch to WAL that the first worker makes.
            url = f"sqlite:///file:{self._sqlite_file}?mode=ro&uri=true"
            self._engine = sa.create_engine(url, poolclass=NullPool)

    def claimed(self) -> int:
        """Rows in ``submitting`` or ``submitted``; 0 while the table does not exist yet."""
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            return 0
        query = sa.text(
            "SELECT count(*) FROM fulfillment_orders WHERE state IN ('submitting', 'submitted')"
        )
        try:
            with self._engine.connect() as connection:
                return int(connection.execute(query).scalar_one())
        except sa.exc.DBAPIError:
            return 0

    def close(self) -> None:
        self._engine.dispose()


@contextlib.contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A new, empty schema on the server of ``server_url``: its URL (``search_path`` set to
    it), for one round's ledger; dropped afterwards."""
    admin = sa.create_engine(server_url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    schema = f"workers_{uuid.uuid4().hex}"
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = sa.make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


# The workers


class Worker:
    """One target-fulfillment process, its input written and its stdin held open until start."""

    def __init__(self, number: int, workdir: Path, config: dict[str, t.Any], payload: bytes):
        self.number = number
        self.config_path = workdir / f"worker-{number}.json"
        self.config_path.write_text(json.dumps(config))
        self.stderr_path = workdir / f"worker-{number}.stderr"
        self.payload = payload
        self.started_at: float | None = None
        self.timed_out = False
        self._writer: threading.Thread | None = None
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*TARGET, "--config", str(self.config_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=workdir,
            )

    def feed(self) -> None:
        """Write the whole input on a thread of its own, keeping stdin open.

        The write blocks while the pipe is full, so it must not hold up the caller's deadlines.
        """
        self._writer = threading.Thread(target=self._write, name=f"feed-{self.number}")
        self._writer.daemon = True
        self._writer.start()

    def _write(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError, ValueError):  # the process died, or was started
            self.process.stdin.write(self.payload)
            self.process.stdin.flush()

    def has_read_its_input(self) -> bool:
        """Whether all input is written and the pipe is empty: the process is up and read it."""
        assert self.process.stdin is not None
        if self._writer is None or self._writer.is_alive():
            return False
        unread = array.array("i", [0])
        fcntl.ioctl(self.process.stdin.fileno(), termios.FIONREAD, unread)
        return unread[0] == 0

    def exited(self) -> bool:
        return self.process.poll() is not None

    def start(self) -> None:
        """End the input: the SDK drains, and the worker's run begins."""
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # the process died already: its exit code tells
            self.process.stdin.close()
        self.started_at = time.monotonic()

    def wait(self, deadline: float) -> int:
        try:
            return self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.process.kill()
            return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


# One round


@dataclass
class RoundResult:
    """What the warehouse received, compared with the eligible orders and the ledger."""

    backend: str
    database: str
    workers: int
    schedule: str
    orders: int
    eligible: set[str]
    received: collections.Counter[str]
    states: dict[str, str]
    last_errors: dict[str, str | None]
    exit_codes: list[int]
    leaks: list[tuple[int, str]]
    timed_out: list[int]
    missed_events: list[str]
    wall_seconds: float
    stderr: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    #: The ShipStation emulator's answers by worker, and each worker's start, for diagnosis.
    answers: list[Answer] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)

    @property
    def sent_twice(self) -> dict[str, int]:
        return {key: n for key, n in sorted(self.received.items()) if n > 1}

    @property
    def lost(self) -> set[str]:
        return self.eligible - set(self.received)

    @property
    def not_eligible_sent(self) -> set[str]:
        return set(self.received) - self.eligible

    def left_in(self, state: str) -> set[str]:
        """Keys the warehouse has whose ledger row is in ``state``."""
        return {key for key in self.received if self.states.get(key) == state}

    @property
    def not_submitted(self) -> dict[str, str | None]:
        """Keys the warehouse has whose row is not ``submitted`` (or missing), with the state."""
        return {
            key: self.states.get(key)
            for key in sorted(self.received)
            if self.states.get(key) != "submitted"
        }

    def problems(self) -> list[str]:
        """Every broken promise, one line each; empty when the round was safe."""
        found = []
        if self.missed_events:
            found.append(f"stagger events not seen (test setup): {self.missed_events}")
        if self.timed_out:
            found.append(f"workers killed at the deadline: {self.timed_out}")
        if any(self.exit_codes):
            found.append(f"worker exit codes {self.exit_codes} (0 expected)")
        if self.sent_twice:
            found.append(f"sent twice ({len(self.sent_twice)}): {self.sent_twice}")
        if self.lost:
            lost = {key: self.states.get(key) for key in sorted(self.lost)}
            found.append(f"lost, never at the warehouse ({len(lost)}), ledger states: {lost}")
        if self.not_eligible_sent:
            found.append(f"not eligible but sent: {sorted(self.not_eligible_sent)}")
        for state in ("failed", "submitting"):
            keys = sorted(self.left_in(state))
            if keys:
                errors = {key: self.last_errors.get(key) for key in keys}
                found.append(f"left {state} for orders the warehouse has ({len(keys)}): {errors}")
        others = {k: s for k, s in self.not_submitted.items() if s not in ("failed", "submitting")}
        if others:
            found.append(f"at the warehouse but not submitted in the ledger: {others}")
        if self.leaks:
            leaks = sorted(set(self.leaks))
            found.append(f"customer data in worker stderr (worker, word): {leaks}")
        if self.other_files:
            found.append(f"unexpected files collected: {self.other_files}")
        return found

    def describe(self) -> str:
        lines = [
            f"{self.workers} workers, {self.schedule}, {self.backend} backend, "
            f"{self.database} ledger, {len(self.eligible)} eligible orders, "
            f"{self.wall_seconds:.1f} s",
            *self.problems(),
        ]
        for number, text in enumerate(self.stderr, 1):
            tail = "\n".join(text.strip().splitlines()[-15:])
            lines.append(f"--- worker {number} stderr (last lines) ---\n{tail}")
        return "\n".join(lines)


def worker_config(
    backend: str, ledger_url: str, workdir: Path, api_url: str | None, number: int
) -> dict[str, t.Any]:
    """The defaults, plus only the shared ledger, the backend's settings and the customs data
    of every SKU."""
    config: dict[str, t.Any] = {
        "backend": backend,
        "ledger_url": ledger_url,
        # Every fourth order ships to Canada: its customs declaration needs these.
        "product_attributes": {
            sku: {"description": "Cotton tee", "hs_code": "6109.10", "country_of_origin": "US"}
            for sku in [f"P{p}-{size}" for p in range(5) for size in ("SMALL", "MEDIUM", "LARGE")]
            + ["P9-"]
        },
    }
    if backend == "file":
        config["file_outbox_dir"] = str(workdir / "outbox")
        config["file_inbox_dir"] = str(workdir / "inbox")
    else:
        config["shipstation_api_url"] = f"{api_url}/w{number}"
        config["shipstation_api_key"] = SS_KEY
        config["shipstation_api_secret"] = SS_SECRET
    return config


def _wait_for(
    condition: Callable[[], bool], deadline: float, give_up: Callable[[], bool] | None = None
) -> bool:
    """Poll ``condition`` until it holds (True), or until the deadline or ``give_up`` (False)."""
    while time.monotonic() < deadline:
        if condition():
            return True
        if give_up is not None and give_up():
            return False
        time.sleep(POLL_SECONDS)
    return False


def run_round(
    *,
    workdir: Path,
    ledger_url: str,
    database: str,
    backend: str,
    workers: int,
    schedule: str,
    orders: int,
    timeout_seconds: float = 120.0,
) -> RoundResult:
    """Run one round and compare what the warehouse received with the ledger."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}")
    workdir.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(m) + "\n" for m in singer_messages(orders)).encode()
    deadline = time.monotonic() + timeout_seconds
    sandbox: ShipStationSandbox | None = None
    tap: WorkerTap | None = None
    warehouse: Warehouse | None = None
    probe = LedgerProbe(ledger_url)
    spawned: list[Worker] = []
    missed: list[str] = []
    try:
        if backend == "shipstation":
            sandbox, tap = shipstation_sandbox()
        else:
            warehouse = Warehouse(workdir / "outbox", workdir / "warehouse")
            warehouse.start()
        api_url = sandbox.url if sandbox is not None else None
        for number in range(1, workers + 1):
            config = worker_config(backend, ledger_url, workdir, api_url, number)
            spawned.append(Worker(number, workdir, config, payload))
        for worker in spawned:
            worker.feed()
        for worker in spawned:
            if not _wait_for(worker.has_read_its_input, deadline, worker.exited):
                missed.append(f"worker {worker.number} never read its input")

        first_start = time.monotonic()
        if schedule == "together":
            for worker in spawned:
                worker.start()
        else:
            if sandbox is not None and tap is not None:
                BudgetSpender(sandbox.url, tap, min(deadline, time.monotonic() + 30)).start()
            spawned[0].start()
            events = STAGGER_EVENTS[(backend, workers)]
            for worker, event in zip(spawned[1:], events, strict=True):
                since = time.monotonic()
                condition = _event(event, since, probe, tap, warehouse)
                event_deadline = min(deadline, since + EVENT_TIMEOUT_SECONDS)
                if not _wait_for(condition, event_deadline, spawned[0].exited):
                    missed.append(f"worker {worker.number}: {event}")
                worker.start()
        exit_codes = [worker.wait(deadline) for worker in spawned]
        wall = time.monotonic() - first_start
    finally:
        for worker in spawned:
            worker.kill()
        probe.close()
        if warehouse is not None:
            warehouse.stop()
        if sandbox is not None:
            sandbox.stop()

    if sandbox is not None:
        received = created_per_key(sandbox)
        # An order the emulator holds without a createorders answered 200 would be a bug here.
        for stored in sandbox.store.orders():
            received.setdefault(stored["orderKey"], 0)
        other: list[str] = []
    else:
        assert warehouse is not None
        received = warehouse.orders
        other = warehouse.other
    ledger = Ledger(ledger_url)
    try:
        rows = ledger.entries()
    finally:
        ledger.close()
    stderr = [worker.stderr for worker in spawned]
    leaks = [
        (number, word)
        for number, text in enumerate(stderr, 1)
        for word in PERSONAL_DATA
        if word.lower() in text.lower()
    ]
    return RoundResult(
        backend=backend,
        database=database,
        workers=workers,
        schedule=schedule,
        orders=orders,
        eligible=eligible_keys(orders),
        received=received,
        states={row.order_key: row.state for row in rows},
        last_errors={row.order_key: row.last_error for row in rows},
        exit_codes=exit_codes,
        leaks=leaks,
        timed_out=[w.number for w in spawned if w.timed_out],
        missed_events=missed,
        wall_seconds=wall,
        stderr=stderr,
        other_files=other,
        answers=tap.answers() if tap is not None else [],
        starts=[w.started_at or 0.0 for w in spawned],
    )


def _event(
    name: str,
    since: float,
    probe: LedgerProbe,
    tap: WorkerTap | None,
    warehouse: Warehouse | None,
) -> Callable[[], bool]:
    if name == "first_claim":
        return lambda: probe.claimed() > 0
    if name == "rate_wait":
        assert tap is not None, "rate_wait needs the ShipStation emulator"
        return lambda: tap.waits_past_reset(1, since)
    if name == "first_collected":
        assert warehouse is not None, "first_collected needs the file warehouse"
        return lambda: warehouse.collected_since(since)
    raise ValueError(f"unknown stagger event {name!r}")
