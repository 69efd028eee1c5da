"""The contract between the target and a warehouse: the ``Backend`` protocol and what fails.

The order sent and what comes back are the domain's (``target_fulfillment.domain``), re-exported
here for the backends' callers. Backends never decide anything about an order; the target builds
a :class:`FulfillmentOrder` and a backend only delivers it. Exactly-once delivery is shared work:
the target's ledger records the intent before ``submit`` and the result after it, and a backend
answers ``lookup`` truthfully so an interrupted submit can be settled instead of repeated.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from target_fulfillment.domain import FulfillmentOrder, RemoteOrder, Shipment


class BackendError(Exception):
    """A definite failure: the backend did not accept the order. The message has its words."""


class AmbiguousSubmitError(Exception):
    """The request left but no answer came back: the order may exist; settle it with lookup()."""


class OrderLockedError(BackendError):
    """The warehouse order is shipped, cancelled or collected, and takes no more updates."""


class Backend(Protocol):
    """A warehouse. ``submit`` and ``lookup`` are called from several threads at once."""

    name: str

    def submit(self, order: FulfillmentOrder) -> str:
        """Create the order, or update the open order with the same key; the backend's id."""
        ...

    def lookup(self, key: str) -> RemoteOrder | None:
        """The order with this key at the backend, or None when it never arrived."""
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
