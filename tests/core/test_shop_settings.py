"""The shop settings both plugins declare: one declaration, the same in each plugin's --about."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from bigcartel_core.settings import shop_settings

SHOP_SETTINGS = ("access_token", "account_id", "subdomain", "password", "accounts", "api_url")


def _about(program: str) -> dict[str, t.Any]:
    done = subprocess.run(
        [str(Path(sys.executable).with_name(program)), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    properties: dict[str, t.Any] = json.loads(done.stdout)["settings"]["properties"]
    return properties


@pytest.mark.parametrize("program", ["tap-bigcartel", "target-fulfillment"])
def test_each_plugin_declares_the_shop_settings_with_their_secrets_marked(program: str) -> None:
    properties = _about(program)
    for name in SHOP_SETTINGS:
        assert properties[name] == shop_settings("any")[name], name
    for name in ("access_token", "password"):
        assert properties[name]["secret"] is True, name
    accounts = properties["accounts"]["items"]
    assert accounts["properties"]["access_token"]["secret"] is True


def test_the_user_agent_default_names_each_plugin() -> None:
    assert "tap-bigcartel" in _about("tap-bigcartel")["user_agent"]["description"]
    assert "target-fulfillment" in _about("target-fulfillment")["user_agent"]["description"]
