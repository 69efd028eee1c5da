"""Issue 9: one bad record must never stop fulfillment, nor wedge the next run.

Every test runs the real target process on Singer messages built in ``bad_records``: bad orders
are held with a reason naming the field and value, records that cannot be keyed are rejected
(``Ledger.rejected()``), catalog records that PostgreSQL refused no longer abort the sink, and
the good orders, shipments and write-back go on. Exit codes tell the truth, config mistakes are
named, and no customer data reaches the logs.

Checks that concern one input collect their problems and fail once, listing them all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import bad_records as br
import pipeline
import pytest
from pipeline import PipelineRun

from bigcartel_core import jsonapi
from bigcartel_sandbox import Sandbox, SandboxConfig
from shipstation_sandbox import ShipStationSandbox
from shipstation_sandbox.validation import ValidationError
from target_fulfillment.ledger import Ledger

ADMIN = [sys.executable, "-m", "target_fulfillment.admin"]
SS_KEY, SS_SECRET = "ss-key-bad-data", "ss-secret-bad-data"
TRACEBACK = "Traceback (most recent call last)"
GOOD = 40


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[t.Any]:
        return PipelineRun(0, self.returncode, {}, self.stderr, self.stdout).states

    def tail(self) -> str:
        """The end of stderr: the last exception line, or the run summary."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return "\n".join(lines[-12:])[-1500:]


def run_target(workdir: Path, config: dict[str, t.Any], messages: list[dict]) -> Run:
    """The target process in ``workdir``, fed messages (``pipeline.run_target``)."""
    done = pipeline.run_target(workdir, config, messages)
    return Run(done.target_returncode, done.stdout, done.stderr)


def admin_holds(workdir: Path) -> subprocess.CompletedProcess[str]:
    """``target-fulfillment-admin --config target.json holds``."""
    return subprocess.run(
        [*ADMIN, "--config", str(workdir / "target.json"), "holds"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=workdir,
    )


def file_config(workdir: Path, ledger_url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "ledger_url": ledger_url,
        "file_outbox_dir": str(workdir / "outbox"),
        "file_inbox_dir": str(workdir / "inbox"),
        "origin_country": "US",
        **extra,
    }


def sent_documents(workdir: Path) -> dict[str, dict]:
    """The order files in the file backend's outbox, by key."""
    outbox = workdir / "outbox"
    return {
        path.name.removesuffix(".json"): json.loads(path.read_bytes().decode("utf-8"))
        for path in sorted(outbox.glob("bigcartel-*.json"))
        if not path.name.endswith(".cancel.json")
    }


def leaks(text: str, extra: t.Iterable[str] = ()) -> list[str]:
    """The customer data markers found in ``text``."""
    return [marker for marker in (*br.PRIVATE_MARKERS, *extra) if marker and marker in text]


def rejected_of(ledger: Ledger) -> list[t.Any] | None:
    """``Ledger.rejected()``, or None where the ledger has no such method (today's code)."""
    method = getattr(ledger, "rejected", None)
    return None if method is None else list(method())


def shown_as(shown: str, value: str) -> bool:
    """Whether a printable id from ``rejected()`` shows ``value``, plain or quoted."""
    return shown == value or shown == json.dumps(value)


def printable_prefix(value: str | None, length: int = 20) -> str:
    """The start of ``value`` up to its first unprintable character: what any display keeps."""
    prefix = []
    for char in (value or "")[:length]:
        if not char.isprintable():
            break
        prefix.append(char)
    return "".join(prefix)


def find_rejected(rejected: list[t.Any], bad: br.BadInput) -> list[t.Any]:
    """Rejected entries matching the input: its stream, account and (printable) id prefix."""
    prefix = printable_prefix(bad.order_id, 4)
    return [
        entry
        for entry in rejected
        if entry.stream == "orders"
        and shown_as(entry.account_id, bad.account_id)
        and (not prefix or prefix in entry.record_id)
    ]


def outcome_problems(
    bad: br.BadInput,
    ledger: Ledger,
    rejected: list[t.Any] | None,
    sent: dict[str, dict],
    stderr: str,
) -> list[str]:
    """What the target got wrong about one bad input, after a run."""
    problems: list[str] = []
    sent_pairs = {(doc.get("account_id"), doc.get("order_id")) for doc in sent.values()}
    if bad.outcome == "held":
        entry = ledger.get(bad.account_id, bad.order_id or "")
        if bad.may_be_sent and bad.key in sent:
            if entry is None or entry.state != "submitted":
                problems.append(f"{bad.name}: sent, but its ledger state is not submitted")
            return problems
        if (bad.account_id, bad.order_id) in sent_pairs:
            problems.append(f"{bad.name}: sent to the warehouse")
        if entry is None or entry.state != "held":
            state = entry.state if entry else "no ledger row"
            problems.append(f"{bad.name}: {state}, expected held")
            return problems
        reason = entry.hold_reason or ""
        missing = [part for part in bad.reason_has if part not in reason]
        if missing:
            problems.append(f"{bad.name}: hold reason {reason!r} does not name {missing}")
        if bad.key not in stderr:
            problems.append(f"{bad.name}: {bad.key} is not listed in the run summary")
    elif bad.outcome == "rejected":
        if bad.order_id is None:
            was_sent = any(account == bad.account_id for account, _ in sent_pairs)
        else:
            was_sent = (bad.account_id, bad.order_id) in sent_pairs
        if was_sent:
            problems.append(f"{bad.name}: sent to the warehouse")
        if bad.order_id is not None and ledger.get(bad.account_id, bad.order_id) is not None:
            problems.append(f"{bad.name}: has a ledger order row, expected none")
        if rejected is None:
            problems.append(f"{bad.name}: Ledger.rejected() does not exist")
        else:
            found = find_rejected(rejected, bad)
            if len(found) != 1:
                problems.append(f"{bad.name}: {len(found)} matching entries in rejected()")
            for entry in found:
                fields = (entry.stream, entry.account_id, entry.record_id, entry.reason)
                if not all(isinstance(value, str) for value in fields):
                    problems.append(f"{bad.name}: rejected() fields are not all str: {fields}")
                elif not (entry.record_id.isprintable() and entry.account_id.isprintable()):
                    problems.append(f"{bad.name}: rejected() ids are not printable")
                elif len(bad.order_id or "") > 128 and len(entry.record_id) >= len(bad.order_id):
                    problems.append(f"{bad.name}: rejected() record_id is not truncated")
                elif not entry.reason:
                    problems.append(f"{bad.name}: rejected() gives no reason")
    return problems


def run_problems(run: Run, *, state: dict | None = None, extra_private: t.Iterable[str] = ()):
    """Exit code, the STATE emitted after the input, no traceback, no customer data."""
    problems = []
    if run.returncode != 0:
        problems.append(f"exit code {run.returncode}; stderr ends: {run.tail()}")
    if state is not None and state not in run.states:
        problems.append(f"STATE {state} not emitted (emitted: {run.states[-1:]})")
    if TRACEBACK in run.stderr:
        problems.append("a Python traceback in stderr")
    if found := leaks(run.stderr, extra_private):
        problems.append(f"customer data in stderr: {found}")
    return problems


def good_keys(count: int) -> set[str]:
    return {br.order_key(br.ACCOUNT, br.good_order_id(i)) for i in range(count)}


# The matrix: every bad input alongside 40 good orders, in one run.


@pytest.mark.timeout(120)
def test_bad_orders_are_held_and_the_good_ones_sent(db_url: str, tmp_path: Path) -> None:
    catalogue = br.catalogue()
    extra_good = [br.partial_shipment_order(), br.order(br.LONGEST_ID, index=560)]
    messages = [
        *br.base_messages(br.good_orders(GOOD)),
        *(br.record_message("orders", record) for record in extra_good),
        *(message for bad in catalogue for message in bad.messages()),
        br.state_message("after-the-matrix"),
    ]
    config = file_config(tmp_path, db_url)
    first = run_target(tmp_path, config, messages)
    problems = run_problems(first, state=br.state_message("after-the-matrix")["value"])
    if first.returncode == 0 and "needs attention" not in first.stderr:
        problems.append('held orders are not listed under "needs attention"')

    sent = sent_documents(tmp_path)
    expected = good_keys(GOOD) | {br.order_key(br.ACCOUNT, o["id"]) for o in extra_good}
    if missing := expected - set(sent):
        problems.append(f"{len(missing)} of {len(expected)} good orders not sent")
    allowed = expected | {bad.key for bad in catalogue if bad.may_be_sent}
    if unexpected := set(sent) - allowed:
        problems.append(f"sent, but bad: {sorted(unexpected)}")
    ledger = Ledger(db_url)
    try:
        rejected = rejected_of(ledger)
        for bad in catalogue:
            problems += outcome_problems(bad, ledger, rejected, sent, first.stderr)
        held = [bad for bad in catalogue if bad.outcome == "held" and bad.key not in sent]
        holds = admin_holds(tmp_path)
        if holds.returncode != 0:
            problems.append(f"admin holds failed: {holds.stderr[-1000:]}")
        else:
            unlisted = [bad.name for bad in held if (bad.order_id or "") not in holds.stdout]
            for bad in br.rejected_records():
                shown = printable_prefix(bad.order_id)
                if bad.account_id not in holds.stdout or shown not in holds.stdout:
                    unlisted.append(bad.name)
            if unlisted:
                problems.append(f"admin holds does not list {unlisted}")

        # The next run, on empty input and on a STATE alone, succeeds and sends nothing new.
        alone = br.state_message("alone")
        for label, again in (("empty input", []), ("a STATE alone", [alone])):
            rerun = run_target(tmp_path, config, again)
            expect = alone["value"] if again else None
            problems += [f"{label}: {p}" for p in run_problems(rerun, state=expect)]
            if set(sent_documents(tmp_path)) != set(sent):
                problems.append(f"{label}: the outbox changed")

        # The tap sends the same records again: same outcome, rejections not duplicated.
        before = len(rejected) if rejected is not None else 0
        resent = run_target(tmp_path, config, messages)
        problems += [f"re-sent input: {p}" for p in run_problems(resent)]
        after = rejected_of(ledger)
        if after is not None and len(after) != before:
            problems.append(f"re-sent input: rejected() grew from {before} to {len(after)}")
        if set(sent_documents(tmp_path)) != set(sent):
            problems.append("re-sent input: the outbox changed")
    finally:
        ledger.close()
    assert not problems, "\n".join(problems)


# Each bad input alone, beside a few good orders (SQLite; the crash loops run on both below).


@pytest.mark.parametrize(
    "bad", [b for b in br.catalogue() if not b.postgres_crash], ids=lambda bad: bad.name
)
def test_a_bad_input_stops_nothing(bad: br.BadInput, sqlite_url: str, tmp_path: Path) -> None:
    config = file_config(tmp_path, sqlite_url)
    state = br.state_message(f"after-{bad.name}")
    first = run_target(
        tmp_path, config, [*br.base_messages(br.good_orders(5)), *bad.messages(), state]
    )
    problems = run_problems(first, state=state["value"])
    sent = sent_documents(tmp_path)
    if missing := good_keys(5) - set(sent):
        problems.append(f"good orders not sent: {sorted(missing)}")
    ledger = Ledger(sqlite_url)
    try:
        problems += outcome_problems(bad, ledger, rejected_of(ledger), sent, first.stderr)
    finally:
        ledger.close()
    second = run_target(tmp_path, config, [])
    problems += [f"next run (empty input): {p}" for p in run_problems(second)]
    assert not problems, "\n".join(problems)


# The records the issue names as PostgreSQL-only crash loops, on both databases.


@pytest.mark.parametrize(
    "bad", [b for b in br.catalogue() if b.postgres_crash], ids=lambda bad: bad.name
)
def test_a_record_postgres_refused_does_not_loop(
    bad: br.BadInput, db_url: str, tmp_path: Path
) -> None:
    config = file_config(tmp_path, db_url)
    state = br.state_message(f"after-{bad.name}")
    messages = [*br.base_messages(br.good_orders(5)), *bad.messages(), state]
    first = run_target(tmp_path, config, messages)
    problems = run_problems(first, state=state["value"])
    sent = sent_documents(tmp_path)
    if missing := good_keys(5) - set(sent):
        problems.append(f"good orders not sent: {sorted(missing)}")
    ledger = Ledger(db_url)
    try:
        problems += outcome_problems(bad, ledger, rejected_of(ledger), sent, first.stderr)
        before = rejected_of(ledger)
        # Without the STATE the tap would send the record again; with it, it may still.
        second = run_target(tmp_path, config, messages)
        problems += [f"record sent again: {p}" for p in run_problems(second, state=state["value"])]
        after = rejected_of(ledger)
        if before is not None and after is not None and len(after) != len(before):
            problems.append(f"rejected() grew from {len(before)} to {len(after)} on a resend")
    finally:
        ledger.close()
    assert not problems, "\n".join(problems)


# Keys


def test_order_keys_cannot_collide(sqlite_url: str, tmp_path: Path) -> None:
    """Account 10 order 01-X is sent as bigcartel-10-01-X; account "10-01" order X is rejected."""
    valid = br.order(br.COLLISION_VALID_ORDER, account_id=br.COLLISION_VALID_ACCOUNT, index=570)
    invalid = br.order(br.COLLISION_ORDER, account_id=br.COLLISION_ACCOUNT, index=571)
    messages = [
        *br.schema_messages(),
        br.record_message("products", br.product(account_id=br.COLLISION_VALID_ACCOUNT)),
        br.record_message("products", br.product(account_id=br.COLLISION_ACCOUNT)),
        br.record_message("orders", invalid),
        br.record_message("orders", valid),
    ]
    run = run_target(tmp_path, file_config(tmp_path, sqlite_url), messages)
    assert run.returncode == 0, run.tail()
    sent = sent_documents(tmp_path)
    assert set(sent) == {"bigcartel-10-01-X"}
    assert (sent["bigcartel-10-01-X"]["account_id"], sent["bigcartel-10-01-X"]["order_id"]) == (
        br.COLLISION_VALID_ACCOUNT,
        br.COLLISION_VALID_ORDER,
    )
    assert re.search(r"skipped\s+0\b", run.stderr), "the rejected order is not a skip"
    ledger = Ledger(sqlite_url)
    assert ledger.get(br.COLLISION_VALID_ACCOUNT, br.COLLISION_VALID_ORDER).state == "submitted"
    assert ledger.get(br.COLLISION_ACCOUNT, br.COLLISION_ORDER) is None
    rejected = rejected_of(ledger)
    assert rejected is not None, "Ledger.rejected() does not exist"
    [entry] = [
        r for r in rejected if r.stream == "orders" and shown_as(r.account_id, br.COLLISION_ACCOUNT)
    ]
    assert shown_as(entry.record_id, br.COLLISION_ORDER)
    assert entry.reason


def test_a_line_already_shipped_is_left_out(sqlite_url: str, tmp_path: Path) -> None:
    partial = br.partial_shipment_order()
    messages = [*br.base_messages([]), br.record_message("orders", partial)]
    run = run_target(tmp_path, file_config(tmp_path, sqlite_url), messages)
    assert run.returncode == 0, run.tail()
    [document] = sent_documents(tmp_path).values()
    assert [(i["line_item_key"], i["quantity"]) for i in document["items"]] == [("5602", 2)]


# Shipments and write-back go on beside bad records.


def emulator_order(bc: Sandbox) -> dict[str, t.Any]:
    """A new paid, unshipped order in the Big Cartel emulator, as tap-bigcartel emits it."""
    shop = bc.shops[0]
    order_id = bc.store.create_order(shop.account_id)
    document = bc.store.document(shop.account_id, "orders", order_id, bc.url)
    return {**next(jsonapi.records(document)), "account_id": shop.account_id}


def write_back_config(bc: Sandbox, workdir: Path, ledger_url: str, record: dict) -> dict:
    overrides = {str(i["product"]["id"]): f"WB-{i['product']['id']}" for i in record["items"]}
    return file_config(
        workdir,
        ledger_url,
        api_url=bc.url,
        accounts=[{"account_id": s.account_id, "access_token": s.access_token} for s in bc.shops],
        sku_overrides=overrides,
    )


def confirm_shipment(workdir: Path, document: dict, tracking: str) -> None:
    """The warehouse drops a shipment confirmation for every line of an order file."""
    confirmation = {
        "format": "bigcartel-fulfillment/shipment@1",
        "order_key": document["key"],
        "carrier": "ups",
        "tracking_number": tracking,
        "shipped_at": "2026-11-20T10:00:00Z",
        "items": [
            {"line_item_key": i["line_item_key"], "quantity": i["quantity"]}
            for i in document["items"]
        ],
    }
    inbox = workdir / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"shipment-{tracking}.json").write_text(json.dumps(confirmation))


def customer_data(record: dict) -> list[str]:
    fields = ("customer_first_name", "customer_last_name", "customer_email", "shipping_address_1")
    return [str(record[f]) for f in fields if record.get(f)]


@pytest.fixture
def bc() -> t.Iterator[Sandbox]:
    with Sandbox(SandboxConfig(shops=1, orders_per_shop=0, products_per_shop=3, seed=9)) as sb:
        yield sb


def test_shipments_are_written_back_in_a_run_with_bad_records(
    bc: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    record = emulator_order(bc)
    config = write_back_config(bc, tmp_path, sqlite_url, record)
    private = customer_data(record)
    held, others = br.held_orders(), [*br.rejected_records(), *br.catalog_records()]
    first = run_target(
        tmp_path,
        config,
        [
            *br.base_messages(br.good_orders(10)),
            br.record_message("orders", record),
            *(message for bad in held for message in bad.messages()),
            br.state_message("first"),
        ],
    )
    problems = run_problems(first, state=br.state_message("first")["value"], extra_private=private)
    assert not problems, "\n".join(problems)
    key = br.order_key(record["account_id"], record["id"])
    sent = sent_documents(tmp_path)
    assert key in sent and good_keys(10) <= set(sent)

    # The warehouse ships it; the next run carries bad records the target has never seen.
    confirm_shipment(tmp_path, sent[key], "1ZBADDATA1")
    second = run_target(
        tmp_path,
        config,
        [
            *br.schema_messages(),
            *(message for bad in [br.surrogate_name(), *others] for message in bad.messages()),
            br.state_message("second"),
        ],
    )
    problems = run_problems(
        second, state=br.state_message("second")["value"], extra_private=private
    )
    assert not problems, "\n".join(problems)
    [shipment] = bc.store.shipments(record["account_id"], record["id"])
    assert (shipment["carrier"], shipment["tracking_number"]) == ("ups", "1ZBADDATA1")
    ledger = Ledger(sqlite_url)
    assert ledger.get(record["account_id"], record["id"]).state == "written_back"


# Exit codes


def test_a_write_back_refused_fails_the_run_by_name(
    bc: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    record = emulator_order(bc)
    config = write_back_config(bc, tmp_path, sqlite_url, record)
    held = br.record_message("orders", br.unknown_product_order())
    first = run_target(
        tmp_path, config, [*br.base_messages([]), br.record_message("orders", record), held]
    )
    assert first.returncode == 0, "a held order does not fail the run: " + first.tail()
    key = br.order_key(record["account_id"], record["id"])
    confirm_shipment(tmp_path, sent_documents(tmp_path)[key], "1ZREFUSED")
    bc.faults.fail_next(20, status=400)
    second = run_target(tmp_path, config, [])
    assert second.returncode != 0, "a failed write-back must fail the run"
    assert key in second.stderr
    assert TRACEBACK not in second.stderr
    assert not leaks(second.stderr, customer_data(record))
    assert bc.store.shipments(record["account_id"], record["id"]) == []


def test_a_send_refused_fails_the_run_by_name(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = {br.order_key(br.ACCOUNT, br.good_order_id(i)) for i in (1, 3)}
    with ShipStationSandbox(api_key=SS_KEY, api_secret=SS_SECRET) as ss:
        create = ss.store.create_or_update

        def refuse_some(payload: t.Any) -> dict[str, t.Any]:
            if isinstance(payload, dict) and payload.get("orderKey") in refused:
                raise ValidationError({"items[0].sku": ["Refused by the test."]})
            return create(payload)

        monkeypatch.setattr(ss.store, "create_or_update", refuse_some)
        config = {
            "backend": "shipstation",
            "shipstation_api_url": ss.url,
            "shipstation_api_key": SS_KEY,
            "shipstation_api_secret": SS_SECRET,
            "ledger_url": sqlite_url,
            "origin_country": "US",
        }
        held = br.record_message("orders", br.unknown_product_order())
        run = run_target(tmp_path, config, [*br.base_messages(br.good_orders(6)), held])
        accepted = {order["orderKey"] for order in ss.store.orders()}
    assert accepted == good_keys(6) - refused
    assert run.returncode != 0, "orders refused by the warehouse must fail the run"
    for key in refused:
        assert key in run.stderr
    assert TRACEBACK not in run.stderr
    assert not leaks(run.stderr)


def test_holds_and_rejections_alone_exit_zero(sqlite_url: str, tmp_path: Path) -> None:
    bad = [br.held_orders()[0], br.rejected_records()[0]]
    messages = [*br.base_messages([]), *(m for b in bad for m in b.messages())]
    run = run_target(tmp_path, file_config(tmp_path, sqlite_url), messages)
    assert run.returncode == 0, run.tail()
    assert "needs attention" in run.stderr
    assert bad[0].key in run.stderr


# Config mistakes are named, without a traceback.


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"ledger_uri": "sqlite:///elsewhere.db"}, ("ledger_uri", "ledger_url")),
        ({"max_concurrency": 0}, ("max_concurrency",)),
        ({"request_timeout": -1}, ("request_timeout",)),
        ({"shipstation_rate_limit_max_wait": -1}, ("shipstation_rate_limit_max_wait",)),
        ({"origin_country": "USA"}, ("origin_country",)),
        ({"ledger_url": "not a url"}, ("ledger_url",)),
    ],
    ids=[
        "ledger_uri",
        "max_concurrency",
        "request_timeout",
        "shipstation_rate_limit_max_wait",
        "origin_country",
        "ledger_url",
    ],
)
def test_a_config_mistake_is_named(
    change: dict[str, t.Any], named: tuple[str, ...], tmp_path: Path
) -> None:
    config = {
        "file_outbox_dir": str(tmp_path / "outbox"),
        "file_inbox_dir": str(tmp_path / "inbox"),
        "origin_country": "US",
        **change,
    }
    if "ledger_url" not in change:
        config["ledger_url"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    if "ledger_uri" in change:
        del config["ledger_url"]
    run = run_target(tmp_path, config, [*br.base_messages(br.good_orders(2))])
    assert run.returncode != 0, f"{change} was accepted"
    for name in named:
        assert name in run.stderr, f"stderr does not name {name}: {run.tail()}"
    assert TRACEBACK not in run.stderr, run.tail()
    assert not (tmp_path / "fulfillment").exists(), "fell back to the default ledger"
    assert not sent_documents(tmp_path), "sent orders despite the config mistake"
