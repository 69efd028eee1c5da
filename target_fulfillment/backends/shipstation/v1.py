"""ShipStation API v1: orders go in with createorder; label shipments and shipped orders come out.

Exactly once rests on ``orderKey``, set to the order's key: createorder creates the order with
that key, or replaces it while it is open (shipped and cancelled orders are locked). A createorder
whose answer is lost may or may not have stored the order, so it raises ``AmbiguousSubmitError``
and is not retried here; the caller settles it with ``lookup``, which finds the order by key.

HTTP, retries and the rate budget (``X-Rate-Limit-*``, about 40 requests a minute per account)
are :class:`~target_fulfillment.backends.shipstation.client.ShipStationClient`'s; the v1 JSON is
:mod:`~target_fulfillment.backends.shipstation.mapping`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bigcartel_core.http import user_agent as http_user_agent
from bigcartel_core.timestamps import as_utc
from target_fulfillment.backends.base import AmbiguousSubmitError, BackendError, OrderLockedError
from target_fulfillment.backends.shipstation import mapping
from target_fulfillment.backends.shipstation.client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT_MAX_WAIT,
    DEFAULT_TIMEOUT,
    ShipStationClient,
    basic_credentials,
    x_rate_limit_signal,
)
from target_fulfillment.domain import FulfillmentOrder, RemoteOrder, Shipment

DEFAULT_API_URL = "https://ssapi.shipstation.com"
PAGE_SIZE = 500  # the documented maximum
CREATE_ORDER = "/orders/createorder"
#: The program the default User-Agent names.
PROGRAM = "target-fulfillment"

logger = logging.getLogger(__name__)


class ShipStationBackend:
    """Orders in a ShipStation account, through API v1 with the account's key and secret."""

    name = "shipstation"

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        api_url: str = DEFAULT_API_URL,
        store_id: int | None = None,
        user_agent: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = 1.0,
        rate_limit_max_wait: float = DEFAULT_RATE_LIMIT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store_id = store_id
        self._client = ShipStationClient(
            api_url,
            basic_credentials(api_key, api_secret),
            user_agent=http_user_agent(PROGRAM, user_agent),
            rate_signal=x_rate_limit_signal,
            posts_retried_on_503=(CREATE_ORDER,),
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            rate_limit_max_wait=rate_limit_max_wait,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"ShipStationBackend(api_url={self._client.api_url!r}, store_id={self._store_id!r})"

    def submit(self, order: FulfillmentOrder) -> str:
        """Create or update the order with this key; ShipStation's orderId."""
        body = mapping.json_bytes(mapping.order_body(order, self._store_id))
        return self._create(body, order.key, order.order_id)

    def lookup(self, key: str) -> RemoteOrder | None:
        """The order with this key, by ShipStation's orderId; None when it never arrived."""
        found = self._find(key, mapping.order_number(key))
        if found is None:
            return None
        return RemoteOrder(
            key=key, backend_order_id=str(found["orderId"]), status=mapping.remote_status(found)
        )

    def shipments(self, since: dt.datetime | None) -> list[Shipment]:
        """Label shipments created since ``since``, and orders marked shipped without a label.

        Only orders whose key starts with ``bigcartel-``: an account holds other stores' too.
        """
        found: list[Shipment] = []
        labelled = set()
        params = {"includeShipmentItems": "true"}
        if since is not None:
            params["createDateStart"] = mapping.pacific(since)
        for record in self._pages("/shipments", params, "shipments"):
            if record.get("voided") or not mapping.is_ours(record):
                continue
            labelled.add(record.get("orderId"))
            found.append(mapping.label_shipment(record))
        params = {"orderStatus": "shipped"}
        if since is not None:
            # modifyDateStart is in ShipStation's public docs though not in the project's notes;
            # the same bound is applied here, for an API that ignores it.
            params["modifyDateStart"] = mapping.pacific(since)
        for order in self._pages("/orders", params, "orders"):
            if not mapping.is_ours(order) or order.get("orderId") in labelled:
                continue
            modified = mapping.parse_time(order.get("modifyDate"))
            if since is not None and modified is not None and modified < as_utc(since):
                continue
            found.append(mapping.marked_shipment(order))
        return found

    def acknowledge(self, shipment: Shipment) -> None:
        """Nothing to do: ShipStation keeps its shipments, ``since`` moves past them."""

    def cancel(self, key: str) -> bool:
        """Cancel an open order by sending it back with orderStatus ``cancelled``.

        v1 has no cancel call. False for a shipped order, and for a key not found: the order
        may still exist under a number edited in ShipStation, so a person should look.
        """
        found = self._find(key, mapping.order_number(key))
        if found is None:
            logger.warning("%s: not found at ShipStation, so it could not be cancelled", key)
            return False
        status = found.get("orderStatus")
        if status == "cancelled":
            return True
        if status not in mapping.OPEN_STATUSES:
            return False
        # An update replaces the whole order, so it goes back as ShipStation has it.
        body = mapping.json_bytes({**found, "orderStatus": "cancelled"})
        try:
            self._create(body, key, str(found.get("orderNumber") or ""))
        except OrderLockedError:
            return False
        return True

    def close(self) -> None:
        self._client.close()

    def _create(self, body: bytes, key: str, order_number: str) -> str:
        """POST createorder once: the orderId, or an error saying whether the order may exist."""
        action = f"createorder for {key}"
        response = self._client.post(CREATE_ORDER, body, action)
        if not response.ok:
            failure = self._client.failure(response, action)
            if response.status_code == 400:
                self._raise_if_locked(key, order_number, failure)
            raise BackendError(failure)
        try:
            return str(response.json()["orderId"])
        except (ValueError, KeyError, TypeError):
            raise AmbiguousSubmitError(
                f"ShipStation took {action} but answered without an orderId"
            ) from None

    def _raise_if_locked(self, key: str, order_number: str, failure: str) -> None:
        """Tell a locked order from an invalid one by looking, not by parsing the message."""
        try:
            found = self._find(key, order_number)
        except BackendError:
            return  # the refusal is still the error to report
        if found is not None and mapping.remote_status(found) != "open":
            raise OrderLockedError(
                f"{key} is {found.get('orderStatus')} at ShipStation (orderId {found['orderId']})"
                f" and takes no updates: {failure}"
            )

    def _find(self, key: str, order_number: str) -> dict[str, Any] | None:
        """The order with exactly this orderKey.

        v1 cannot filter by key, only by orderNumber (a prefix search), and other stores' orders
        in the account may share the number.
        """
        for order in self._pages("/orders", {"orderNumber": order_number}, "orders"):
            if order.get("orderKey") == key:
                return order
        return None

    def _pages(self, path: str, params: Mapping[str, str], field: str) -> Iterator[dict[str, Any]]:
        """Every record of a v1 list, page after page."""
        page = 1
        while True:
            query = {**params, "page": str(page), "pageSize": str(PAGE_SIZE)}
            document = self._client.get(path, query)
            yield from document.get(field) or []
            if page >= int(document.get("pages") or 0):
                return
            page += 1
