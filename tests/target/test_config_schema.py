"""The target's settings rules that live in its JSON Schema (``--about`` shows them).

Each rule is checked through the SDK's own validation, as a run meets it: a bad config is
refused with a message naming the setting, and no message quotes a secret of the config (the
SDK prints its messages as they are). The checks the schema cannot say are in
tests/target/test_validation.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError

from target_fulfillment.target import TargetFulfillment

SECRET = "SECRET-XYZ"
#: Every secret setting the target has, set, so a message quoting one would show it.
SECRETS = {
    "access_token": SECRET,
    "shipstation_api_key": SECRET,
    "shipstation_api_secret": SECRET,
    "webhook_db_url": f"postgresql+psycopg://u:{SECRET}@db/hooks",
}
CODES = {
    "DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"},
    "INTERNATIONAL_DEFAULT": {"carrier_code": "usps", "service_code": "usps_first_class"},
}
V2 = {
    "backend": "shipstation_v2",
    "shipstation_v2_api_key": SECRET,
    "shipstation_v2_warehouse_id": "se-123",
}


def _errors(config: dict[str, t.Any], tmp_path: Path) -> list[str]:
    full = {"ledger_url": f"sqlite:///{tmp_path}/ledger.db", **SECRETS, **config}
    try:
        TargetFulfillment(config=full, validate_config=True)
    except ConfigValidationError as error:
        return list(error.errors)
    return []


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        (
            {"backend": "shipstation_v2", "shipstation_v2_api_key": SECRET},
            ["'shipstation_v2_warehouse_id' is a required property"],
        ),
        (
            {"backend": "shipstation_v2", "shipstation_v2_warehouse_id": "se-1"},
            ["'shipstation_v2_api_key' is a required property"],
        ),
        (
            {**V2, "shipstation_v2_api_key": ""},
            ["'' should be non-empty in config['shipstation_v2_api_key']"],
        ),
        (
            {**V2, "shipstation_v2_warehouse_id": None},
            [
                "None should not be valid under {'type': 'null'} in "
                "config['shipstation_v2_warehouse_id']"
            ],
        ),
        ({"shipping_codes": {}}, ["{} should be non-empty in config['shipping_codes']"]),
        ({"shipping_codes": None}, ["None is not of type 'object' in config['shipping_codes']"]),
        (
            {"shipping_codes": {**CODES, "us": CODES["DOMESTIC_DEFAULT"]}},
            ["'us' is not valid under any of the given schemas in config['shipping_codes']"],
        ),
        (
            {"shipping_codes": {"US\n": CODES["DOMESTIC_DEFAULT"]}},
            ["'US\\n' is not valid under any of the given schemas in config['shipping_codes']"],
        ),
        (
            {"shipping_codes": {"DOMESTIC": CODES["DOMESTIC_DEFAULT"]}},
            ["'DOMESTIC' is not valid under any of the given schemas in config['shipping_codes']"],
        ),
        (
            {"shipping_codes": {"DOMESTIC_DEFAULT": {"carrier_code": "usps"}}},
            [
                "'service_code' is a required property in config['shipping_codes']"
                "['DOMESTIC_DEFAULT']"
            ],
        ),
        (
            {"shipping_codes": {"PT": {**CODES["DOMESTIC_DEFAULT"], "carrier": "ups"}}},
            [
                "Additional properties are not allowed ('carrier' was unexpected) in "
                "config['shipping_codes']['PT']"
            ],
        ),
        *(
            (
                {"shipping_codes": {"DE": {"carrier_code": bad, "service_code": "x"}}},
                ["does not match", "in config['shipping_codes']['DE']['carrier_code']"],
            )
            for bad in ("", " dhl", "dhl ", "dhl\n", "\t")
        ),
        (
            {"shipping_codes": {"DE": {"carrier_code": 7, "service_code": "x"}}},
            ["7 is not of type 'string' in config['shipping_codes']['DE']['carrier_code']"],
        ),
        (
            {"origin_country": "USA"},
            ["'USA' is too long in config['origin_country']"],
        ),
        (
            {"origin_country": "U1"},
            ["'U1' does not match '^[A-Za-z]{2}$' in config['origin_country']"],
        ),
        (
            {"shipstation_store_id": 0},
            ["0 is less than the minimum of 1 in config['shipstation_store_id']"],
        ),
        (
            {"max_concurrency": 0},
            ["0 is less than the minimum of 1 in config['max_concurrency']"],
        ),
        (
            {"request_timeout": 0},
            ["0 is less than the minimum of 1 in config['request_timeout']"],
        ),
        (
            {"shipstation_rate_limit_max_wait": -5},
            ["-5 is less than the minimum of 0 in config['shipstation_rate_limit_max_wait']"],
        ),
        (
            {"backend": "shipstation", "shipstation_api_secret": None},
            ["None should not be valid under {'type': 'null'} in config['shipstation_api_secret']"],
        ),
        (
            {"backend": "shipstation", "shipstation_api_key": ""},
            ["'' should be non-empty in config['shipstation_api_key']"],
        ),
    ],
)
def test_each_rule_refuses_a_bad_config_naming_the_setting_and_no_secret(
    config: dict[str, t.Any], messages: list[str], tmp_path: Path
) -> None:
    errors = _errors(config, tmp_path)
    assert errors and all(any(m in error for error in errors) for m in messages), errors
    assert not any(SECRET in error for error in errors), errors


@pytest.mark.parametrize("missing", ["shipstation_api_key", "shipstation_api_secret"])
def test_the_v1_backend_requires_its_credentials(missing: str, tmp_path: Path) -> None:
    config = {
        "ledger_url": f"sqlite:///{tmp_path}/ledger.db",
        "backend": "shipstation",
        **{name: SECRET for name in ("shipstation_api_key", "shipstation_api_secret")},
    }
    del config[missing]
    with pytest.raises(ConfigValidationError) as raised:
        TargetFulfillment(config=config, validate_config=True)
    assert list(raised.value.errors) == [f"'{missing}' is a required property"]
    TargetFulfillment(config={**config, "backend": "file"}, validate_config=True)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"backend": "file"},
        {"backend": "shipstation"},
        V2,
        {**V2, "shipping_codes": {"DOMESTIC_DEFAULT": CODES["DOMESTIC_DEFAULT"]}},
        {"shipping_codes": {**CODES, "CA": {"carrier_code": "ups", "service_code": "ups ground"}}},
        {"shipping_codes": {"GB": {"carrier_code": "royal_mail", "service_code": "tracked_48"}}},
        {"origin_country": "us", "shipstation_store_id": 1, "max_concurrency": 1},
        # The V2 credentials are only needed by that backend.
        {"backend": "shipstation", "shipstation_v2_warehouse_id": ""},
    ],
)
def test_good_configs_pass(config: dict[str, t.Any], tmp_path: Path) -> None:
    assert _errors(config, tmp_path) == []


def test_the_cli_names_the_setting_and_never_prints_a_secret(tmp_path: Path) -> None:
    """What a run prints for a config breaking several rules at once, read from its output."""
    config = tmp_path / "config.json"
    bad = {
        **SECRETS,
        "backend": "shipstation_v2",
        "shipstation_v2_api_key": SECRET,
        "ledger_url": f"sqlite:///{tmp_path}/ledger.db",
        "shipping_codes": {"us": {"carrier_code": "usps ", "service_code": "x"}},
    }
    config.write_text(json.dumps(bad), encoding="utf-8")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("target-fulfillment")), "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "'shipstation_v2_warehouse_id' is a required property" in done.stderr
    assert "'us' is not valid under any of the given schemas in config['shipping_codes']" in (
        done.stderr
    )
    assert "in config['shipping_codes']['us']['carrier_code']" in done.stderr
    assert "Config validation failed" in done.stderr
    assert SECRET not in done.stderr and SECRET not in done.stdout
    assert not done.stdout.strip()  # nothing Meltano would take for state


def test_about_shows_the_rules() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("target-fulfillment")), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    settings = json.loads(done.stdout)["settings"]
    assert "oneOf" not in settings  # its failure message would quote the whole config
    rules = {rule["if"]["properties"]["backend"]["const"]: rule for rule in settings["allOf"]}
    assert all(rule["if"]["required"] == ["backend"] for rule in rules.values())
    assert {backend: rule["then"]["required"] for backend, rule in rules.items()} == {
        "shipstation": ["shipstation_api_key", "shipstation_api_secret"],
        "shipstation_v2": ["shipstation_v2_api_key", "shipstation_v2_warehouse_id"],
    }
    codes = settings["properties"]["shipping_codes"]
    assert codes["type"] == "object" and codes["minProperties"] == 1
    assert codes["propertyNames"]["anyOf"][0] == {
        "enum": ["DOMESTIC_DEFAULT", "INTERNATIONAL_DEFAULT"]
    }
    assert codes["additionalProperties"]["additionalProperties"] is False
    assert set(codes["additionalProperties"]["required"]) == {"carrier_code", "service_code"}


def test_a_secret_of_the_wrong_type_is_refused_without_quoting_it(tmp_path: Path) -> None:
    errors = _errors({**V2, "shipstation_v2_api_key": 12345987}, tmp_path)
    assert errors == [
        "[redacted] is not of type 'string', 'null' in config['shipstation_v2_api_key']"
    ]
