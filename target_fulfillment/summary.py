"""The run summary a seller reads on stderr: what was sent, held and why, shipped, failed."""

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
    "skipped",
    "cancelled",
    "shipped",
    "written_back",
    "failed",
    "reported",
)


@dataclass
class RunSummary:
    """Counters and notes, safe to update from the submit threads."""

    dry_run: bool = False
    counts: Counter = field(default_factory=Counter)
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

    def render(self, all_holds: dict[str, str]) -> str:
        """The summary text; ``all_holds`` lists every order on hold, not just this run's."""
        title = "target-fulfillment run summary" + (
            " (dry run: nothing sent)" if self.dry_run else ""
        )
        lines = [title]
        lines += [f"  {outcome:<13}{self.counts.get(outcome, 0):>7}" for outcome in OUTCOMES]
        if all_holds:
            lines.append(f"  orders on hold ({len(all_holds)}):")
            shown = sorted(all_holds.items())[:MAX_HOLDS_LISTED]
            lines += [f"    {key}: {reason}" for key, reason in shown]
            if len(all_holds) > len(shown):
                lines.append(
                    f"    ... and {len(all_holds) - len(shown)} more: "
                    "target-fulfillment-admin holds lists them all"
                )
        for heading, notes in (("failed", self.failures), ("needs attention", self.reports)):
            if notes:
                lines.append(f"  {heading} ({len(notes)}):")
                lines += [f"    {key}: {note}" for key, note in sorted(notes.items())]
        return "\n".join(lines)
