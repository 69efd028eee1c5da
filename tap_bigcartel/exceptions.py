"""The tap's own error: the shops a run could not sync (the shared errors are bigcartel_core's)."""

from __future__ import annotations


class ShopsFailedError(RuntimeError):
    """Raised after every other shop has been synced, naming each shop that could not be."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = dict(failures)
        lines = "; ".join(f"account {acc}: {why}" for acc, why in sorted(self.failures.items()))
        super().__init__(f"{len(self.failures)} shop(s) could not be synced: {lines}")
