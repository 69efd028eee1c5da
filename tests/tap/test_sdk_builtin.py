"""singer-sdk's own tap test suite, against an emulator shop started for this module."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from bigcartel_sandbox import Sandbox, SandboxConfig
from tap_bigcartel.tap import TapBigCartel

# The SDK builds the test class from a config at import time, so the shop must already be up.
_SANDBOX = Sandbox(SandboxConfig(shops=2, orders_per_shop=40, products_per_shop=20, seed=21))
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

TestTapBigCartel = get_tap_test_class(
    TapBigCartel,
    config={
        "api_url": _SANDBOX.url,
        "accounts": [
            {"account_id": shop.account_id, "access_token": shop.access_token}
            for shop in _SANDBOX.shops
        ],
        "start_date": "2024-01-01T00:00:00Z",
    },
    suite_config=SuiteConfig(max_records_limit=500),
)
