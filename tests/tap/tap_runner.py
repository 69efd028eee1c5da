"""Run tap-bigcartel in-process, as its CLI would, and collect what it emits."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import typing as t
from dataclasses import dataclass, field

from bigcartel_sandbox import Sandbox
from tap_bigcartel.tap import TapBigCartel


@dataclass
class TapRun:
    messages: list[dict]
    error: BaseException | None = None
    records: dict[str, list[dict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records.setdefault(message["stream"], []).append(message["record"])

    @property
    def state(self) -> dict:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def ids(self, stream: str) -> list[tuple[str, str]]:
        return [(r.get("account_id", ""), r["id"]) for r in self.records.get(stream, [])]


def fast_config(sandbox: Sandbox, **overrides: t.Any) -> dict[str, t.Any]:
    """Bearer auth for every sandbox shop, with retries quick enough for tests."""
    config: dict[str, t.Any] = {
        "api_url": sandbox.url,
        "accounts": [
            {"account_id": shop.account_id, "access_token": shop.access_token}
            for shop in sandbox.shops
        ],
        "backoff_factor": 0.01,
        "max_retry_wait": 0.05,
        "page_size": 25,
    }
    config.update(overrides)
    return config


def run_tap(
    config: dict[str, t.Any],
    state: dict | None = None,
    streams: t.Iterable[str] | None = None,
) -> TapRun:
    """Run the tap in-process, as its CLI would (``sync_all``, then ``report_shops``), and parse
    its stdout."""
    # The SDK updates the state it is given in place; the caller's copy stays as it was.
    tap = TapBigCartel(config=config, state=copy.deepcopy(state), validate_config=True)
    if streams is not None:
        wanted = set(streams)
        for stream in tap.streams.values():
            stream.selected = stream.name in wanted
    out = io.StringIO()
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
            tap.report_shops()
        except Exception as exc:  # the test inspects it
            error = exc
    messages = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return TapRun(messages, error)
