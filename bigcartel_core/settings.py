"""Checks of a plugin's settings that JSON Schema cannot say in words a user can act on."""

from __future__ import annotations

import difflib
import typing as t
from collections.abc import Mapping


def unknown_settings(
    config: Mapping[str, t.Any],
    schema: Mapping[str, t.Any],
    retired: Mapping[str, str] | None = None,
) -> list[str]:
    """One message per config key the plugin does not declare, naming the closest declared one.

    A misspelt setting is otherwise ignored, and the plugin falls back to its default in silence
    (``ledger_uri`` meant a local SQLite ledger instead of the shared PostgreSQL one). ``retired``
    maps settings a former version had to what to do instead.
    """
    declared = list((schema.get("properties") or {}).keys())
    retired = retired or {}
    errors = []
    for key in config:
        if key in declared:
            continue
        if key in retired:
            errors.append(f"{key}: setting no longer exists; {retired[key]}")
            continue
        close = difflib.get_close_matches(str(key), declared, n=1, cutoff=0.6)
        hint = f", did you mean {close[0]}?" if close else ""
        errors.append(f"{key}: unknown setting{hint}")
    return errors
