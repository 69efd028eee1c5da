"""The shop settings both plugins declare: one declaration, the same in each plugin's --about."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from bigcartel_core.settings import config_secrets, shop_settings
from tap_bigcartel.tap import TapBigCartel
from target_fulfillment.target import TargetFulfillment

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


def test_the_user_agent_default_names_each_plugin_and_where_a_contact_goes() -> None:
    for program in ("tap-bigcartel", "target-fulfillment"):
        description = _about(program)["user_agent"]["description"]
        assert f"{program}/<version>" in description
        assert "set your own contact here" in description
        assert "[project.urls]" in description
        assert "github.com" not in description


def test_config_secrets_finds_marked_values_at_any_depth_and_url_passwords() -> None:
    schema = {
        "properties": {
            "token": {"type": "string", "secret": True},
            "name": {"type": "string"},
            "db": {"type": "string", "secret": True},
            "accounts": {
                "type": "array",
                "items": {
                    "properties": {"account_id": {}, "access_token": {"secret": True}},
                },
            },
        }
    }
    config = {
        "token": "t-1",
        "name": "not-a-secret",
        "db": "postgresql://u:p%40ss@host/db",
        "accounts": [{"account_id": "1", "access_token": "a-1"}, {"account_id": "2"}],
    }
    assert config_secrets(config, schema) == ("t-1", "postgresql://u:p%40ss@host/db", "p@ss", "a-1")


@pytest.mark.parametrize(
    ("plugin", "credentials"),
    [
        (TapBigCartel, {"access_token", "password", "webhook_db_url"}),
        (
            TargetFulfillment,
            {
                "access_token",
                "password",
                "webhook_db_url",
                "shipstation_api_key",
                "shipstation_api_secret",
                "shipstation_v2_api_key",
            },
        ),
    ],
)
def test_every_setting_a_plugin_marks_secret_is_scrubbed(
    plugin: type[t.Any], credentials: set[str]
) -> None:
    schema = plugin.config_jsonschema
    marked = [name for name, prop in schema["properties"].items() if prop.get("secret")]
    assert set(marked) >= credentials
    # Database URLs must parse even unvalidated: the target checks them when it is built.
    config = {
        name: f"sqlite:///value-of-{name}" if name.endswith("_url") else f"value-of-{name}"
        for name in marked
    }
    expected = set(config.values()) | {"token-in-accounts"}
    config["accounts"] = [{"account_id": "1", "access_token": "token-in-accounts"}]
    # What the plugin scrubs at run time, not only what config_secrets would find.
    found = plugin(config=config, validate_config=False).secrets
    assert set(found) >= expected
