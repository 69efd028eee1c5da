"""Settings the tap cannot work with are refused before it reads anything, each error naming the
setting (never echoing a secret), so a typo or a bad value fails the run instead of falling back
to a default in silence."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_bigcartel.tap import TapBigCartel

TOKEN = "t0ken-never-shown"
BASE: dict[str, t.Any] = {"access_token": TOKEN, "api_url": "http://127.0.0.1:9"}


def refusals(**settings: t.Any) -> list[str]:
    """The errors the tap refuses ``BASE`` plus ``settings`` with."""
    with pytest.raises(ConfigValidationError) as raised:
        TapBigCartel(config={**BASE, **settings})
    assert TOKEN not in str(raised.value)
    assert not [error for error in raised.value.errors if TOKEN in error]
    return list(raised.value.errors)


def test_an_unknown_setting_is_refused_naming_the_close_match() -> None:
    # The SDK's own settings, which Meltano may pass, are not unknown.
    builtins = {
        "stream_maps": {},
        "stream_map_config": {},
        "flattening_enabled": False,
        "flattening_max_depth": 1,
        "batch_config": {"encoding": {"format": "jsonl"}, "storage": {"root": "file:///tmp"}},
    }
    errors = refusals(api_uri="http://127.0.0.1:9", colour="blue", **builtins)
    assert errors == [
        "api_uri: unknown setting, did you mean api_url?",
        "colour: unknown setting",
    ]


@pytest.mark.parametrize(
    ("setting", "bad", "good"),
    [
        ("max_retries", -1, 0),
        ("backoff_factor", -0.5, 0),
        ("max_retry_wait", -1, 0),
        ("request_timeout", 0, 1),
        ("page_size", 1, 2),
        ("page_size", 101, 100),
        ("webhook_settle_seconds", -1, 0),
        ("start_date", "last tuesday", "2024-01-01"),
        ("start_date", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("api_url", "api.bigcartel.com", "https://api.bigcartel.com"),
        ("api_url", "ftp://api.bigcartel.com", "http://127.0.0.1:8765"),
        ("api_url", "http://127.0.0.1:port", "http://127.0.0.1:8765/"),
        ("webhook_db_url", "webhooks.db", "sqlite:///webhooks/webhooks.db"),
        ("account_id", "my-shop", "1001"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(setting: str, bad: t.Any, good: t.Any) -> None:
    errors = refusals(**{setting: bad})
    assert len(errors) == 1
    # The SDK's schema errors end "in config['page_size']"; the tap's own start with the name.
    assert errors[0].startswith(f"{setting}: ") or errors[0].endswith(f"in config['{setting}']")
    TapBigCartel(config={**BASE, setting: good})


def test_account_ids_of_accounts_are_numeric() -> None:
    accounts = [
        {"account_id": "1001", "access_token": "a"},
        {"account_id": "10-01", "access_token": "b"},
        {"account_id": "shop", "access_token": "c"},
    ]
    errors = refusals(access_token=None, accounts=accounts)
    assert errors == [
        'accounts[1].account_id: "10-01" is not a Big Cartel account id (digits only)',
        'accounts[2].account_id: "shop" is not a Big Cartel account id (digits only)',
    ]


def test_every_error_is_reported_at_once() -> None:
    errors = refusals(api_uri="x", start_date="soon", account_id="abc", api_url="nowhere")
    assert [error.split(":", 1)[0] for error in errors] == [
        "api_uri",
        "account_id",
        "start_date",
        "api_url",
    ]


def test_a_bad_webhook_db_url_never_shows_its_password() -> None:
    url = "postgresql+psycopg://fulfil:s3cret-pw@db.example:port/webhooks"
    with pytest.raises(ConfigValidationError) as raised:
        TapBigCartel(config={**BASE, "webhook_db_url": url})
    assert [error.split(":", 1)[0] for error in raised.value.errors] == ["webhook_db_url"]
    assert "s3cret-pw" not in str(raised.value)
    assert not [error for error in raised.value.errors if "s3cret-pw" in error]


def test_a_secret_of_the_wrong_type_is_refused_without_quoting_it() -> None:
    errors = refusals(access_token=90817263, api_url="http://127.0.0.1:9")
    assert errors == ["[redacted] is not of type 'string', 'null' in config['access_token']"]
    (account_error,) = refusals(
        access_token=None, accounts=[{"account_id": "1", "access_token": 5550123}]
    )
    assert "5550123" not in account_error and "access_token" in account_error
