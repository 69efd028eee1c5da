"""The run summary a seller reads on stderr: what was sent, held and why, shipped, failed.

Held orders and rejected records need a person but do not fail the run; a send or write-back
that failed after its retries does, and ``failure_line`` names each one.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

#: Holds listed in the summary; the admin CLI lists every one.
MAX_HOLDS_LISTED = 50

OUTCOMES = (
    "sent",
    "updated",
    "held",
    "rejected",
    "skipped",
    "cancelled",
    "shipped",
    "voided",
    "written_back",
    "failed",
    "reported",
)


@dataclass
class RunSummary:
    """Counters and notes, safe to update from the submit threads."""

    dry_run: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    holds: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str, key: str | None = None, note: str | None = None) -> None:
        with self._lock:
            self.counts[outcome] += 1
            if key is None or note is None:
                return
            target = {"held": self.holds, "failed": self.failures, "reported": self.reports}.get(
                outcome
            )
            if target is not None:
                target[key] = note

    def render(self, all_holds: dict[str, str], all_rejected: dict[str, str]) -> str:
        """The summary text; ``all_holds`` and ``all_rejected`` list every order on hold and
        every rejected record, not just this run's."""
        title = "target-fulfillment run summary" + (
            " (dry run: nothing sent)" if self.dry_run else ""
        )
        lines = [title]
        lines += [f"  {outcome:<13}{self.counts.get(outcome, 0):>7}" for outcome in OUTCOMES]
        for heading, listed in (
            ("needs attention, orders on hold", all_holds),
            ("needs attention, records rejected (kept, not sent)", all_rejected),
        ):
            if listed:
                lines.append(f"  {heading} ({len(listed)}):")
                shown = sorted(listed.items())[:MAX_HOLDS_LISTED]
                lines += [f"    {key}: {reason}" for key, reason in shown]
                if len(listed) > len(shown):
                    lines.append(
                        f"    ... and {len(listed) - len(shown)} more: "
                        "target-fulfillment-admin holds lists them all"
                    )
        for heading, notes in (("failed", self.failures), ("needs attention", self.reports)):
            if notes:
                lines.append(f"  {heading} ({len(notes)}):")
                lines += [f"    {key}: {note}" for key, note in sorted(notes.items())]
        return "\n".join(lines)

    def failure_line(self) -> str | None:
        """The last line of a run that must exit non-zero, naming every failed order; else None."""
        if not self.failures:
            return None
        keys = sorted(self.failures)
        return f"target-fulfillment: {len(keys)} order(s) failed after retries: {', '.join(keys)}"
