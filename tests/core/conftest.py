"""A small emulator shop for the core's HTTP and OAuth tests."""

from __future__ import annotations

import typing as t

import pytest
from core_helpers import CLIENT_ID, CLIENT_SECRET, Waits

from bigcartel_sandbox import Sandbox, SandboxConfig


@pytest.fixture
def sandbox() -> t.Iterator[Sandbox]:
    config = SandboxConfig(
        shops=2,
        orders_per_shop=5,
        products_per_shop=3,
        seed=11,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with Sandbox(config) as sb:
        yield sb


@pytest.fixture
def waits() -> Waits:
    return Waits()
