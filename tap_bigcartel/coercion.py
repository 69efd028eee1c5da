"""Exact money, integers in either form, and comparable timestamps, derived once from each
stream's schema.

The API renders money as decimal strings (``"12.50"``); the schema declares those fields as
``number`` so warehouses get numeric columns, and they travel as ``Decimal`` so nothing rounds.
An ``integer`` field that arrives as a string of digits (a category's ``position``: an integer in
live responses, a string in the reference) becomes that integer, so every record fits its schema
whichever form the API used.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import typing as t
from collections.abc import Callable, Mapping

from singer_sdk.helpers._typing import is_object_type, is_uniform_list

from bigcartel_core import timestamps

Record = dict[str, t.Any]
#: field → NUMBER or INTEGER for a field of that type, or the plan of a nested object / array of
#: objects.
Plan = dict[str, "Plan | str"]
NUMBER = "number"
INTEGER = "integer"


class RecordValueError(ValueError):
    """A record holds a value its schema cannot take; the message names the field."""


def _types(schema: Mapping[str, t.Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def number_plan(schema: Mapping[str, t.Any]) -> Plan:
    """Where the ``number`` and ``integer`` fields sit in a schema, nested objects and arrays
    included."""
    plan: Plan = {}
    for name, prop in (schema.get("properties") or {}).items():
        types = _types(prop)
        if "number" in types:
            plan[name] = NUMBER
        elif "integer" in types:
            plan[name] = INTEGER
        elif "object" in types:
            if sub := number_plan(prop):
                plan[name] = sub
        elif (
            "array" in types
            and "object" in _types(prop.get("items") or {})
            and (sub := number_plan(prop["items"]))
        ):
            plan[name] = sub
    return plan


def to_decimal(value: t.Any, field: str) -> decimal.Decimal | None:
    """A JSON number or a decimal string as an exact ``Decimal``."""
    if type(value) is str:  # the API's usual form, so tried first
        try:
            number = decimal.Decimal(value)
        except decimal.InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    if value is None or isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, bool):
        raise RecordValueError(f"field '{field}' holds a boolean, not a number")
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise RecordValueError(f"field '{field}' holds {value!r}, not a decimal number") from None
    if not number.is_finite():
        raise RecordValueError(f"field '{field}' holds {value!r}, not a finite number")
    return number


def to_integer(value: t.Any, field: str) -> t.Any:
    """A string of decimal digits (optionally signed) as its ``int``; any other value as it is,
    for the schema to judge. Any other string names the field."""
    if type(value) is not str:
        return value
    text = value.strip()
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not (digits.isascii() and digits.isdigit()):
        raise RecordValueError(f"field '{field}' holds {value!r}, not an integer")
    return int(text)


def decimal_coercer(schema: Mapping[str, t.Any]) -> Callable[[Record], None]:
    """A function that turns, in place, a record's money fields into ``Decimal`` and its integer
    fields given as strings into ``int``.

    The plan is compiled once into steps that carry each field's path (for error messages), so
    a record costs a dictionary lookup per planned field and nothing else.
    """
    return _compile(number_plan(schema), "")


class _Step(t.NamedTuple):
    name: str
    kind: str  # NUMBER, INTEGER, or "" for a nested plan
    path: str
    in_list: Callable[[Record], None] | None = None
    in_object: Callable[[Record], None] | None = None


def _compile(plan: Plan, prefix: str) -> Callable[[Record], None]:
    steps = [
        _Step(name, sub, prefix + name)
        if isinstance(sub, str)
        else _Step(
            name,
            "",
            prefix + name,
            _compile(sub, f"{prefix}{name}[]."),
            _compile(sub, f"{prefix}{name}."),
        )
        for name, sub in plan.items()
    ]

    def apply(obj: Record) -> None:
        for name, kind, path, in_list, in_object in steps:
            if name not in obj:
                continue
            value = obj[name]
            if kind == NUMBER:
                obj[name] = to_decimal(value, path)
            elif kind == INTEGER:
                if type(value) is str:
                    obj[name] = to_integer(value, path)
            elif isinstance(value, list):
                assert in_list is not None
                for item in value:
                    if isinstance(item, dict):
                        in_list(item)
            elif isinstance(value, dict):
                assert in_object is not None
                in_object(value)

    return apply


def parse_timestamp(value: t.Any, field: str) -> dt.datetime:
    """An ISO-8601 timestamp as an aware UTC datetime.

    Bookmarks compare as strings in the SDK, so every replication value must render in one format;
    turning them into datetimes lets the SDK render them all the same way.
    """
    if isinstance(value, dt.datetime):
        return timestamps.as_utc(value)
    if isinstance(value, str) and value:
        try:
            return timestamps.parse(value)
        except ValueError:
            raise RecordValueError(f"field '{field}' holds {value!r}, not a timestamp") from None
    raise RecordValueError(f"field '{field}' is missing or empty")


def root_conformer(
    schema: Mapping[str, t.Any], warn: Callable[[tuple[str, ...]], None]
) -> Callable[[Record], Record]:
    """A function that gives a record, in place, the form singer-sdk's ``ROOT_ONLY`` type
    conformance would give it, for the values a record of this tap can hold: JSON values,
    ``Decimal`` and ``datetime``.

    The SDK's weighs each property's schema again for every record, a fifth of the tap's CPU
    time; here a value that needs nothing (a string, a number, a nested object the schema
    declares) costs a type check. As the SDK does, a property the schema does not declare is
    dropped (``warn`` is given their names, once per set), a datetime becomes ISO 8601 with
    microseconds (a naive one in UTC), a date ISO 8601, a number that is not finite as a float
    null, and a value of an exclusively boolean property ``value != 0``; nested values stay as
    they are. Whether a list or a dict is left as it is, the SDK's own predicates decide, once
    per property. tests/tap/test_message_equivalence.py holds the two to the same output.
    """
    properties: Mapping[str, t.Any] = schema.get("properties") or {}
    keeps_extra = bool(schema.get("additionalProperties"))
    booleans = frozenset(name for name, prop in properties.items() if _exclusively_boolean(prop))
    declared = frozenset(properties)
    plain = frozenset((str, int, bool, type(None)))
    containers: dict[tuple[str, type], bool] = {}
    warned: set[tuple[str, ...]] = set()

    def keeps(name: str, kind: type) -> bool:
        kept = containers.get((name, kind))
        if kept is None:
            prop = properties[name]
            if kind is list:
                kept = bool(is_uniform_list(prop))
            else:
                kept = bool(is_object_type(prop)) and "properties" in prop
            containers[(name, kind)] = kept
        return kept

    def drop_undeclared(record: Record) -> None:
        names = tuple(name for name in record if name not in declared)
        for name in names:
            del record[name]
        if names not in warned:
            warned.add(names)
            warn(names)

    def conform(record: Record) -> Record:
        if not keeps_extra and not declared.issuperset(record):
            drop_undeclared(record)
        for name, value in record.items():  # values change, keys do not
            kind = type(value)
            if kind in plain:
                if (kind is str or kind is int) and name in booleans:
                    record[name] = value != 0
            elif name not in declared:
                pass  # kept as it is: the schema allows extra properties
            elif kind is dt.datetime:
                moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
                record[name] = moment.isoformat("T", timespec="microseconds")
            elif kind is dt.date:
                record[name] = value.isoformat()
            elif kind is decimal.Decimal or kind is float:
                record[name] = value if math.isfinite(value) else None
            elif (kind is list or kind is dict) and keeps(name, kind):
                pass
            elif name in booleans:
                record[name] = value != 0
        return record

    return conform


def _exclusively_boolean(prop: Mapping[str, t.Any]) -> bool:
    declared = prop.get("type")
    return (
        declared == "boolean"
        or declared == ["boolean"]
        or (isinstance(declared, list) and set(declared) == {"boolean", "null"})
    )
