"""A small emulator shop for the tap's tests."""

from __future__ import annotations

import typing as t

import pytest

from bigcartel_sandbox import Sandbox, SandboxConfig


@pytest.fixture
def sandbox() -> t.Iterator[Sandbox]:
    with Sandbox(SandboxConfig(shops=2, orders_per_shop=120, products_per_shop=60, seed=7)) as sb:
        yield sb
