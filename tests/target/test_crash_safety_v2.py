"""ShipStation V2 through the real target process: kill -9 while it sends, lost batch answers
and 429s; every order must reach the V2 emulator exactly once.

V2 refuses a second shipment with the same ``external_shipment_id``, so "one shipment per key"
alone would prove little: the assertions also count the ``POST /v2/shipments`` requests that
carried each key (exactly one each), because an interrupted batch is settled by looking its
keys up, never by sending it again.

The kills are set off by the emulator itself, not by a clock: a WSGI middleware in front of it
(:class:`KillSwitch`) sends SIGKILL to the target when the target's n-th API request arrives
(before the emulator applies it), once it is applied (its answer never leaves), or once its
answer is written, and waits for the process to be gone before going on. The same middleware
holds the first create until the second has arrived, so both batches are in flight when one of
them is cut. The first kill goes through every create and phase; a second one, in the run that
settles, falls on a random request and phase (seeded). No test sleeps.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import os
import random
import select
import signal
import threading
import time
import typing as t
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pipeline import record_tap, start_target, target_config

from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox.v2 import ShipStationV2Sandbox
from target_fulfillment.ledger import Ledger

API_KEY = "crash-v2-key-7f3a91c0"
WAREHOUSE = "se-217762"
V2_SETTINGS = {
    "backend": "shipstation_v2",
    "shipstation_v2_api_key": API_KEY,
    "shipstation_v2_warehouse_id": WAREHOUSE,
    "default_package_weight": {"value": 1.5, "unit": "pound"},
}
SHIPMENTS = "/v2/shipments"
BY_KEY = "/v2/shipments/external_shipment_id/"
PHASES = ("arrived", "applied", "answered")
#: Longest a target run may take here; every run of these tests takes seconds.
RUN_TIMEOUT = 120.0

WsgiApp = Callable[[dict[str, t.Any], t.Any], Iterable[bytes]]


@pytest.fixture(scope="module")
def tap_output(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Sandbox]]:
    """One recorded tap run (one shop, two batches of eligible orders), replayed every run."""
    workdir = tmp_path_factory.mktemp("tap")
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=250, products_per_shop=10, seed=8)) as bc:
        yield record_tap(workdir, bc), bc


# Killing the target from inside the emulator


@dataclass(frozen=True)
class Moment:
    """The ``request``-th API request of a run (1-based), and when in it the target dies:
    ``arrived`` (the emulator never sees it), ``applied`` (applied, the answer never sent) or
    ``answered`` (after the answer is written)."""

    request: int
    phase: str


class KillSwitch:
    """WSGI middleware in front of the V2 emulator that SIGKILLs a target at a given moment.

    Wrapping ``app.wsgi_app`` is Flask's own way to add middleware; the emulator is unchanged.
    Control routes (``/_sandbox/``) are not counted.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._count = 0
        self._pid: int | None = None
        self._started = threading.Event()
        self._moment: Moment | None = None
        self._on_lost_answer = False
        self._hold_creates = 0
        self._creates = 0
        self._creates_in = threading.Event()
        #: Whether the creates to hold together came one at a time (one never arrived).
        self.apart = False
        #: Where the last kill happened (``POST /v2/shipments (request 2), applied``), and
        #: its route (``POST /v2/shipments``; a lookup by key without the key).
        self.killed_at: str | None = None
        self.killed_route: str | None = None

    def arm(
        self, moment: Moment | None = None, *, on_lost_answer: bool = False, together: int = 0
    ) -> None:
        """Kill the next target started (``started``) at ``moment``, or when the emulator is
        about to drop a create's answer (its lost-answer fault: the shipments are stored, the
        target never hears so). Requests are counted from here, before the target exists.
        The first ``together`` creates are each held until all of them have arrived."""
        with self._lock:
            self._count, self._pid, self._moment = 0, None, moment
            self._on_lost_answer, self.killed_at, self.killed_route = on_lost_answer, None, None
            self._hold_creates, self._creates, self.apart = together, 0, False
            self._started.clear()
            self._creates_in.clear()

    def started(self, pid: int) -> None:
        with self._lock:
            self._pid = pid
        self._started.set()

    def disarm(self) -> None:
        with self._lock:
            self._pid, self._moment, self._on_lost_answer = None, None, False
            self._hold_creates = 0
        self._started.set()
        self._creates_in.set()

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if path.startswith("/_sandbox/"):
            return self.app(environ, start_response)
        create = method == "POST" and path == SHIPMENTS
        with self._lock:
            self._count += 1
            count = self._count
            moment = self._moment if self._moment and self._moment.request == count else None
            lost = self._on_lost_answer and create
            held = create and self._creates < self._hold_creates
            if held:
                self._creates += 1
                if self._creates == self._hold_creates:
                    self._creates_in.set()
        if held and not self._creates_in.wait(RUN_TIMEOUT):
            self.apart = True
        where = f"{method} {path} (request {count})"
        route = f"{method} {BY_KEY if path.startswith(BY_KEY) else path}"
        if moment and moment.phase == "arrived":
            self._kill(route, f"{where}, arrived")
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]
        statuses: list[str] = []

        def recording(status: str, headers: list[t.Any], exc_info: t.Any = None) -> t.Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        answer = self.app(environ, recording)
        if moment and moment.phase == "applied":
            self._kill(route, f"{where}, applied")
        elif lost and statuses and statuses[0].startswith("504"):
            # The fault's answer: the socket is shut when werkzeug iterates it, after this.
            self._kill(route, f"{where}, its answer lost")
        elif moment:
            return _AfterWritten(answer, lambda: self._kill(route, f"{where}, answered"))
        return answer

    def _kill(self, route: str, where: str) -> None:
        """SIGKILL the armed process and wait until it is gone (without reaping it)."""
        self._started.wait(RUN_TIMEOUT)
        with self._lock:
            pid, self._pid = self._pid, None
            self._moment, self._on_lost_answer = None, False
        if pid is None:
            return
        # Set first: the test reads them as soon as its wait for the process returns.
        self.killed_at, self.killed_route = where, route
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:  # it ended (and was reaped) just before
            self.killed_at = self.killed_route = None
            return
        try:
            os.kill(pid, signal.SIGKILL)
            ready, _, _ = select.select([handle], [], [], RUN_TIMEOUT)
            assert ready, f"pid {pid} still runs after SIGKILL"
        finally:
            os.close(handle)


class _AfterWritten:
    """An answer's body that calls ``then`` once the server has written it (WSGI ``close``)."""

    def __init__(self, body: Iterable[bytes], then: Callable[[], None]) -> None:
        self._body, self._then = body, then

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._then()


class Timings:
    """WSGI middleware recording, per API request, when it arrived and when it was answered,
    its status and Retry-After, and what it asked (method, path, query and a digest of the
    body), which a retry asks again."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._seen: list[Timing] = []

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> Iterable[bytes]:
        arrived = time.monotonic()
        what = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}"
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        asked = f"{what}?{environ.get('QUERY_STRING', '')} {hashlib.sha256(body).hexdigest()}"

        def recording(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            named = {name.lower(): value for name, value in headers}
            retry_after = float(named["retry-after"]) if "retry-after" in named else None
            timing = Timing(arrived, time.monotonic(), what, int(status[:3]), retry_after, asked)
            with self._lock:
                self._seen.append(timing)
            return start_response(status, headers, exc_info)

        return self.app(environ, recording)

    def seen(self) -> list[Timing]:
        """The API requests in the order they arrived."""
        with self._lock:
            return sorted(timing for timing in self._seen if "/_sandbox/" not in timing.what)


@dataclass(frozen=True, order=True)
class Timing:
    arrived: float
    answered: float
    what: str
    status: int
    retry_after: float | None
    asked: str


@contextlib.contextmanager
def _emulator(**options: t.Any) -> Iterator[tuple[ShipStationV2Sandbox, KillSwitch, Timings]]:
    """A started V2 emulator with ``options``, behind the kill switch, behind the timings."""
    sandbox = ShipStationV2Sandbox(API_KEY, **options)
    switch = KillSwitch(sandbox.app.wsgi_app)
    timings = Timings(switch)
    sandbox.app.wsgi_app = timings  # type: ignore[method-assign]
    with sandbox:
        yield sandbox, switch, timings


# Running and checking


def _settings(bc: Sandbox, workdir: Path, ss: ShipStationV2Sandbox, **extra: t.Any) -> dict:
    return target_config(bc, workdir, **V2_SETTINGS, shipstation_v2_api_url=ss.url, **extra)


def _run(
    workdir: Path,
    settings: dict[str, t.Any],
    messages: Path,
    name: str,
    switch: KillSwitch | None = None,
    **arming: t.Any,
) -> int:
    """One target run to its end (or its kill); its exit code (-9 when killed)."""
    if switch is not None:
        switch.arm(**arming)
    process = start_target(workdir, settings, messages, name)
    if switch is not None:
        switch.started(process.pid)
    try:
        return process.wait(timeout=RUN_TIMEOUT)
    finally:
        if switch is not None:
            switch.disarm()
        if process.poll() is None:
            process.kill()
            process.wait()


def _stderr(workdir: Path, name: str) -> str:
    return (workdir / f"{name}.err").read_text()[-3000:]


def creates_per_key(
    requests: Iterable[dict[str, t.Any]], statuses: t.Container[int | None] | None = None
) -> collections.Counter[str]:
    """How many ``POST /v2/shipments`` of the emulator's log carried each external_shipment_id
    (with one of ``statuses``: None is a create stored and then left unanswered)."""
    return collections.Counter(
        shipment["external_shipment_id"]
        for request in requests
        if request["method"] == "POST"
        and request["path"] == SHIPMENTS
        and (statuses is None or request["status"] in statuses)
        and isinstance(request["body"], dict)
        for shipment in request["body"].get("shipments") or []
        if isinstance(shipment, dict)
    )


def _stored(ss: ShipStationV2Sandbox) -> dict[str, str]:
    """external_shipment_id -> shipment_id of every shipment at the emulator."""
    shipments = ss.store.shipments()
    ids = [s["external_shipment_id"] for s in shipments]
    assert len(ids) == len(set(ids)), "the emulator holds two shipments with one key"
    return {s["external_shipment_id"]: s["shipment_id"] for s in shipments}


def _in_doubt(ledger_url: str) -> list[str]:
    """The keys left ``submitting`` by workers that are gone."""
    ledger = Ledger(ledger_url)
    try:
        return [entry.order_key for entry in ledger.in_doubt("shipstation_v2")]
    finally:
        ledger.close()


def _check_exactly_once(ss: ShipStationV2Sandbox, ledger_url: str, context: str) -> set[str]:
    """Every order submitted once: the emulator holds each key once, created by one request,
    and the ledger agrees (same keys and shipment ids, none in doubt). The keys."""
    stored = _stored(ss)
    # A 429 is answered before any route runs, so it stored nothing; any other create counts.
    posted = creates_per_key(r for r in ss.requests if r["status"] != 429)
    ledger = Ledger(ledger_url)
    try:
        submitted = {e.order_key: e.backend_order_id for e in ledger.by_state("submitted")}
    finally:
        ledger.close()
    in_doubt = _in_doubt(ledger_url)
    assert not in_doubt, f"{context}: left in doubt: {in_doubt[:5]}"
    assert submitted == stored, f"{context}: the ledger and the emulator disagree"
    twice = {key: n for key, n in posted.items() if n > 1}
    assert not twice, f"{context}: sent more than once: {dict(list(twice.items())[:5])}"
    assert set(posted) == set(stored), f"{context}: a create request is unaccounted for"
    return set(stored)


# (a) kill -9 during batched submission, and again while settling


@pytest.fixture(scope="module")
def reference(
    tap_output: tuple[Path, Sandbox], tmp_path_factory: pytest.TempPathFactory
) -> set[str]:
    """The keys a clean run sends; its requests are the two creates, then the labels."""
    messages, bc = tap_output
    workdir = tmp_path_factory.mktemp("reference")
    with _emulator() as (ss, _, _):
        settings = _settings(bc, workdir, ss)
        assert _run(workdir, settings, messages, "clean") == 0, _stderr(workdir, "clean")
        expected = _check_exactly_once(ss, settings["ledger_url"], "clean run")
        routes = [f"{r['method']} {r['path']}" for r in ss.requests]
    assert routes == [f"POST {SHIPMENTS}", f"POST {SHIPMENTS}", "GET /v2/labels"]
    assert len(expected) > 100  # two batches: 100 and the rest
    return expected


#: Each of the two creates (held until both are in flight) at each phase.
FIRST_KILLS = [Moment(request, phase) for phase in PHASES for request in (1, 2)]


@pytest.mark.parametrize("settling_killed", [False, True], ids=["then-run", "then-killed-again"])
@pytest.mark.parametrize("first", FIRST_KILLS, ids=lambda m: f"create{m.request}-{m.phase}")
def test_kill_minus_nine_while_sending_then_each_order_is_at_the_warehouse_once(
    first: Moment,
    settling_killed: bool,
    db_url: str,
    reference: set[str],
    tap_output: tuple[Path, Sandbox],
    tmp_path: Path,
) -> None:
    """The target killed at a create; with ``settling_killed``, the next run killed too, at a
    random one of its requests that settle what the first left in doubt (a lookup per key in
    doubt, then the create of those missing or the labels), at a random phase; then a run to
    its end must leave every order at the emulator once, sent by one create request."""
    messages, bc = tap_output
    with _emulator() as (ss, switch, _):
        settings = _settings(bc, tmp_path, ss, ledger_url=db_url)
        returncode = _run(tmp_path, settings, messages, "killed", switch, moment=first, together=2)
        assert returncode == -signal.SIGKILL, _stderr(tmp_path, "killed")
        assert switch.killed_route == f"POST {SHIPMENTS}" and not switch.apart
        where = [str(switch.killed_at)]
        again: Moment | None = None
        if settling_killed:
            rng = random.Random(f"crash-v2-{first}-{db_url.split(':')[0]}")
            in_doubt = _in_doubt(db_url)
            again = Moment(rng.randint(1, len(in_doubt) + 1), rng.choice(PHASES))
            _run(tmp_path, settings, messages, "settling", switch, moment=again)
            where.append(switch.killed_at or f"not killed at {again}")

        returncode = _run(tmp_path, settings, messages, "final")

        context = f"killed at {'; then '.join(where)}"
        assert returncode == 0, f"{context}: {_stderr(tmp_path, 'final')}"
        assert _check_exactly_once(ss, db_url, context) == reference, context
        if again is not None:
            assert switch.killed_at, f"the settling run was never killed at {again}"


# (b) a batch stored whose answer is lost


@pytest.mark.parametrize("limited", [False, True], ids=["unlimited", "rate-limited"])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_lost_batch_answer_is_settled_by_lookup_after_a_kill_without_resending(
    concurrency: int, limited: bool, tap_output: tuple[Path, Sandbox], tmp_path: Path
) -> None:
    """The emulator stores a batch and drops its answer (``timeout_next_create``); the target
    is killed before it can hear or look. The next run finds every key of that batch by
    lookup and sends none of them again. ``limited``: 40 requests a 1 s window, so the
    lookups (one per key: the new process knows no send times) meet 429s and wait them out."""
    messages, bc = tap_output
    limit = {"rate_limit": 40, "rate_limit_window_seconds": 1.0} if limited else {}
    with _emulator(timeout_hang_seconds=0, **limit) as (ss, switch, timings):
        settings = _settings(bc, tmp_path, ss, max_concurrency=concurrency)
        ss.store.timeout_next_create(1)

        returncode = _run(tmp_path, settings, messages, "killed", switch, on_lost_answer=True)

        assert returncode == -signal.SIGKILL, _stderr(tmp_path, "killed")
        assert ss.store.pending_create_timeouts == 0 and switch.killed_at
        lost = set(creates_per_key(ss.requests, {None}))
        # One thread sends the batch of 100 first; with four, either batch may be the one.
        assert len(lost) == 100 if concurrency == 1 else len(lost) > 20
        assert lost <= set(_stored(ss)), "the emulator stored the batch it did not answer"
        assert lost <= set(_in_doubt(settings["ledger_url"])), "the kill left it in doubt"
        before = len(ss.requests)

        returncode = _run(tmp_path, settings, messages, "rerun")

        assert returncode == 0, _stderr(tmp_path, "rerun")
        rerun = ss.requests[before:]
        assert not lost & set(creates_per_key(rerun)), "a key of the lost batch was sent again"
        looked_up = {r["path"].removeprefix(BY_KEY) for r in rerun if r["path"].startswith(BY_KEY)}
        assert lost <= looked_up, "the rerun settled the lost batch by looking each key up"
        _check_exactly_once(ss, settings["ledger_url"], "after the rerun")
        if limited:
            refused = _check_retry_after(timings.seen(), sequential=concurrency == 1)
            assert any(what.startswith(f"GET {BY_KEY}") for what in refused), refused


# (c) 429 with Retry-After


def _check_retry_after(seen: list[Timing], *, sequential: bool) -> list[str]:
    """Each request answered 429 was asked again, not before its Retry-After had passed (and,
    ``sequential``, nothing at all was sent before); the requests refused."""
    refused = [i for i, timing in enumerate(seen) if timing.status == 429]
    for i in refused:
        timing = seen[i]
        assert timing.retry_after is not None and timing.retry_after >= 1
        again = [after for after in seen[i + 1 :] if after.asked == timing.asked]
        assert again, f"{timing.what} was never tried again"
        for after in [again[0], seen[i + 1]] if sequential else [again[0]]:
            waited = after.arrived - timing.answered
            assert waited >= timing.retry_after, (
                f"{after.what} came {waited:.3f} s after the 429 to {timing.what},"
                f" which said Retry-After: {timing.retry_after:g}"
            )
    return [seen[i].what for i in refused]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_429_retry_after_is_honoured_and_no_order_is_lost_or_repeated(
    concurrency: int, tap_output: tuple[Path, Sandbox], tmp_path: Path
) -> None:
    """One request per 2 s window: most requests of the run are answered 429 with a
    Retry-After of 1 or 2 s. The target asks again only once that time has passed (with one
    thread, it sends nothing at all before), and ends with each order sent once; no create
    answered 429 stored anything."""
    messages, bc = tap_output
    with _emulator(rate_limit=1, rate_limit_window_seconds=2.0) as (ss, _, timings):
        settings = _settings(bc, tmp_path, ss, max_concurrency=concurrency)

        returncode = _run(tmp_path, settings, messages, "limited")

        assert returncode == 0, _stderr(tmp_path, "limited")
        refused = _check_retry_after(timings.seen(), sequential=concurrency == 1)
        assert f"POST {SHIPMENTS}" in refused, "no create met a 429"
        accepted = creates_per_key(ss.requests, {200})
        assert set(accepted) == set(_stored(ss)) and max(accepted.values()) == 1
        _check_exactly_once(ss, settings["ledger_url"], "under the rate limit")
