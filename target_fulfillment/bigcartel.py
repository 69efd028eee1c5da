"""Write shipments back to Big Cartel: tracking for the buyer, ``shipped`` for the seller.

Exactly once: before posting, the order is read back; an order already ``shipped`` (by an
earlier run whose answer was lost, or by the seller) is not shipped twice. ``POST .../shipments``
carries carrier and tracking to the buyer; where the API refuses shipments, ``PATCH
shipping_status=shipped`` is the fallback the older integrations used.

HTTP goes through :func:`bigcartel_core.http.new_session`, whose one retry policy retries the GET
and PATCH (429, 5xx, time-outs, dropped connections) and a POST only where it cannot have taken
effect. A POST that may have been acted on (5xx, lost answer) is retried here instead, from the
read-back, with the same policy's waits.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
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
    """What the buyer is told; ``lines`` None ships every unshipped line item."""

    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    lines: list[ShippedLine] | None
    notify_customer: bool = True


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

    def write_back(self, account_id: str, order_id: str, update: ShipmentUpdate) -> str:
        """Mark one order shipped; returns how: ``"shipment"``, ``"patch"`` or ``"already"``.

        A POST whose fate is unknown starts the whole exchange again from the read-back, so a
        POST whose answer was lost is never repeated on an order it already shipped.
        """
        for attempt in range(self._attempts):
            try:
                return self._write_back_once(account_id, order_id, update)
            except _TransientError as error:
                if attempt == self._attempts - 1:
                    raise WriteBackError(str(error)) from None
                self._policy.sleep(self._policy.delay(attempt, error.wait))
        raise AssertionError("unreachable")

    def _write_back_once(self, account_id: str, order_id: str, update: ShipmentUpdate) -> str:
        where = f"account {account_id}, order {order_id}"
        document = self._request("GET", account_id, f"/orders/{order_id}", where).json()
        order = next(jsonapi.records(document))
        if order.get("shipping_status") == "shipped":
            return "already"
        items = update.lines if update.lines is not None else self._unshipped_lines(order, where)
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
                        for line in items
                    ],
                },
            }
        }
        response = self._request(
            "POST",
            account_id,
            f"/orders/{order_id}/shipments",
            where,
            json=body,
            allow=SHIPMENTS_REFUSED,
        )
        if response.status_code not in SHIPMENTS_REFUSED:
            return "shipment"
        patch = {
            "data": {"id": order_id, "type": "orders", "attributes": {"shipping_status": "shipped"}}
        }
        self._request("PATCH", account_id, f"/orders/{order_id}", where, json=patch)
        return "patch"

    @staticmethod
    def _unshipped_lines(order: Mapping[str, t.Any], where: str) -> list[ShippedLine]:
        """Line items still to ship, read from the order (the backend reported no items)."""
        lines = []
        for item in order.get("items") or []:
            unshipped = item.get("quantity_unshipped")
            quantity = int(item.get("quantity") or 0) if unshipped is None else int(unshipped)
            if quantity > 0:
                lines.append(ShippedLine(str(item["id"]), quantity))
        if not lines:
            raise WriteBackError(f"{where}: the order has no unshipped line items")
        return lines

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
