"""The contract between the target and a warehouse: the ``Backend`` protocol and what fails.

The order sent and what comes back are the domain's (``target_fulfillment.domain``). Backends
never decide anything about an order; the target builds a :class:`FulfillmentOrder` and a
backend only delivers it. Orders travel in batches of up to ``batch_size`` (a one-order call is a
batch of one), because a warehouse API's rate limit counts requests, not orders. Exactly-once
delivery is shared work: the target's ledger records the intent before ``submit_batch`` and each
order's result after it, and a backend answers ``lookup_many`` truthfully so an interrupted batch
can be settled instead of repeated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from target_fulfillment.domain import FulfillmentOrder, RemoteOrder, Shipment


class BackendError(Exception):
    """A definite failure: the backend did not accept the order. The message has its words."""


class AmbiguousSubmitError(Exception):
    """The request left but no answer came back: its orders may exist; settle by lookup_many()."""


class OrderLockedError(BackendError):
    """The warehouse order is shipped, cancelled or collected, and takes no more updates."""


@dataclass(frozen=True)
class Submission:
    """One order to send; ``backend_order_id`` is set when it was sent before (an update)."""

    order: FulfillmentOrder
    backend_order_id: str | None = None


class Backend(Protocol):
    """A warehouse. ``submit_batch`` and ``lookup_many`` are called from several threads at once."""

    name: str
    batch_size: int  # the most submissions one submit_batch call takes (1: no batching)

    def submit_batch(self, submissions: Sequence[Submission]) -> dict[str, str | BackendError]:
        """Create, or update the open order with the same key, for each submission.

        Per key: the backend's order id, or the BackendError (OrderLockedError for a locked
        order) that refused that order alone. A key missing from the answer is in doubt.
        Raises AmbiguousSubmitError when the request's answer was lost (every order in doubt)
        and BackendError when the whole request was refused and nothing stored.
        """
        ...

    def lookup_many(self, keys: Sequence[str]) -> dict[str, RemoteOrder]:
        """The orders with these keys at the backend, in as few requests as the API allows;
        a key absent from the answer never arrived."""
        ...

    def shipments(self, since: dt.datetime | None) -> list[Shipment]:
        """Confirmations not yet acknowledged, or created since ``since`` where nothing is."""
        ...

    def acknowledge(self, shipment: Shipment) -> None:
        """Forget a confirmation the caller has durably recorded."""
        ...

    def cancel(self, key: str) -> bool:
        """Cancel the order; False when the backend does not allow it (locked, unsupported)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
