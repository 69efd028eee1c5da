"""Meltano Hub plugin definitions of tap-bigcartel and target-fulfillment, from their ``--about``.

    .venv/bin/python scripts/hub_definitions.py          # (re)write hub/extractors, hub/loaders
    .venv/bin/python scripts/hub_definitions.py --check  # exit 1 naming every stale file

The Hub keeps one YAML file per plugin variant (``_data/meltano/<type>/<name>/<variant>.yml`` in
the meltano/hub repository), the form its ``hub-utils add`` writes for an SDK plugin from
``<plugin> --about --format json``: settings with ``kind``, ``label``, ``description``,
``sensitive`` and the default as ``value``, nested objects as dotted settings, keys sorted.
``hub/`` holds ours in that form, so a Hub submission is a copy; tests/meltano/
test_hub_definitions.py fails when they no longer match the plugins.

What the Hub needs and the project does not have yet (a public repository, a package index
release) comes from :data:`PUBLICATION` alone, as placeholders that say so.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # no stubs in the dev extra

REPO = Path(__file__).resolve().parents[1]
HUB_DIR = REPO / "hub"


@dataclass(frozen=True)
class Publication:
    """Where the plugins are published: the Hub's ``variant``, ``repo`` and ``pip_url``."""

    #: The Hub names a variant after the owner of the repository (``meltanolabs``).
    variant: str
    repo: str
    #: Both plugins are one distribution; ``[postgres]`` brings psycopg for a PostgreSQL ledger or
    #: webhook store, as meltano.yml installs them.
    pip_url: str


#: The one place to change once the project has a public repository and a release: until then,
#: placeholders named as such (there is no public repository and no release on a package index).
PUBLICATION = Publication(
    variant="PLACEHOLDER-variant-owner-of-public-repository",
    repo="PLACEHOLDER-no-public-repository-yet",
    pip_url="PLACEHOLDER-no-package-index-release-yet",
)


@dataclass(frozen=True)
class Plugin:
    """One plugin: what the Hub shows besides ``--about``, and the fallback auth groups."""

    name: str
    plugin_type: t.Literal["extractors", "loaders"]
    module: str
    label: str
    description: str
    keywords: tuple[str, ...]
    domain_url: str | None
    #: ``settings_group_validation`` when the schema has no top-level ``oneOf``/``anyOf``:
    #: each list is one minimal set of settings the plugin runs with.
    groups: tuple[tuple[str, ...], ...]

    @property
    def namespace(self) -> str:
        return self.name.replace("-", "_")

    @property
    def path(self) -> Path:
        return HUB_DIR / self.plugin_type / f"{self.name}.yml"


PLUGINS = (
    Plugin(
        name="tap-bigcartel",
        plugin_type="extractors",
        module="tap_bigcartel.tap",
        label="Big Cartel",
        description="E-commerce platform for artists and makers",
        keywords=("api", "ecommerce", "meltano_sdk"),
        domain_url="https://www.bigcartel.com",
        # The three auth modes of bigcartel_core.auth.shops_from_config (exactly one is allowed).
        groups=(("access_token",), ("subdomain", "password"), ("accounts",)),
    ),
    Plugin(
        name="target-fulfillment",
        plugin_type="loaders",
        module="target_fulfillment.target",
        label="Big Cartel Fulfillment",
        description="Paid, unshipped Big Cartel orders to a warehouse (order files for a 3PL, "
        "ShipStation API v1 or V2) exactly once, tracking written back to the shop",
        keywords=("ecommerce", "fulfillment", "meltano_sdk"),
        domain_url=None,
        # What each backend needs (target_fulfillment.config; those with a default count as set).
        groups=(
            ("backend", "file_outbox_dir", "file_inbox_dir", "ledger_url"),
            (
                "backend",
                "shipstation_api_key",
                "shipstation_api_secret",
                "shipstation_api_url",
                "ledger_url",
            ),
            (
                "backend",
                "shipstation_v2_api_key",
                "shipstation_v2_api_url",
                "shipstation_v2_warehouse_id",
                "ledger_url",
            ),
        ),
    ),
)

#: The capabilities Meltano has names for (its meltano.schema.json, 4.4) and the Hub's schemas
#: list; an ``--about`` capability outside these (target-fulfillment's ``validate-records``) is
#: left out, named in the file's header.
KNOWN_CAPABILITIES: dict[str, frozenset[str]] = {
    "extractors": frozenset(
        {
            "properties",
            "catalog",
            "discover",
            "state",
            "about",
            "stream-maps",
            "activate-version",
            "batch",
            "test",
            "log-based",
            "schema-flattening",
            "structured-logging",
        }
    ),
    "loaders": frozenset(
        {
            "about",
            "stream-maps",
            "activate-version",
            "batch",
            "soft-delete",
            "hard-delete",
            "datatype-failsafe",
            "record-flattening",
            "schema-flattening",
            "structured-logging",
        }
    ),
}

#: Objects kept whole although their schema lists properties (the Hub's convention for these).
WHOLE_OBJECTS = frozenset({"stream_maps"})

#: Words a label spells otherwise than title case.
_LABEL_WORDS = {
    "api": "API",
    "db": "DB",
    "id": "ID",
    "iso": "ISO",
    "oauth": "OAuth",
    "shipstation": "ShipStation",
    "sku": "SKU",
    "url": "URL",
    "v2": "V2",
}

Json = dict[str, t.Any]


def about(plugin: Plugin) -> Json:
    """``<plugin> --about --format json``, run from this interpreter (the project's venv)."""
    result = subprocess.run(
        [sys.executable, "-m", plugin.module, "--about", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    info: Json = json.loads(result.stdout)
    return info


def label(name: str) -> str:
    """``webhook_db_url`` → ``Webhook DB URL``; a dotted name labels each part."""
    words = re.split(r"[_.\s-]+", name)
    return " ".join(_LABEL_WORDS.get(word.lower(), word.capitalize()) for word in words if word)


def _types(schema: Json) -> list[str]:
    """The non-null JSON types a property allows, its alternatives' included."""
    declared = schema.get("type")
    found = [declared] if isinstance(declared, str) else list(declared or [])
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or []:
            if isinstance(option, dict):
                found += _types(option)
    return [kind for kind in dict.fromkeys(found) if kind != "null"]


def _is_secret(schema: t.Any) -> bool:
    """Marked secret (the SDK's ``secret``/``writeOnly``) itself or anywhere inside."""
    if isinstance(schema, dict):
        if schema.get("secret") or schema.get("writeOnly"):
            return True
        return any(_is_secret(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_is_secret(value) for value in schema)
    return False


def _kind(schema: Json) -> str:
    types = _types(schema)
    if "array" in types:
        return "array"
    if len(types) != 1:
        return "string"
    kind = types[0]
    if kind == "string":
        if schema.get("enum"):
            return "options"
        if schema.get("format") in ("date-time", "date"):
            return "date_iso8601"
        return "string"
    return {"number": "decimal"}.get(kind, kind)


def _description(schema: Json) -> str | None:
    text = " ".join(str(schema.get("description") or "").split())
    return text or None


def _setting(name: str, schema: Json) -> Json:
    kind = _kind(schema)
    setting: Json = {"name": name, "label": schema.get("title") or label(name), "kind": kind}
    description = _description(schema)
    if description:
        setting["description"] = description
    if kind == "options":
        setting["options"] = [{"label": label(str(v)), "value": v} for v in schema["enum"]]
    if schema.get("default") is not None and kind != "date_iso8601":
        setting["value"] = schema["default"]
    if _is_secret(schema):
        setting["sensitive"] = True
    return setting


def settings(schema: Json, prefix: str = "") -> list[Json]:
    """One Hub setting per property; an object that lists its properties becomes dotted ones."""
    found = []
    for name, prop in (schema.get("properties") or {}).items():
        full = f"{prefix}{name}"
        if "object" in _types(prop) and prop.get("properties") and full not in WHOLE_OBJECTS:
            inherited = _description(prop)
            for child in settings(prop, f"{full}."):
                if inherited and "description" not in child:
                    child["description"] = inherited
                found.append(child)
        else:
            found.append(_setting(full, prop))
    return found


def groups(schema: Json, plugin: Plugin) -> list[list[str]]:
    """``settings_group_validation``: the ``required`` of each top-level ``oneOf``/``anyOf``
    alternative when the schema says them, else the plugin's own."""
    for key in ("oneOf", "anyOf"):
        alternatives: list[list[t.Any]] = [
            list(a.get("required") or []) for a in schema.get(key) or [] if isinstance(a, dict)
        ]
        if alternatives and all(alternatives):
            return [[str(name) for name in required] for required in alternatives]
    return [list(group) for group in plugin.groups]


def definition(plugin: Plugin, info: Json) -> tuple[Json, list[str]]:
    """The Hub definition, and the ``--about`` capabilities left out of it."""
    known = KNOWN_CAPABILITIES[plugin.plugin_type]
    capabilities = list(info.get("capabilities") or [])
    hub: Json = {
        "name": plugin.name,
        "variant": PUBLICATION.variant,
        "namespace": plugin.namespace,
        "label": plugin.label,
        "description": plugin.description,
        "executable": plugin.name,
        "repo": PUBLICATION.repo,
        "pip_url": PUBLICATION.pip_url,
        "maintenance_status": "development",
        "keywords": list(plugin.keywords),
        "capabilities": sorted(c for c in capabilities if c in known),
        "settings": sorted(settings(info["settings"]), key=lambda s: str(s["name"])),
        "settings_group_validation": groups(info["settings"], plugin),
    }
    if plugin.domain_url:
        hub["domain_url"] = plugin.domain_url
    return hub, sorted(c for c in capabilities if c not in known)


def render(plugin: Plugin, info: Json) -> str:
    hub, dropped = definition(plugin, info)
    header = [
        f"# Meltano Hub definition of {plugin.name}: generated by scripts/hub_definitions.py from",
        f"# `{plugin.name} --about --format json`; do not edit (tests/meltano/"
        "test_hub_definitions.py).",
        "# PLACEHOLDER values: no public repository or package release yet (PUBLICATION there).",
    ]
    if dropped:
        header.append(
            f"# --about capabilities without a Meltano name, left out: {', '.join(dropped)}"
        )
    body = str(yaml.safe_dump(hub, sort_keys=True, allow_unicode=True, width=100))
    return "\n".join(header) + "\n" + body


def rendered() -> dict[Path, str]:
    """Every definition file as it should be now."""
    return {plugin.path: render(plugin, about(plugin)) for plugin in PLUGINS}


def stale(files: dict[Path, str]) -> list[Path]:
    """The files whose committed text differs from ``files`` (missing ones included)."""
    return [
        path
        for path, text in files.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        outdated = stale(files)
        for path in outdated:
            print(f"stale: {path.relative_to(REPO)} (run scripts/hub_definitions.py)")
        return 1 if outdated else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
