"""hub/: the Meltano Hub definitions match the plugins' ``--about`` and the Hub's rules.

The rules are those of the meltano/hub repository's schemas (``schemas/plugin_definitions/
{extractors,loaders}.schema.json``, ``schemas/common/*.schema.json``) and of Meltano's
"Plugin Definition Syntax" reference, checked here by hand (the Hub's schema files are not
vendored); each setting and the whole definition are also validated against the schema of the
Meltano this project runs (``.venv-meltano``), where installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
import yaml

from bigcartel_core.auth import shops_from_config
from bigcartel_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "hub_definitions.py"

#: common/common.schema.json: "required".
REQUIRED = {"name", "namespace", "variant", "label"}
#: plugin_definitions/<type>.schema.json: the only top-level keys (additionalProperties: false),
#: plus hub_metadata's ``quality``.
_COMMON_KEYS = {
    "name",
    "pip_url",
    "variant",
    "namespace",
    "label",
    "description",
    "executable",
    "settings",
    "docs",
    "repo",
    "logo_url",
    "hidden",
    "settings_group_validation",
    "commands",
    "capabilities",
    "requires",
    "maintenance_status",
    "quality",
    "domain_url",
    "keywords",
    "definition",
    "next_steps",
    "settings_preamble",
    "usage",
    "prereq",
}
TOP_LEVEL = {
    "extractors": _COMMON_KEYS | {"metadata", "schema", "select"},
    "loaders": _COMMON_KEYS | {"dialect", "target_schema"},
}
#: The keys the Hub adds to a definition, which meltano.yml has no place for.
HUB_ONLY = {
    "maintenance_status",
    "quality",
    "domain_url",
    "keywords",
    "definition",
    "next_steps",
    "settings_preamble",
    "usage",
    "prereq",
}
#: common/base_setting.schema.json's properties, with ``sensitive`` and ``hidden`` from the
#: Plugin Definition Syntax reference (``kind: password`` is deprecated for ``sensitive``).
SETTING_KEYS = {
    "name",
    "aliases",
    "label",
    "value",
    "placeholder",
    "kind",
    "description",
    "tooltip",
    "documentation",
    "protected",
    "env",
    "value_processor",
    "value_post_processor",
    "oauth",
    "options",
    "docs",
    "sensitive",
    "hidden",
}
#: Meltano 4.4's setting kinds that are not deprecated.
KINDS = {
    "oauth",
    "date_iso8601",
    "file",
    "email",
    "integer",
    "decimal",
    "options",
    "object",
    "array",
    "boolean",
    "string",
}
#: plugin_definitions/hub_metadata.schema.json.
MAINTENANCE_STATUS = {"active", "beta", "development", "inactive", "unknown"}


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hub_definitions", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hub_definitions = _load_script()
PLUGINS = {plugin.name: plugin for plugin in hub_definitions.PLUGINS}


@pytest.fixture(scope="module")
def rendered() -> dict[Path, str]:
    """Every definition file regenerated from the plugins' ``--about`` now."""
    files: dict[Path, str] = hub_definitions.rendered()
    return files


def _definition(name: str) -> dict[str, t.Any]:
    document: dict[str, t.Any] = yaml.safe_load(PLUGINS[name].path.read_text(encoding="utf-8"))
    return document


def test_committed_definitions_are_current(rendered: dict[Path, str]) -> None:
    stale = hub_definitions.stale(rendered)
    assert not stale, (
        f"stale Meltano Hub definitions {[str(p.relative_to(REPO)) for p in stale]}: run "
        ".venv/bin/python scripts/hub_definitions.py and commit hub/"
    )


def test_a_stale_or_missing_file_is_named(rendered: dict[Path, str], tmp_path: Path) -> None:
    text = next(iter(rendered.values()))
    current, edited, missing = tmp_path / "a.yml", tmp_path / "b.yml", tmp_path / "c.yml"
    current.write_text(text, encoding="utf-8")
    edited.write_text(text.replace("kind: integer", "kind: string", 1), encoding="utf-8")
    files = {current: text, edited: text, missing: text}
    assert hub_definitions.stale(files) == [edited, missing]


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_definition_follows_the_hub_rules(name: str) -> None:
    plugin = PLUGINS[name]
    hub = _definition(name)
    assert hub.keys() >= REQUIRED
    assert hub.keys() <= TOP_LEVEL[plugin.plugin_type], hub.keys() - TOP_LEVEL[plugin.plugin_type]
    assert (hub["name"], hub["namespace"], hub["executable"]) == (
        plugin.name,
        plugin.namespace,
        plugin.name,
    )
    assert hub["maintenance_status"] in MAINTENANCE_STATUS
    assert set(hub["capabilities"]) <= hub_definitions.KNOWN_CAPABILITIES[plugin.plugin_type]
    assert all(isinstance(value, str) for value in hub["keywords"])
    names = [setting["name"] for setting in hub["settings"]]
    assert len(names) == len(set(names)), "a setting is listed twice"
    for setting in hub["settings"]:
        assert setting.keys() <= SETTING_KEYS, (setting["name"], setting.keys() - SETTING_KEYS)
        assert setting["kind"] in KINDS, setting
        assert isinstance(setting["label"], str) and setting["label"]
        if setting["kind"] == "options":
            assert all(option.keys() == {"label", "value"} for option in setting["options"])
    for group in hub["settings_group_validation"]:
        assert group and set(group) <= set(names), group


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_every_about_setting_is_defined(name: str) -> None:
    """Each ``--about`` property is a Hub setting, or the parent of dotted ones; secrets are
    sensitive."""
    info = hub_definitions.about(PLUGINS[name])
    settings = {setting["name"]: setting for setting in _definition(name)["settings"]}
    for prop, schema in info["settings"]["properties"].items():
        assert prop in settings or any(s.startswith(f"{prop}.") for s in settings), prop
        if schema.get("secret") and prop in settings:
            assert settings[prop].get("sensitive") is True, prop


def test_tap_groups_are_the_auth_modes_the_tap_accepts() -> None:
    """Each group alone opens a shop; two groups together are refused."""
    groups = _definition("tap-bigcartel")["settings_group_validation"]
    values = {
        "access_token": "token",
        "subdomain": "shop",
        "password": "secret",
        "accounts": [{"account_id": "1", "access_token": "token"}],
    }
    assert len(groups) == 3
    for group in groups:
        assert shops_from_config({key: values[key] for key in group})
    with pytest.raises(ConfigError, match="exactly one way"):
        shops_from_config({key: values[key] for key in groups[0] + groups[1]})


def test_target_groups_are_what_each_backend_needs() -> None:
    from target_fulfillment.config import BACKEND_REQUIRED

    groups = _definition("target-fulfillment")["settings_group_validation"]
    assert [tuple(group) for group in groups] == list(PLUGINS["target-fulfillment"].groups)
    for backend, settings in BACKEND_REQUIRED.items():
        (group,) = [g for g in groups if settings[0] in g]
        assert set(settings) <= set(group), backend


def _meltano_schema() -> dict[str, t.Any]:
    found = sorted(REPO.glob(".venv-meltano/lib/python*/site-packages/meltano/schemas/*.json"))
    schema_file = next((p for p in found if p.name == "meltano.schema.json"), None)
    if schema_file is None:
        pytest.skip("Meltano is not installed in .venv-meltano (scripts/meltano.sh install)")
    schema: dict[str, t.Any] = json.loads(schema_file.read_text(encoding="utf-8"))
    return schema


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_definition_is_a_valid_meltano_plugin(name: str) -> None:
    """What Meltano reads of the definition is valid for the Meltano this project runs."""
    schema = _meltano_schema()
    plugin = PLUGINS[name]
    definition = {k: v for k, v in _definition(name).items() if k not in HUB_ONLY}
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": f"#/$defs/plugins/{plugin.plugin_type}"}
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(definition)]
    assert not errors, errors


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_meltano_adds_the_definition(name: str, tmp_path: Path) -> None:
    """``meltano add <name> --from-ref <file>`` takes the file as it is (install left out: the
    pip_url is a placeholder) and lists every setting of it."""
    meltano = REPO / ".venv-meltano" / "bin" / "meltano"
    if not meltano.is_file():
        pytest.skip("Meltano is not installed in .venv-meltano (scripts/meltano.sh install)")
    plugin = PLUGINS[name]
    (tmp_path / "meltano.yml").write_text(
        "default_environment: dev\nproject_id: hub-definitions-test\n"
        "send_anonymous_usage_stats: false\nenvironments:\n- name: dev\n",
        encoding="utf-8",
    )
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run(
        [str(meltano), "add", name, "--from-ref", str(plugin.path), "--no-install"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    project = yaml.safe_load((tmp_path / "meltano.yml").read_text(encoding="utf-8"))
    (added,) = project["plugins"][plugin.plugin_type]
    expected = [setting["name"] for setting in _definition(name)["settings"]]
    assert [setting["name"] for setting in added["settings"]] == expected
    assert added["settings_group_validation"] == _definition(name)["settings_group_validation"]
