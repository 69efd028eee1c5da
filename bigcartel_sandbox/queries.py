"""Turn a list request's query string into a validated ``ListQuery``.

Each list endpoint has a ``ListSpec``: the fields it sorts on and the filters it accepts. Parsing
rejects anything else with a 400 whose detail names the offending parameter, so a client bug shows
up as an error rather than as silently unfiltered data. Parameters outside the ``filter[...]`` and
``page[...]`` families (such as ``search`` on lists other than orders) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from bigcartel_sandbox.errors import BadRequest

DEFAULT_PAGE_LIMIT = 20
PRODUCT_STATUSES = ("active", "hidden", "sold_out", "coming_soon")
SHIPPING_STATUSES = ("shipped", "unshipped")
DISCOUNT_STATUSES = ("active", "expired")

Predicate = Callable[[Any], bool]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class RangeFilter:
    """Inclusive bounds, in epoch milliseconds, on an indexed timestamp field."""

    field: str
    low: int | None
    high: int | None


@dataclass(frozen=True)
class ListQuery:
    sort: str
    descending: bool = False
    limit: int = DEFAULT_PAGE_LIMIT
    offset: int = 0
    ranges: tuple[RangeFilter, ...] = ()
    predicates: tuple[Predicate, ...] = ()


@dataclass(frozen=True)
class ListSpec:
    """What one list endpoint accepts.

    ``filters`` maps a ``filter[name]`` to a function that turns its value into a predicate on
    records; ``range_filters`` maps a ``filter[name]`` to the timestamp field it bounds and which
    bound it is (``"low"`` or ``"high"``).
    """

    default_sort: str
    default_descending: bool = False
    sort_fields: tuple[str, ...] = ()
    filters: Mapping[str, Callable[[str, str], Predicate]] = field(default_factory=dict)
    range_filters: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    search: Callable[[str], Predicate] | None = None


def parse_timestamp(value: str) -> int:
    """ISO-8601 text -> epoch milliseconds (UTC); ``ValueError`` when it is not ISO-8601.

    Not settled by the docs: a timestamp without an offset is read as UTC, and a bare date as
    midnight UTC.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


def parse_list_query(args: Mapping[str, str], spec: ListSpec) -> ListQuery:
    sort, descending = _parse_sort(args, spec)
    limit = _parse_page_number(args, "page[limit]", DEFAULT_PAGE_LIMIT, minimum=1)
    offset = _parse_page_number(args, "page[offset]", 0, minimum=0)
    bounds: dict[str, dict[str, int]] = {}
    predicates: list[Predicate] = []
    for key, value in args.items():
        if key.startswith("page[") and key not in ("page[limit]", "page[offset]"):
            raise BadRequest(f"Unknown paging parameter {key}; use page[limit] and page[offset].")
        if not key.startswith("filter["):
            continue
        name = key[len("filter[") : -1] if key.endswith("]") else ""
        if name in spec.range_filters:
            target, side = spec.range_filters[name]
            try:
                bounds.setdefault(target, {})[side] = parse_timestamp(value)
            except ValueError:
                hint = " (a + in a query string must be sent as %2B)" if " " in value else ""
                raise BadRequest(
                    f"{key} must be an ISO-8601 timestamp such as 2026-05-01T12:00:00Z, "
                    f"not {value!r}{hint}."
                ) from None
        elif name in spec.filters:
            predicates.append(spec.filters[name](key, value))
        else:
            # Not settled by the docs: unknown filters are refused rather than ignored.
            accepted = ", ".join(f"filter[{n}]" for n in (*spec.filters, *spec.range_filters))
            raise BadRequest(f"Unknown filter {key}; accepted: {accepted or 'none'}.")
    search = args.get("search")
    if search and spec.search is not None:
        predicates.append(spec.search(search))
    ranges = tuple(
        RangeFilter(target, sides.get("low"), sides.get("high")) for target, sides in bounds.items()
    )
    return ListQuery(sort, descending, limit, offset, ranges, tuple(predicates))


def _parse_sort(args: Mapping[str, str], spec: ListSpec) -> tuple[str, bool]:
    raw = args.get("sort")
    direction = args.get("sort_direction")
    if raw is None and direction is None:
        return spec.default_sort, spec.default_descending
    if not spec.sort_fields:
        # Not settled by the docs: lists whose docs describe no sorting refuse sort parameters.
        raise BadRequest("This list cannot be sorted.")
    descending = spec.default_descending
    sort = spec.default_sort
    prefixed = False
    if raw is not None:
        prefixed = raw.startswith("-")
        sort = raw[1:] if prefixed else raw
        descending = prefixed
        if sort not in spec.sort_fields:
            raise BadRequest(
                f"Cannot sort by {sort!r}; sort accepts {', '.join(spec.sort_fields)}, "
                "with a leading - for descending order."
            )
    if direction is not None:
        if direction not in ("asc", "desc"):
            raise BadRequest(f"sort_direction must be asc or desc, not {direction!r}.")
        # Not settled by the docs: a - prefix and sort_direction=asc contradict each other.
        if prefixed and direction == "asc":
            raise BadRequest("sort=-field and sort_direction=asc contradict each other.")
        descending = direction == "desc"
    return sort, descending


def _parse_page_number(args: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    """Not settled by the docs: values that are not whole numbers >= minimum are a 400."""
    raw = args.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise BadRequest(f"{key} must be a whole number of at least {minimum}, not {raw!r}.")
    return value


def one_of(allowed: tuple[str, ...], attribute: str) -> Callable[[str, str], Predicate]:
    """A filter on a comma separated list of allowed values of ``attribute``."""

    def parse(key: str, value: str) -> Predicate:
        wanted = frozenset(_split(value))
        unknown = sorted(wanted.difference(allowed))
        if unknown or not wanted:
            raise BadRequest(f"{key} accepts {', '.join(allowed)}; got {value!r}.")
        return lambda record: getattr(record, attribute) in wanted

    return parse


def any_of_ids(attribute: str) -> Callable[[str, str], Predicate]:
    """A filter matching records whose id list ``attribute`` shares an id with the value."""

    def parse(key: str, value: str) -> Predicate:
        wanted = frozenset(_split(value))
        if not wanted:
            raise BadRequest(f"{key} needs a comma separated list of ids.")
        return lambda record: not wanted.isdisjoint(getattr(record, attribute))

    return parse


def order_search(text: str) -> Predicate:
    """Not settled by the docs: a case-insensitive substring match on the customer's full name,
    email and the order id."""
    needle = text.strip().casefold()

    def matches(order: Any) -> bool:
        name = f"{order.customer_first_name} {order.customer_last_name}".casefold()
        return (
            needle in name
            or needle in order.customer_email.casefold()
            or needle in order.id.casefold()
        )

    return matches


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# Not settled by the docs: filter[shipping_status] also takes a comma list, like product filters.
# Not settled by the docs: the _from bounds are inclusive (>=) and the _to bounds inclusive (<=).
ORDERS = ListSpec(
    # Not settled by the docs: without sort, orders come newest first, as in the shop admin.
    default_sort="created_at",
    default_descending=True,
    sort_fields=("completed_at", "created_at", "updated_at"),
    filters={"shipping_status": one_of(SHIPPING_STATUSES, "shipping_status")},
    range_filters={
        "completed_at_from": ("completed_at", "low"),
        "completed_at_to": ("completed_at", "high"),
        "updated_at_from": ("updated_at", "low"),
        "updated_at_to": ("updated_at", "high"),
    },
    search=order_search,
)
PRODUCTS = ListSpec(
    default_sort="position",
    sort_fields=("position", "created_at", "updated_at"),
    filters={
        "status": one_of(PRODUCT_STATUSES, "status"),
        "category_id": any_of_ids("category_ids"),
        "artist_id": any_of_ids("artist_ids"),
    },
)
DISCOUNTS = ListSpec(default_sort="id", filters={"status": one_of(DISCOUNT_STATUSES, "status")})
ARTISTS = ListSpec(default_sort="position")
CATEGORIES = ListSpec(default_sort="position")

LIST_SPECS: dict[str, ListSpec] = {
    "artists": ARTISTS,
    "categories": CATEGORIES,
    "discounts": DISCOUNTS,
    "products": PRODUCTS,
    "orders": ORDERS,
}
