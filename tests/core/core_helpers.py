"""Helpers for the core's tests: a policy whose waits are recorded instead of slept."""

from __future__ import annotations

import random
import typing as t
from dataclasses import dataclass, field

from bigcartel_core.http import RetryPolicy

CLIENT_ID = "core-test-client"
CLIENT_SECRET = "core-test-secret-never-shown"
USER_AGENT = "core-tests/1 (+https://example.com/contact)"


@dataclass
class Waits:
    """Stands in for ``time.sleep``: records each wait, and runs ``then`` at the first."""

    seen: list[float] = field(default_factory=list)
    then: t.Callable[[], None] | None = None

    def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)
        if self.then is not None:
            then, self.then = self.then, None
            then()


def recording_policy(waits: Waits, **overrides: t.Any) -> RetryPolicy:
    settings: dict[str, t.Any] = {
        "max_retries": 3,
        "backoff_factor": 1.0,
        "max_wait": 10.0,
        "rng": random.Random(5),
    }
    settings.update(overrides)
    return RetryPolicy(sleep=waits, **settings)
