"""The tap keeps singer-sdk's contract: no final method overridden, no private member either, and
the one thing it relies on that the SDK does not promise (a log message) checked here."""

from __future__ import annotations

import ast
import inspect
import json
import logging
import typing as t
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap
from tap_runner import fast_config, run_tap
from webhook_events import deliver, store_url

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_sandbox import Sandbox
from tap_bigcartel import client
from tap_bigcartel.client import BigCartelStream, PagerPaginator
from tap_bigcartel.exceptions import ShopsFailedError
from tap_bigcartel.streams import STREAM_TYPES
from tap_bigcartel.tap import TapBigCartel
from tap_bigcartel.writer import StateFlushingWriter

OURS = (TapBigCartel, BigCartelStream, *STREAM_TYPES, StateFlushingWriter, PagerPaginator)


def _sdk_bases(cls: type) -> list[type]:
    return [base for base in cls.__mro__ if base.__module__.startswith("singer_sdk")]


def _own_names(cls: type) -> set[str]:
    """Names our classes in ``cls``'s MRO define themselves."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base.__module__.startswith("tap_bigcartel"):
            names |= set(vars(base))
    return names


@pytest.mark.parametrize("cls", OURS, ids=lambda cls: cls.__name__)
def test_no_final_sdk_method_is_overridden(cls: type) -> None:
    overridden = sorted(
        name
        for base in _sdk_bases(cls)
        for name, member in vars(base).items()
        if getattr(inspect.unwrap(getattr(member, "__func__", member)), "__final__", False)
        and name in _own_names(cls)
    )
    assert overridden == []


@pytest.mark.parametrize("cls", OURS, ids=lambda cls: cls.__name__)
def test_no_private_sdk_member_is_overridden(cls: type) -> None:
    sdk_names = {name for base in _sdk_bases(cls) for name in vars(base)}
    private = sorted(
        name
        for name in _own_names(cls) & sdk_names
        if name.startswith("_")
        and not (name.startswith("__") and name.endswith("__"))
        and name != "_abc_impl"  # every subclass of an abc.ABC gets its own
    )
    assert private == []


def test_the_sdk_still_marks_sync_all_final() -> None:
    """Why the failed shops are reported from ``invoke``: if the SDK ever frees ``sync_all``,
    reporting there again would be simpler."""
    assert getattr(Tap.sync_all, "__final__", False)


def test_the_cli_fails_naming_the_failed_shop(sandbox: Sandbox, tmp_path: Path) -> None:
    """In process, through the SDK's click command: ``invoke`` reports after ``sync_all``."""
    revoked = sandbox.shops[0]
    sandbox.store.revoke_token(revoked.account_id)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(fast_config(sandbox)))
    command = TapBigCartel.cli
    with pytest.raises(ShopsFailedError) as failed:
        command.main(["--config", str(config_file)], standalone_mode=False)
    assert set(failed.value.failures) == {revoked.account_id}


def _null_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "singer_sdk" and "replication value is null" in record.getMessage()
    ]


def test_delete_records_log_no_null_bookmark_warning_and_the_sdk_still_words_it_so(
    sandbox: Sandbox,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = WebhookStore(sqlite_url)
    shop = sandbox.shops[0].account_id
    for product_id in ("gone-1", "gone-2"):
        deliver(store, shop, "product.deleted", {"id": product_id})
    config: dict[str, t.Any] = fast_config(
        sandbox, webhook_db_url=store_url(store), webhook_settle_seconds=0
    )
    try:
        with caplog.at_level(logging.WARNING):
            run = run_tap(config, streams=["products"])
        assert run.error is None
        assert [r["id"] for r in run.records["products"] if r.get("_sdc_deleted_at")] == [
            "gone-1",
            "gone-2",
        ]
        assert _null_warnings(caplog) == []

        # Without the filter the SDK logs exactly the words it filters: if this fails, the SDK
        # changed its message and client.NULL_REPLICATION_WARNING must follow.
        caplog.clear()
        monkeypatch.setattr(client, "NULL_REPLICATION_WARNING", "(filter off)")
        with caplog.at_level(logging.WARNING):
            run_tap(config, streams=["products"])
        assert _null_warnings(caplog) == ["New replication value is null"] * 2
    finally:
        store.close()


def test_no_private_sdk_member_is_used() -> None:
    """No ``self._x`` / ``super()._x`` in the tap where ``_x`` is a private SDK member (the
    stream used to drive ``RESTStream._request`` from a copy of the SDK's request loop)."""
    sdk_private = {
        name
        for cls in OURS
        for base in _sdk_bases(cls)
        for name in vars(base)
        if name.startswith("_") and not name.startswith("__")
    }
    used = set()
    for path in Path(client.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in sdk_private:
                used.add(f"{path.name}: {node.attr}")
    assert sorted(used) == []


def test_the_one_private_sdk_member_read_is_streams_tap(sandbox: Sandbox) -> None:
    """``BigCartelStream.tap`` reads the SDK's private ``Stream._tap``, there only: the SDK still
    takes the tap as ``Stream.__init__``'s first argument and keeps it there."""
    reads = [
        f"{path.name}:{node.lineno}"
        for path in Path(client.__file__).parent.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "_tap"
    ]
    assert len(reads) == 1 and reads[0].startswith("client.py:"), reads
    assert list(inspect.signature(Stream.__init__).parameters)[:2] == ["self", "tap"]
    tap = TapBigCartel(config=fast_config(sandbox))
    for stream in tap.streams.values():
        assert stream._tap is tap
        assert t.cast("BigCartelStream", stream).tap is tap
