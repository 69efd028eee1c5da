"""`meltano select tap-bigcartel --list --all` before any credential is configured.

Meltano lists a tap's streams by running its discovery (``tap-bigcartel --config <file>
--discover``) with whatever is configured; the `prod` environment of meltano.yml holds no
credentials, so this is a fresh project's first look at the tap.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from meltano_helpers import Project

from tap_bigcartel.streams import STREAM_TYPES


def test_select_lists_every_stream_with_no_credentials_configured(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.startswith("TAP_BIGCARTEL_"):
            monkeypatch.delenv(name)
    printed = project.meltano("--environment", "prod", "config", "print", "tap-bigcartel")
    config = json.loads(printed.stdout[printed.stdout.index("{") :])
    assert not {"access_token", "subdomain", "password", "accounts"} & set(config), config

    result = project.meltano("--environment", "prod", "select", "tap-bigcartel", "--list", "--all")

    listed = set(re.findall(r"^\s*\[[a-z ]+\] (\S+)$", result.stdout, re.MULTILINE))
    for stream in STREAM_TYPES:
        for prop in stream.schema["properties"]:
            assert f"{stream.name}.{prop}" in listed, (stream.name, prop)
    # The fields the live API sends that the reference lacks are in the catalog too.
    assert {"orders.warnings", "orders.adjustments", "orders.events"} <= listed
