"""Flatten Big Cartel's JSON:API documents into the record model of the API reference.

The reference documents each object as a flat table (``currency.id``, ``items[].product.id``); the
live API answers JSON:API, where those fields live in ``relationships`` and ``included``. A record
is the resource's ``id`` plus its attributes, with every to-one relationship as a nested object and
every to-many relationship as an array of objects, resolved from ``included`` when the document
carries the related resource and reduced to ``{"id": ...}`` when it does not.

Some resources tell what they are only through a namespaced type: the live API renders an order's
adjustments as ``order_adjustments/shipping``, ``order_adjustments/tax``,
``order_adjustments/discount`` and its transactions as ``order_transactions/payments`` (captured
responses; the reference's object tables do not show types). The part after the slash would be
lost with the type, so every resource whose type has a slash carries it as ``kind``.
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

#: The field that keeps the subtype of a namespaced JSON:API type (``order_adjustments/tax``).
KIND = "kind"

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
    kind = type_kind(resource.get("type"))
    if kind is not None:
        record[KIND] = kind
    attributes = resource.get("attributes")
    if attributes:
        record.update(attributes)
    relationships = resource.get("relationships")
    if not relationships:
        return record
    for name, relationship in relationships.items():
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


def type_kind(type_: t.Any) -> str | None:
    """The part of a JSON:API type after its first slash (``order_adjustments/tax`` → ``tax``);
    None for a type without one (``orders``), or with nothing after it.

    An attribute of the resource named ``kind`` wins over this: the API's own words come first.
    """
    if type(type_) is not str or "/" not in type_:  # most types: checked without a split
        return None
    kind = type_.partition("/")[2]
    return kind or None


def _resolve(linkage: Resource, included: IncludedIndex, depth: int) -> dict[str, t.Any]:
    related = included.get((linkage.get("type"), linkage.get("id")))
    if related is None or depth >= MAX_DEPTH:
        # The linkage names the type too, so an unresolved adjustment keeps its kind.
        reference: dict[str, t.Any] = {"id": str(linkage["id"])}
        kind = type_kind(linkage.get("type"))
        if kind is not None:
            reference[KIND] = kind
        return reference
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
    """``meta.count``: how many resources match the request, across all pages.

    The live API sends it as a string (``"5"``, in captured responses); a JSON number is taken
    too. Anything else (a boolean, a fraction, words, a negative count) is no count at all: None,
    and the pagers fall back on the short page.
    """
    meta = document.get("meta")
    count = meta.get("count") if isinstance(meta, Mapping) else None
    if type(count) is str:
        text = count.strip()
        count = int(text) if text.isascii() and text.isdigit() else None
    return count if type(count) is int and count >= 0 else None


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
