"""singer-sdk's own target test suite. Its streams are none of tap-bigcartel's, so they exercise
the target's Singer handling (schemas, records, state, odd inputs) and its promise to ignore
streams it does not use without error or side effect."""

from __future__ import annotations

import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class

from target_fulfillment.target import TargetFulfillment

_WORKDIR = Path(tempfile.mkdtemp(prefix="target-sdk-tests-"))

TestTargetFulfillment = get_target_test_class(
    TargetFulfillment,
    config={
        "backend": "file",
        "ledger_url": f"sqlite:///{_WORKDIR / 'ledger.db'}",
        "file_outbox_dir": str(_WORKDIR / "outbox"),
        "file_inbox_dir": str(_WORKDIR / "inbox"),
    },
)
