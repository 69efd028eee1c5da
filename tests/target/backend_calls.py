"""One order through a backend's batch calls, for tests written about a single order, and the
ShipStation emulator's createorders requests counted per order key."""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Mapping
from typing import Any

from target_fulfillment.backends.base import (
    AmbiguousSubmitError,
    Backend,
    BackendError,
    Submission,
)
from target_fulfillment.domain import FulfillmentOrder, RemoteOrder

CREATE_ORDERS = "/orders/createorders"


def submit_one(backend: Backend, order: FulfillmentOrder) -> str:
    """A batch of one: the order's id, or the error that refused it (raised); a missing
    result is in doubt, as a lost answer is."""
    answer = backend.submit_batch([Submission(order)])
    if order.key not in answer:
        raise AmbiguousSubmitError(f"{order.key}: no result in the answer")
    result = answer[order.key]
    if isinstance(result, BackendError):
        raise result
    return result


def lookup_one(backend: Backend, key: str) -> RemoteOrder | None:
    """``lookup_many`` of one key: its order, or None when it never arrived."""
    return backend.lookup_many([key]).get(key)


def creates_per_key(
    requests: Iterable[Mapping[str, Any]], statuses: Container[int | None] | None = None
) -> Counter[str]:
    """How many createorders requests of the emulator's log carried each orderKey (with one
    of ``statuses``: None is a request stored and then left unanswered)."""
    return Counter(
        order["orderKey"]
        for request in requests
        if request["method"] == "POST"
        and request["path"] == CREATE_ORDERS
        and (statuses is None or request["status"] in statuses)
        and isinstance(request["body"], list)
        for order in request["body"]
        if isinstance(order, dict)
    )


def create_requests(requests: Iterable[Mapping[str, Any]]) -> int:
    """createorders requests in the emulator's log, answered or not."""
    return sum(r["method"] == "POST" and r["path"] == CREATE_ORDERS for r in requests)
