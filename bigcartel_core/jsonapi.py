"""Flatten Big Cartel's JSON:API documents into the record model of the API reference.

The reference documents each object as a flat table (``currency.id``, ``items[].product.id``); the
live API answers JSON:API, where those fields live in ``relationships`` and ``included``. A record
is the resource's ``id`` plus its attributes, with every to-one relationship as a nested object and
every to-many relationship as an array of objects, resolved from ``included`` when the document
carries the related resource and reduced to ``{"id": ...}`` when it does not.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Mapping

#: The JSON:API media type, for ``Accept`` and ``Content-Type``.
JSONAPI = "application/vnd.api+json"

Resource = Mapping[str, t.Any]
# Keyed by what the document holds (strings, by JSON:API rules): a linkage whose type or id
# is missing or not a string finds nothing instead of raising.
IncludedIndex = dict[tuple[t.Any, t.Any], Resource]

#: How deep related resources are expanded. Orders need two levels (order → item → product);
#: the limit also stops a relationship cycle in a malformed document.
MAX_DEPTH = 2


def index_included(document: Mapping[str, t.Any]) -> IncludedIndex:
    """Map ``(type, id)`` to each resource of the document's ``included`` array.

    JSON:API renders types and ids as strings on both sides, so linkages match without casts.
    """
    return {(res["type"], res["id"]): res for res in document.get("included") or ()}


def flatten(resource: Resource, included: IncludedIndex, depth: int = 0) -> dict[str, t.Any]:
    """Turn one JSON:API resource into a flat record.

    Runs for every resource of every page, so it checks ``dict``/``list`` (what ``json`` builds)
    rather than the slower abstract ``Mapping``.
    """
    record: dict[str, t.Any] = {"id": str(resource["id"])}
    record.update(resource.get("attributes") or {})
    for name, relationship in (resource.get("relationships") or {}).items():
        if type(relationship) is not dict or "data" not in relationship:
            continue
        linkage = relationship["data"]
        if type(linkage) is list:
            record[name] = [_resolve(item, included, depth) for item in linkage]
        elif linkage is None:
            record[name] = None
        else:
            record[name] = _resolve(linkage, included, depth)
    return record


def _resolve(linkage: Resource, included: IncludedIndex, depth: int) -> dict[str, t.Any]:
    related = included.get((linkage.get("type"), linkage.get("id")))
    if related is None or depth >= MAX_DEPTH:
        return {"id": str(linkage["id"])}
    return flatten(related, included, depth + 1)


def records(document: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """Yield the flat records of a list document (or of a single-resource document)."""
    data = document.get("data")
    if data is None:
        return
    included = index_included(document)
    for resource in data if isinstance(data, list) else [data]:
        yield flatten(resource, included)


def total_count(document: Mapping[str, t.Any]) -> int | None:
    """``meta.count``: how many resources match the request, across all pages."""
    count = (document.get("meta") or {}).get("count")
    return count if isinstance(count, int) else None


def error_detail(document: t.Any) -> str | None:
    """The API's own words from a JSON:API ``errors`` body, if there are any."""
    if not isinstance(document, Mapping):
        return None
    errors = document.get("errors")
    if not isinstance(errors, list):
        return None
    parts = []
    for error in errors:
        if isinstance(error, Mapping):
            text = error.get("detail") or error.get("title")
            if text:
                parts.append(str(text))
    return "; ".join(parts) or None
