"""ShipStation API v1: orders go in with createorders; label shipments and shipped orders come out.

Exactly once rests on ``orderKey``, set to the order's key: createorders creates each order with
its key, or replaces it while it is open (shipped and cancelled orders are locked), up to 100 in
one request, with a result per order. A batch whose answer is lost may or may not have stored its
orders, so it raises ``AmbiguousSubmitError`` and is not retried here; the caller settles it with
``lookup_many``, which finds the orders by key.

HTTP, retries and the rate budget (``X-Rate-Limit-*``, about 40 requests a minute per account)
are :class:`~target_fulfillment.backends.shipstation.client.ShipStationClient`'s; the v1 JSON is
:mod:`~target_fulfillment.backends.shipstation.mapping`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from bigcartel_core.http import user_agent as http_user_agent
from bigcartel_core.timestamps import as_utc
from target_fulfillment.backends.base import (
    AmbiguousSubmitError,
    BackendError,
    OrderLockedError,
    Submission,
)
from target_fulfillment.backends.shipstation import mapping
from target_fulfillment.backends.shipstation.client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT_MAX_WAIT,
    DEFAULT_TIMEOUT,
    ShipStationClient,
    basic_credentials,
    x_rate_limit_signal,
)
from target_fulfillment.domain import RemoteOrder, Shipment

DEFAULT_API_URL = "https://ssapi.shipstation.com"
PAGE_SIZE = 500  # the documented maximum
CREATE_ORDERS = "/orders/createorders"
BATCH_SIZE = 100  # the documented maximum of createorders
#: Keys in doubt per page of the recently-modified scan of ``lookup_many`` (see there).
KEYS_PER_SCAN_PAGE = 10
#: The program the default User-Agent names.
PROGRAM = "target-fulfillment"

logger = logging.getLogger(__name__)


class ShipStationBackend:
    """Orders in a ShipStation account, through API v1 with the account's key and secret."""

    name = "shipstation"
    batch_size = BATCH_SIZE

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
            posts_retried_on_503=(CREATE_ORDERS,),
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            rate_limit_max_wait=rate_limit_max_wait,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"ShipStationBackend(api_url={self._client.api_url!r}, store_id={self._store_id!r})"

    def submit_batch(self, submissions: Sequence[Submission]) -> dict[str, str | BackendError]:
        """Create or update up to 100 orders in one createorders; ShipStation's orderId per key.

        Raises ValueError for more than the API takes: the caller batches by ``batch_size``.
        """
        if len(submissions) > BATCH_SIZE:
            raise ValueError(f"createorders takes at most {BATCH_SIZE} orders")
        if not submissions:
            return {}
        bodies = [mapping.order_body(s.order, self._store_id) for s in submissions]
        return self._create([s.order.key for s in submissions], mapping.json_bytes(bodies))

    def lookup_many(self, keys: Sequence[str]) -> dict[str, RemoteOrder]:
        """The orders with these keys, by ShipStation's orderId; a key never arrived is absent."""
        return {
            key: RemoteOrder(
                key=key, backend_order_id=str(found["orderId"]), status=mapping.remote_status(found)
            )
            for key, found in self._find_many(keys).items()
        }

    def shipments(self, since: dt.datetime | None) -> list[Shipment]:
        """Label shipments created or voided since ``since``, and orders marked shipped
        without a label.

        A voided label comes back with ``voided`` set, however long ago it was made: the
        void-date filter finds it. Only orders whose key starts with ``bigcartel-``: an account
        holds other stores' too.
        """
        found: dict[str, Shipment] = {}
        labelled = set()
        # (query, whether it lists voids only)
        queries: list[tuple[dict[str, str], bool]] = [({"includeShipmentItems": "true"}, False)]
        if since is not None:
            queries = [
                (
                    {"includeShipmentItems": "true", "createDateStart": mapping.pacific(since)},
                    False,
                ),
                ({"voidDateStart": mapping.pacific(since)}, True),
            ]
        for params, voids_only in queries:
            for record in self._pages("/shipments", params, "shipments"):
                if not mapping.is_ours(record):
                    continue
                shipment = mapping.label_shipment(record)
                if voids_only and not shipment.voided:
                    continue
                if not shipment.voided:
                    labelled.add(record.get("orderId"))
                found.setdefault(shipment.source_id, shipment)
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
            shipment = mapping.marked_shipment(order)
            found.setdefault(shipment.source_id, shipment)
        return list(found.values())

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
        body = mapping.json_bytes([{**found, "orderStatus": "cancelled"}])
        result = self._create([key], body).get(key)
        if result is None:
            raise AmbiguousSubmitError(f"ShipStation gave no result for the cancel of {key}")
        if isinstance(result, OrderLockedError):
            return False
        if isinstance(result, BackendError):
            raise result
        return True

    def close(self) -> None:
        self._client.close()

    def _create(self, keys: list[str], body: bytes) -> dict[str, str | BackendError]:
        """POST createorders once: per key the orderId or the refusal; a key without a readable
        result is left out (in doubt)."""
        more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
        action = f"createorders for {keys[0]}{more}"
        response = self._client.post(CREATE_ORDERS, body, action)
        if not response.ok:
            raise BackendError(self._client.failure(response, action))
        try:
            document = response.json()
        except ValueError:
            raise AmbiguousSubmitError(
                f"ShipStation took {action} but its answer is not JSON; the orders may exist"
            ) from None
        created, refused = mapping.batch_results(document, set(keys))
        answers: dict[str, str | BackendError] = dict(created)
        locked = self._locked(refused) if refused else {}
        for key, message in refused.items():
            failure = self._client.redact(f"ShipStation refused {key}: {message}")
            status, order_id = locked.get(key, (None, None))
            if status is None:
                answers[key] = BackendError(failure)
            else:
                answers[key] = OrderLockedError(
                    f"{key} is {status} at ShipStation (orderId {order_id}) and takes no updates:"
                    f" {failure}"
                )
        return answers

    def _locked(self, keys: Collection[str]) -> dict[str, tuple[str, str]]:
        """Of refused orders, the ones locked (shipped, cancelled): their status and orderId.

        A locked order is told from an invalid one by looking, not by parsing the message; when
        the look fails, the refusal is still the error to report.
        """
        try:
            found = self._find_many([key for key in keys if mapping.KEY.fullmatch(key)])
        except BackendError:
            return {}
        return {
            key: (str(order.get("orderStatus")), str(order.get("orderId")))
            for key, order in found.items()
            if mapping.remote_status(order) != "open"
        }

    def _find_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The orders with exactly these orderKeys.

        v1 cannot filter by key: only by orderNumber (a prefix search, one request or more per
        key) or by dates. The keys asked about are almost always those of a batch just sent
        (a lost answer, a crash), so the orders most recently modified come first, sorted by
        ModifyDate, a page of 500 per request: a lost batch of 100 is usually found on the
        first page. The scan reads at most one page per ``KEYS_PER_SCAN_PAGE`` keys and stops
        once every key is found; each key it did not find is then searched by its orderNumber,
        every page of it, so a key's answer never depends on the scan (nor on the sort, which
        an order modified meanwhile can shift, and which the emulator ignores). The cost is at
        most one request per ten keys above the per-key searches.
        """
        numbers = {key: mapping.order_number(key) for key in keys}
        found: dict[str, dict[str, Any]] = {}
        pages = len(numbers) // KEYS_PER_SCAN_PAGE
        if pages:
            recent = {"sortBy": "ModifyDate", "sortDir": "DESC"}
            for order in self._pages("/orders", recent, "orders", max_pages=pages):
                key = order.get("orderKey")
                if isinstance(key, str) and key in numbers and key not in found:
                    found[key] = order
                    if len(found) == len(numbers):
                        break
        for key, number in numbers.items():
            searched = None if key in found else self._find(key, number)
            if searched is not None:
                found[key] = searched
        return found

    def _find(self, key: str, order_number: str) -> dict[str, Any] | None:
        """The order with exactly this orderKey.

        v1 cannot filter by key, only by orderNumber (a prefix search), and other stores' orders
        in the account may share the number.
        """
        for order in self._pages("/orders", {"orderNumber": order_number}, "orders"):
            if order.get("orderKey") == key:
                return order
        return None

    def _pages(
        self,
        path: str,
        params: Mapping[str, str],
        field: str,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a v1 list, page after page (the first ``max_pages`` pages)."""
        page = 1
        while True:
            query = {**params, "page": str(page), "pageSize": str(PAGE_SIZE)}
            document = self._client.get(path, query)
            yield from document.get(field) or []
            if page >= int(document.get("pages") or 0) or page == max_pages:
                return
            page += 1
