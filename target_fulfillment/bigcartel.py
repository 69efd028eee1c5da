"""Write shipments back to Big Cartel: tracking for the buyer, ``shipped`` for the seller.

Each warehouse shipment is its own ``POST .../shipments`` with its items, carrier and tracking.
The POST carries no idempotency key, so the caller reads the order first (``read_order``) and
says what its line items will show once the POST took effect; a POST whose answer was lost is
then settled by reading the order again, never by guessing. Where the API refuses shipments,
``PATCH shipping_status=shipped`` is the fallback the older integrations used.

HTTP goes through :func:`bigcartel_core.http.new_session`, whose one retry policy retries the GET
and PATCH (429, 5xx, time-outs, dropped connections) and a POST only where it cannot have taken
effect. A POST that may have been acted on (5xx, lost answer) is retried here instead, after a
read-back, with the same policy's waits.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import requests
from requests.auth import AuthBase

from bigcartel_core import jsonapi
from bigcartel_core.errors import redact
from bigcartel_core.http import RetryPolicy, new_session
from bigcartel_core.retry import retry_after_seconds

#: Answers that mean "this shop cannot take shipments through the API", not "try again".
SHIPMENTS_REFUSED = frozenset({404, 405, 422})


class WriteBackError(Exception):
    """The write-back of one order failed; the message names the shop and order."""


class ShopDisconnectedError(WriteBackError):
    """The shop's token was refused (401/403): it revoked the app or was closed."""


class WriteBackInDoubt(WriteBackError):
    """A POST may have taken effect and the read-back that would tell could not be made."""


class _TransientError(WriteBackError):
    """429, 5xx or a dropped connection: worth another attempt, after ``wait`` seconds (the
    answer's ``Retry-After``, or None)."""

    def __init__(self, message: str, wait: float | None) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True)
class ShippedLine:
    order_line_item_id: str
    quantity: int


@dataclass(frozen=True)
class ShipmentUpdate:
    """One shipment as the buyer is told of it."""

    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    lines: list[ShippedLine]
    notify_customer: bool = True


@dataclass(frozen=True)
class LineState:
    """A line item's units, and how many of them Big Cartel counts shipped."""

    quantity: int
    shipped: int

    @property
    def unshipped(self) -> int:
        return max(self.quantity - self.shipped, 0)


@dataclass(frozen=True)
class OrderShipping:
    """What an order's read-back says about its shipping: its status and each line item's."""

    shipped: bool
    lines: dict[str, LineState]

    @property
    def finished(self) -> bool:
        """Nothing left to ship: Big Cartel says so, or no line has a unit unshipped."""
        return self.shipped or all(line.unshipped == 0 for line in self.lines.values())

    def shows(self, expected: Mapping[str, int]) -> bool:
        """Whether the order shows a POST that was to bring these lines to these shipped
        counts (``expected``): it took effect, though its answer may have been lost."""
        return all(
            line_id in self.lines and self.lines[line_id].shipped >= count
            for line_id, count in expected.items()
        )

    def after(self, lines: Sequence[ShippedLine]) -> OrderShipping:
        """This state once ``lines`` are shipped too."""
        shipped = {line.order_line_item_id: line.quantity for line in lines}
        states = {
            line_id: LineState(state.quantity, state.shipped + shipped.get(line_id, 0))
            for line_id, state in self.lines.items()
        }
        return OrderShipping(self.shipped, states)


class BigCartelWriter:
    """Big Cartel API client for the two writes the target makes."""

    def __init__(
        self,
        api_url: str,
        user_agent: str,
        auth_by_account: Mapping[str, AuthBase],
        *,
        timeout: float = 30.0,
        retries: int = 5,
        attempts: int = 4,
        secrets: tuple[str, ...] = (),
        policy: RetryPolicy | None = None,
    ) -> None:
        """``retries``: the session's retries of each request (``policy.max_retries`` when a
        policy is given); ``attempts``: how many times a POST that may have been acted on is
        tried, each time from the read-back."""
        self._base = f"{api_url.rstrip('/')}/v1"
        self._auth = dict(auth_by_account)
        self._attempts = attempts
        self._secrets = secrets
        self._policy = policy or RetryPolicy(max_retries=retries)
        self._session = new_session(user_agent, timeout=timeout, policy=self._policy)

    def close(self) -> None:
        self._session.close()

    def read_order(self, account_id: str, order_id: str) -> OrderShipping:
        """The order's shipping as Big Cartel has it now.

        A line's shipped count is its ``quantity_shipped``, else ``quantity`` less
        ``quantity_unshipped``; an order read without either (older API documents) counts every
        unit shipped once the order is ``shipped`` and none before.
        """
        where = f"account {account_id}, order {order_id}"
        document = self._request("GET", account_id, f"/orders/{order_id}", where).json()
        order = next(jsonapi.records(document))
        shipped = order.get("shipping_status") == "shipped"
        lines = {}
        for item in order.get("items") or []:
            quantity = int(item.get("quantity") or 0)
            if item.get("quantity_shipped") is not None:
                count = int(item["quantity_shipped"])
            elif item.get("quantity_unshipped") is not None:
                count = quantity - int(item["quantity_unshipped"])
            else:
                count = quantity if shipped else 0
            lines[str(item["id"])] = LineState(quantity, count)
        return OrderShipping(shipped, lines)

    def post_shipment(
        self,
        account_id: str,
        order_id: str,
        update: ShipmentUpdate,
        expected: Mapping[str, int],
    ) -> str:
        """Post one shipment; ``"shipment"``, or ``"patch"`` where the API refuses shipments.

        ``expected``: each line's shipped count once this POST took effect. After a POST that
        may have been acted on, the order is read back: showing ``expected``, it was; not, it
        is sent again. Raises WriteBackError when it was not posted, and WriteBackInDoubt when
        that cannot be known.
        """
        where = f"account {account_id}, order {order_id}"
        body = {
            "data": {
                "type": "shipments",
                "attributes": {
                    "carrier": update.carrier,
                    "tracking_number": update.tracking_number,
                    "tracking_url": update.tracking_url,
                    "notify_customer": update.notify_customer,
                    "items": [
                        {"order_line_item_id": line.order_line_item_id, "quantity": line.quantity}
                        for line in update.lines
                    ],
                },
            }
        }
        for attempt in range(self._attempts):
            try:
                response = self._request(
                    "POST",
                    account_id,
                    f"/orders/{order_id}/shipments",
                    where,
                    json=body,
                    allow=SHIPMENTS_REFUSED,
                )
            except _TransientError as error:
                try:
                    if self.read_order(account_id, order_id).shows(expected):
                        return "shipment"
                except WriteBackError as unread:
                    message = f"{error}; then the read-back failed: {unread}"
                    raise WriteBackInDoubt(message) from None
                if attempt == self._attempts - 1:
                    raise WriteBackError(str(error)) from None
                self._policy.sleep(self._policy.delay(attempt, error.wait))
                continue
            if response.status_code not in SHIPMENTS_REFUSED:
                return "shipment"
            patch = {
                "data": {
                    "id": order_id,
                    "type": "orders",
                    "attributes": {"shipping_status": "shipped"},
                }
            }
            self._request("PATCH", account_id, f"/orders/{order_id}", where, json=patch)
            return "patch"
        raise AssertionError("unreachable")

    def _request(
        self,
        method: str,
        account_id: str,
        path: str,
        where: str,
        *,
        json: t.Any = None,
        allow: frozenset[int] = frozenset(),
    ) -> requests.Response:
        auth = self._auth.get(account_id)
        if auth is None:
            raise WriteBackError(f"{where}: no credentials for this account in the config")
        try:
            response = self._session.request(
                method, f"{self._base}/accounts/{account_id}{path}", json=json, auth=auth
            )
        except requests.RequestException as error:
            message = redact(f"{where}: {method} {path} failed: {error}", self._secrets)
            raise self._failure(method, message, None) from None
        if response.status_code in allow or response.ok:
            return response
        detail = redact(response.text[:300], self._secrets)
        message = f"{where}: {method} {path} answered {response.status_code}: {detail}"
        if response.status_code in (401, 403):
            raise ShopDisconnectedError(message)
        if response.status_code == 429 or response.status_code >= 500:
            raise self._failure(method, message, retry_after_seconds(response))
        raise WriteBackError(message)

    @staticmethod
    def _failure(method: str, message: str, wait: float | None) -> WriteBackError:
        """A GET or PATCH has had the session's retries already; only a POST goes round again."""
        return _TransientError(message, wait) if method == "POST" else WriteBackError(message)
