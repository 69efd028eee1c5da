"""ShipStation V2 through the real target process: kill -9 while it sends, lost batch answers
and 429s; every order must reach the V2 emulator exactly once.

V2 refuses a second shipment with the same ``external_shipment_id``, so "one shipment per key"
alone would prove little: the assertions also count the ``POST /v2/shipments`` requests that
carried each key (exactly one each), because an interrupted batch is settled by looking its
keys up, never by sending it again.

The kills are set off by the emulator itself, not by a clock: a WSGI middleware in front of it
(:class:`KillSwitch`) sends SIGKILL to the target when the target's n-th API request arrives
(before the emulator applies it), once it is applied (its answer never leaves), or once its
answer is written, and waits for the process to be gone before going on. So each trial kills at
a chosen point of the protocol, and no test sleeps.
"""

from __future__ import annotations

import collections
import contextlib
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
TRIALS = 12
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
        self._moment: Moment | None = None
        self._on_lost_answer = False
        #: Where the last kill happened (``POST /v2/shipments (request 2), applied``), and
        #: its route (``POST /v2/shipments``; a lookup by key without the key).
        self.killed_at: str | None = None
        self.killed_route: str | None = None

    def arm(self, pid: int, moment: Moment | None = None, *, on_lost_answer: bool = False) -> None:
        """Kill ``pid`` at ``moment``, or when the emulator is about to drop a create's answer
        (its lost-answer fault: the shipments are stored, the target never hears so)."""
        with self._lock:
            self._count, self._pid, self._moment = 0, pid, moment
            self._on_lost_answer, self.killed_at, self.killed_route = on_lost_answer, None, None

    def disarm(self) -> None:
        with self._lock:
            self._pid, self._moment, self._on_lost_answer = None, None, False

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if path.startswith("/_sandbox/"):
            return self.app(environ, start_response)
        with self._lock:
            self._count += 1
            moment = self._moment if self._moment and self._moment.request == self._count else None
            lost = self._on_lost_answer and method == "POST" and path == SHIPMENTS
        where = f"{method} {path} (request {self._count})"
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
        with self._lock:
            pid, self._pid = self._pid, None
            self._moment, self._on_lost_answer = None, False
        if pid is None:
            return
        handle = os.pidfd_open(pid)
        try:
            os.kill(pid, signal.SIGKILL)
            ready, _, _ = select.select([handle], [], [], RUN_TIMEOUT)
            assert ready, f"pid {pid} still runs after SIGKILL"
        finally:
            os.close(handle)
        self.killed_at, self.killed_route = where, route


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


@contextlib.contextmanager
def _emulator(**options: t.Any) -> Iterator[tuple[ShipStationV2Sandbox, KillSwitch]]:
    sandbox = ShipStationV2Sandbox(API_KEY, **options)
    switch = KillSwitch(sandbox.app.wsgi_app)
    sandbox.app.wsgi_app = switch  # type: ignore[method-assign]
    with sandbox:
        yield sandbox, switch


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
    process = start_target(workdir, settings, messages, name)
    if switch is not None:
        switch.arm(process.pid, **arming)
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


# (a) kill -9 at random moments


def test_kill_minus_nine_at_random_moments_sends_each_order_once(
    tap_output: tuple[Path, Sandbox], tmp_path: Path
) -> None:
    """A clean run gives the reference (its requests: two creates, then the labels). Then per
    trial, with a fresh ledger and emulator: the target killed at one of its creates (every
    fourth trial: at any request), at a phase taken in turn; in every other trial the next run
    killed too, at one of the lookups that settle what the first left in doubt, at a random
    phase; then a run to its end."""
    messages, bc = tap_output
    rng = random.Random("crash-v2")
    reference = tmp_path / "reference"
    reference.mkdir()
    with _emulator() as (ss, _):
        settings = _settings(bc, reference, ss)
        returncode = _run(reference, settings, messages, "clean")
        assert returncode == 0, _stderr(reference, "clean")
        expected = _check_exactly_once(ss, settings["ledger_url"], "clean run")
        clean_requests = len(ss.requests)
        clean_creates = sum(r["method"] == "POST" for r in ss.requests)
    assert len(expected) > 100 and clean_creates == 2  # two batches, killed in either
    seen: collections.Counter[str] = collections.Counter()
    for trial in range(TRIALS):
        workdir = tmp_path / f"trial-{trial}"
        workdir.mkdir()
        last = clean_requests if trial % 4 == 3 else clean_creates
        first = Moment(rng.randint(1, last), PHASES[trial % len(PHASES)])
        with _emulator() as (ss, switch):
            settings = _settings(bc, workdir, ss)
            returncode = _run(workdir, settings, messages, "killed", switch, moment=first)
            assert returncode == -signal.SIGKILL, _stderr(workdir, "killed")
            where, routes = [str(switch.killed_at)], [switch.killed_route]
            in_doubt = _in_doubt(settings["ledger_url"])
            if trial % 2 and in_doubt:
                # The next run starts by looking each key in doubt up, one request each.
                again = Moment(rng.randint(1, len(in_doubt)), rng.choice(PHASES))
                returncode = _run(workdir, settings, messages, "settling", switch, moment=again)
                assert returncode == -signal.SIGKILL, _stderr(workdir, "settling")
                where.append(str(switch.killed_at))
                routes.append(switch.killed_route)
            seen.update(str(route) for route in routes)

            returncode = _run(workdir, settings, messages, "final")

            context = f"trial {trial}, killed at {'; then '.join(where)}"
            assert returncode == 0, f"{context}: {_stderr(workdir, 'final')}"
            assert _check_exactly_once(ss, settings["ledger_url"], context) == expected, context
    # The trials hit both batches' creates and the lookups of a run settling an earlier one.
    assert seen[f"POST {SHIPMENTS}"] >= 6 and seen[f"GET {BY_KEY}"] >= 2, seen


# (b) a batch stored whose answer is lost


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_lost_batch_answer_is_settled_by_lookup_after_a_kill_without_resending(
    concurrency: int, tap_output: tuple[Path, Sandbox], tmp_path: Path
) -> None:
    """The emulator stores a batch and drops its answer (``timeout_next_create``); the target
    is killed before it can hear or look. The next run finds every key of that batch by
    lookup and sends none of them again."""
    messages, bc = tap_output
    with _emulator(timeout_hang_seconds=0) as (ss, switch):
        settings = _settings(bc, tmp_path, ss, max_concurrency=concurrency)
        ss.store.timeout_next_create(1)

        returncode = _run(tmp_path, settings, messages, "killed", switch, on_lost_answer=True)

        assert returncode == -signal.SIGKILL, _stderr(tmp_path, "killed")
        assert ss.store.pending_create_timeouts == 0 and switch.killed_at
        lost = set(creates_per_key(ss.requests, {None}))
        assert len(lost) == (100 if concurrency == 1 else len(lost)) and len(lost) > 20
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


# (c) 429 with Retry-After


class Timings:
    """WSGI middleware recording, per API request, when it arrived and when it was answered,
    its status and its Retry-After."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.seen: list[tuple[float, float, str, int, float | None]] = []

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> Iterable[bytes]:
        arrived = time.monotonic()
        what = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}"

        def recording(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            named = {name.lower(): value for name, value in headers}
            retry_after = float(named["retry-after"]) if "retry-after" in named else None
            entry = (arrived, time.monotonic(), what, int(status.split()[0]), retry_after)
            with self._lock:
                self.seen.append(entry)
            return start_response(status, headers, exc_info)

        return self.app(environ, recording)


def test_429_retry_after_is_honoured_and_no_order_is_lost_or_repeated(
    tap_output: tuple[Path, Sandbox], tmp_path: Path
) -> None:
    """One request per 2 s window: every other request of the run is answered 429 with a
    Retry-After of 1 or 2 s. The target sends nothing before that time has passed, retries,
    and ends with each order sent once; no create answered 429 stored anything."""
    messages, bc = tap_output
    sandbox = ShipStationV2Sandbox(API_KEY, rate_limit=1, rate_limit_window_seconds=2.0)
    timings = Timings(sandbox.app.wsgi_app)
    sandbox.app.wsgi_app = timings  # type: ignore[method-assign]
    with sandbox as ss:
        settings = _settings(bc, tmp_path, ss, max_concurrency=1)

        returncode = _run(tmp_path, settings, messages, "limited")

        assert returncode == 0, _stderr(tmp_path, "limited")
        seen = sorted(entry for entry in timings.seen if "/_sandbox/" not in entry[2])
        refused = [i for i, entry in enumerate(seen) if entry[3] == 429]
        assert any(seen[i][2] == f"POST {SHIPMENTS}" for i in refused), "a create met a 429"
        for i in refused:
            _, answered, what, _, retry_after = seen[i]
            assert retry_after is not None and retry_after >= 1
            assert i + 1 < len(seen), f"{what} was never tried again"
            waited = seen[i + 1][0] - answered
            assert waited >= retry_after, (
                f"request {i + 2} came {waited:.3f} s after the 429 to {what},"
                f" which said Retry-After: {retry_after:g}"
            )
        accepted = creates_per_key(ss.requests, {200})
        assert set(accepted) == set(_stored(ss)) and max(accepted.values()) == 1
        _check_exactly_once(ss, settings["ledger_url"], "under the rate limit")
