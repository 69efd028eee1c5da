"""Run the fulfillment pipeline soon after orders change, instead of at the next schedule.

The trigger reads the store, never the receiver's requests, so the receiver keeps answering
fast. Order events still ``received`` are pending; once none has arrived for ``debounce``
seconds (a burst of changes becomes one run), or the oldest has waited ``max_wait`` seconds (a
steady stream still gets runs), the command runs once, and the events it covered are marked
``processed``, or ``failed`` with its exit status. Events that arrive during a run stay pending
and cause the next one. One trigger process runs one command at a time; run one trigger per
store. Triggered runs only add speed: the schedule still runs, and the target's ledger makes an
order sent twice impossible, so a run that overlaps a scheduled one does no harm.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bigcartel_core import timestamps
from bigcartel_core.webhook_store import WebhookEvent, WebhookStore

ORDER_TOPICS = "order."


@dataclass(frozen=True)
class TriggeredRun:
    """One run of the command, and the events it covered."""

    events: tuple[WebhookEvent, ...]
    returncode: int


class Trigger:
    def __init__(
        self,
        store: WebhookStore,
        command: Sequence[str],
        *,
        debounce: float = 10.0,
        max_wait: float = 120.0,
        topic: str = ORDER_TOPICS,
    ) -> None:
        if not command:
            raise ValueError("a command to run is required")
        if debounce < 0 or max_wait < debounce:
            raise ValueError("need 0 <= debounce <= max_wait")
        self.store = store
        self.command = list(command)
        self.debounce = timedelta(seconds=debounce)
        self.max_wait = timedelta(seconds=max_wait)
        self.topic = topic

    def due(self, now: datetime) -> list[WebhookEvent]:
        """The pending events, if it is time to run for them; else nothing."""
        pending = self.store.list_events(topic=self.topic, status="received")
        if not pending:
            return []
        quiet = now - max(event.received_at for event in pending) >= self.debounce
        waited = now - min(event.received_at for event in pending) >= self.max_wait
        return pending if quiet or waited else []

    def run_once(self, now: datetime | None = None) -> TriggeredRun | None:
        """Run the command if events are due; mark them with the outcome."""
        events = self.due(now or timestamps.now())
        if not events:
            return None
        returncode = subprocess.run(self.command, check=False).returncode
        for event in events:
            if returncode == 0:
                self.store.mark_processed(event.id)
            else:
                self.store.mark_failed(event.id, f"triggered run exited with status {returncode}")
        return TriggeredRun(tuple(events), returncode)

    def run_forever(self, poll_seconds: float) -> None:
        while True:
            self.run_once()
            time.sleep(poll_seconds)
