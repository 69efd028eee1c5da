"""Shops from settings: every mistake named by its setting, no secret in a repr."""

from __future__ import annotations

import pytest

from bigcartel_core.auth import BearerAuth, shops_from_config
from bigcartel_core.errors import ConfigError, redact


def test_bearer_auth_never_shows_its_token() -> None:
    auth = BearerAuth("very-secret-token")
    assert "very-secret-token" not in repr(auth)
    [shop] = shops_from_config({"access_token": "very-secret-token"})
    assert "very-secret-token" not in repr(shop)


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({}, "access_token"),
        ({"access_token": "t", "subdomain": "s", "password": "p"}, "found access_token"),
        ({"subdomain": "s"}, "password"),
        ({"accounts": [{"account_id": "1"}]}, "accounts[0]"),
        (
            {"accounts": [{"account_id": "1", "access_token": "a"}] * 2},
            "account 1 twice",
        ),
    ],
)
def test_auth_config_errors_name_the_setting(config: dict, setting: str) -> None:
    with pytest.raises(ConfigError, match=r".*" + setting.replace("[", r"\[").replace("]", r"\]")):
        shops_from_config(config)


def test_redact_replaces_every_secret() -> None:
    assert redact("token abc and abc", ["abc", ""]) == "token [redacted] and [redacted]"
