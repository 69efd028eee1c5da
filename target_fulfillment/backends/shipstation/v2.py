"""ShipStation API V2: orders go in as shipments, in batches; labels come back as shipments.

Exactly once rests on ``external_shipment_id``, set to the order's key: V2 keeps it unique per
account and refuses a second create with it (notes A3). So a batch whose answer was lost can
be sent again: a shipment that did arrive is refused as a duplicate, found by its key, and
answered as arrived. A create that may or may not have been stored is never retried here.
Updates are ``PUT /v2/shipments/{id}``, a full replacement, allowed until a label is bought.

HTTP, retries and the rate budget (200 requests a minute, 429 with ``Retry-After``) are
:class:`~target_fulfillment.backends.shipstation.client.ShipStationClient`'s; the V2 JSON is
:mod:`~target_fulfillment.backends.shipstation.mapping_v2`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from bigcartel_core import timestamps
from bigcartel_core.http import user_agent as http_user_agent
from target_fulfillment.backends.base import (
    AmbiguousSubmitError,
    BackendError,
    OrderLockedError,
    Submission,
)
from target_fulfillment.backends.shipstation import mapping_v2
from target_fulfillment.backends.shipstation.client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT_MAX_WAIT,
    DEFAULT_TIMEOUT,
    ShipStationClient,
    api_key_credentials,
    never_sent,
    retry_after_signal,
)
from target_fulfillment.backends.shipstation.mapping import json_bytes, text
from target_fulfillment.domain import FulfillmentOrder, RemoteOrder, Shipment, Weight

DEFAULT_API_URL = "https://api.shipstation.com"
API_KEY_SETTING = "shipstation_v2_api_key"
SHIPMENTS = "/v2/shipments"
LABELS = "/v2/labels"
# Not in the docs: the most shipments one POST takes. ShipStation's own MCP tool sends at most
# 100 (notes A3), as v1's createorders takes.
BATCH_SIZE = 100
# Not in the docs: the largest page_size. 100 is within any plausible limit and holds a whole
# batch, so settling one lost batch on a quiet account takes one request.
PAGE_SIZE = 100
# A create's created_at is ShipStation's clock; ours may be behind or ahead by this much.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: How long after a label was made its void is still looked for. Not settled by the notes: how
#: late a carrier lets a label be voided; a later void is not seen, and not reported.
VOID_LOOKBACK = dt.timedelta(days=90)
#: The program the default User-Agent names.
PROGRAM = "target-fulfillment"

logger = logging.getLogger(__name__)


class ShipStationV2Backend:
    """Orders in a ShipStation account, as V2 shipments, with the account's V2 API key."""

    name = "shipstation_v2"

    def __init__(
        self,
        api_key: str,
        *,
        warehouse_id: str,
        package_weight: Weight | None = None,
        api_url: str = DEFAULT_API_URL,
        user_agent: str | None = None,
        batch_size: int = BATCH_SIZE,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = 1.0,
        rate_limit_max_wait: float = DEFAULT_RATE_LIMIT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``api_url`` is the host, as the docs' ``https://api.shipstation.com/v2`` less
        ``/v2`` (a trailing one is dropped). ``package_weight`` is the weight of a package whose
        items are not all weighed (``default_package_weight``). ``sleep`` and ``clock`` pace
        the rate budget."""
        self.batch_size = batch_size
        self._warehouse_id = warehouse_id
        self._weight = package_weight
        self._client = ShipStationClient(
            api_url.rstrip("/").removesuffix("/v2"),
            api_key_credentials(api_key, API_KEY_SETTING),
            user_agent=http_user_agent(PROGRAM, user_agent),
            rate_signal=retry_after_signal,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            rate_limit_max_wait=rate_limit_max_wait,
            sleep=sleep,
            clock=clock,
            error_reader=mapping_v2.error_messages,
        )
        # When this process first sent each key, so lookup_many can list instead of asking.
        self._sent_at: dict[str, dt.datetime] = {}
        self._sent_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"ShipStationV2Backend(api_url={self._client.api_url!r},"
            f" warehouse_id={self._warehouse_id!r})"
        )

    def submit_batch(self, submissions: Sequence[Submission]) -> dict[str, str | BackendError]:
        """Create the new orders in one request and update the others, one request each.

        Per key: the shipment_id, or the BackendError (OrderLockedError once a label is
        bought or it is cancelled) refusing that order alone; a key left out is in doubt.
        When no key has an answer, the batch's own failure is raised instead:
        AmbiguousSubmitError when the answer was lost, BackendError when it was refused whole.
        """
        if len(submissions) > self.batch_size:
            raise ValueError(f"{len(submissions)} submissions; at most {self.batch_size}")
        answers: dict[str, str | BackendError] = {}
        creates: list[FulfillmentOrder] = []
        for submission in submissions:
            order = submission.order
            problem = mapping_v2.key_error(order.key)
            if problem is None and mapping_v2.shipment_weight(order, self._weight) is None:
                # The rules hold such an order (require_package_weight); never sent without.
                problem = (
                    f"{order.key}: no package weight (its items are not all weighed and there"
                    " is no default_package_weight); ShipStation V2 requires one"
                )
            if problem is not None:
                answers[order.key] = BackendError(problem)
            elif submission.backend_order_id:
                answer = self._update(order, submission.backend_order_id)
                if answer is not None:
                    answers[order.key] = answer
            else:
                creates.append(order)
        if creates:
            try:
                answers.update(self._create(creates))
            except AmbiguousSubmitError:
                if not answers:
                    raise
            except BackendError as error:
                if not answers:
                    raise
                answers.update({order.key: error for order in creates})
        return answers

    def lookup_many(self, keys: Sequence[str]) -> dict[str, RemoteOrder]:
        """The orders with these keys; a key absent never arrived.

        ``GET /v2/shipments/external_shipment_id/{id}`` answers one key, and the list's
        ``external_shipment_id`` filter takes one value too, so neither is a bulk path. The
        list filtered by ``created_at_start`` is: keys this process sent are looked for among
        the shipments created since the first of them was sent (less the clock skew), a page
        of 100 at a time; the others, sent by an earlier run (times unknown), and any left
        when the list would take more pages than keys, are asked for one by one. Listing
        never makes a present key absent for long: a key the list missed is sent again,
        refused as a duplicate and then found by the one-key lookup (see ``_create``).
        """
        return self._lookup(keys, confirm_absent=False)

    def shipments(self, since: dt.datetime | None) -> list[Shipment]:
        """A confirmation per completed label created since ``since``, and one per label
        voided since then (``voided`` set).

        Labels say which shipment they are for, and the shipment holds the items, so each
        shipment of ours is fetched once. Only keys starting ``bigcartel-``: an account holds
        other stores' shipments too. The list filters labels by creation time only, so voids
        are looked for among the labels made in the ``VOID_LOOKBACK`` before ``since``.
        """
        queries = [({"label_status": "completed", "sort_dir": "asc"}, since)]
        if since is not None:
            voided = {"label_status": "voided", "sort_dir": "asc"}
            queries.append((voided, since - VOID_LOOKBACK))
        found: dict[str, Shipment] = {}
        fetched: dict[str, dict[str, Any]] = {}
        for params, start in queries:
            if start is not None:
                params["created_at_start"] = mapping_v2.query_time(start)
            for label in self._pages(LABELS, params, "labels"):
                shipment_id = text(label.get("shipment_id"))
                status = "voided" if label.get("voided") else label.get("status")
                if (
                    status != params["label_status"]
                    or shipment_id is None
                    or not mapping_v2.is_ours(label.get("external_shipment_id"))
                ):
                    continue
                if shipment_id not in fetched:
                    fetched[shipment_id] = self._client.get(_path(SHIPMENTS, shipment_id), {})
                for shipment in mapping_v2.label_shipments(label, fetched[shipment_id]):
                    found.setdefault(shipment.source_id, shipment)
        return list(found.values())

    def acknowledge(self, shipment: Shipment) -> None:
        """Nothing to do: ShipStation keeps its labels, ``since`` moves past them."""

    def cancel(self, key: str) -> bool:
        """Cancel the shipment while it has no label; False when ShipStation does not allow it.

        False too for a key not found: a person should look.
        """
        shipment = self._by_key(key) if mapping_v2.key_error(key) is None else None
        if shipment is None:
            logger.warning("%s: not found at ShipStation, so it could not be cancelled", key)
            return False
        status = shipment.get("shipment_status")
        if status == "cancelled":
            return True
        if status not in mapping_v2.OPEN_STATUSES:
            return False
        action = f"cancel of {key}"
        path = _path(SHIPMENTS, str(shipment["shipment_id"]), "cancel")
        try:
            response = self._client.send("PUT", path)
        except requests.RequestException as error:
            raise BackendError(
                self._client.redact(f"ShipStation {action} failed: {error}")
            ) from error
        if response.ok:
            return True
        failure = self._client.failure(response, action)
        if response.status_code in (400, 409, 422):
            # A label bought since the look above, or another reason V2 does not cancel.
            logger.warning("%s", failure)
            return False
        raise BackendError(failure)

    def close(self) -> None:
        self._client.close()

    def _shipment_body(self, order: FulfillmentOrder) -> dict[str, Any]:
        package = mapping_v2.shipment_weight(order, self._weight)
        assert package is not None  # submit_batch refuses an order without one
        return mapping_v2.shipment_body(order, self._warehouse_id, package)

    def _create(self, orders: Sequence[FulfillmentOrder]) -> dict[str, str | BackendError]:
        """POST the new orders once: per key the shipment_id or the refusal; missing: in doubt.

        A refused shipment may be one that arrived before (a re-send after a lost answer,
        refused as identifier_conflict): it is looked up by key, not told by the message, and
        answered as arrived when found.
        """
        keys = [order.key for order in orders]
        moment = timestamps.now()
        with self._sent_lock:
            for key in keys:
                self._sent_at.setdefault(key, moment)
        body = {"shipments": [self._shipment_body(order) for order in orders]}
        action = f"POST {SHIPMENTS} of {len(orders)} shipments"
        response = self._client.post(SHIPMENTS, json_bytes(body), action)
        try:
            document = response.json()
        except ValueError:
            document = None
        entries = mapping_v2.entries_by_key(document, keys) if isinstance(document, dict) else {}
        if not entries:
            if response.ok:
                raise AmbiguousSubmitError(
                    f"ShipStation took {action} but answered without its shipments"
                )
            raise BackendError(self._client.failure(response, action))
        answers: dict[str, str | BackendError] = {}
        refused: dict[str, BackendError] = {}
        for key, entry in entries.items():
            shipment_id = text(entry.get("shipment_id"))
            if shipment_id is not None and not entry.get("errors"):
                answers[key] = shipment_id
            else:
                reason = mapping_v2.error_messages(entry) or "no reason given"
                refused[key] = BackendError(
                    self._client.redact(f"ShipStation refused {key}: {reason}")
                )
        if refused:
            try:
                existing = self._lookup(list(refused), confirm_absent=True)
            except BackendError:
                existing = {}  # the refusals are still the answers to give
            for key, refusal in refused.items():
                answers[key] = existing[key].backend_order_id if key in existing else refusal
        return answers

    def _lookup(self, keys: Sequence[str], *, confirm_absent: bool) -> dict[str, RemoteOrder]:
        """lookup_many; ``confirm_absent`` asks for each key the list did not show, by itself.

        That is for a create refused as a duplicate just now: a list that lags behind the
        create must not turn a shipment that exists into a refusal.
        """
        wanted = [key for key in dict.fromkeys(keys) if mapping_v2.key_error(key) is None]
        with self._sent_lock:
            sent = {key: self._sent_at[key] for key in wanted if key in self._sent_at}
        found: dict[str, RemoteOrder] = {}
        one_by_one = [key for key in wanted if key not in sent]
        if len(sent) > 1:
            left = self._list_created(sent, found)
            one_by_one += [key for key in sent if key not in found] if confirm_absent else left
        else:
            one_by_one += list(sent)
        for key in one_by_one:
            shipment = self._by_key(key)
            if shipment is not None:
                found[key] = _remote(key, shipment)
        return found

    def _update(self, order: FulfillmentOrder, shipment_id: str) -> str | BackendError | None:
        """PUT the whole shipment: its id, the refusal, or None when the answer was lost."""
        action = f"update of {order.key}"
        body = json_bytes(self._shipment_body(order))
        try:
            response = self._client.send("PUT", _path(SHIPMENTS, shipment_id), body=body)
        except requests.RequestException as error:
            message = self._client.redact(f"ShipStation {action} failed: {error}")
            if never_sent(error):
                return BackendError(message)
            logger.warning("%s; the update may have landed", message)
            return None
        if response.ok:
            return shipment_id
        failure = self._client.failure(response, action)
        if response.status_code >= 500:
            logger.warning("%s; the update may have landed", failure)
            return None
        return self._locked(order.key, shipment_id, failure) or BackendError(failure)

    def _locked(self, key: str, shipment_id: str, failure: str) -> OrderLockedError | None:
        """Tell a locked shipment from an invalid update by looking, not by the message."""
        try:
            shipment = self._client.get(_path(SHIPMENTS, shipment_id), {})
        except BackendError:
            return None  # the refusal is still the error to report
        status = shipment.get("shipment_status")
        if status in mapping_v2.OPEN_STATUSES:
            return None
        return OrderLockedError(
            f"{key} is {status} at ShipStation (shipment {shipment_id}) and takes no updates:"
            f" {failure}"
        )

    def _list_created(
        self, sent: Mapping[str, dt.datetime], found: dict[str, RemoteOrder]
    ) -> list[str]:
        """Find ``sent`` keys among the shipments created since; the keys left to ask for.

        Keys the list does not show are absent, unless the list stopped early because asking
        key by key would take fewer requests.
        """
        start = min(sent.values()) - CLOCK_SKEW
        params = {
            "created_at_start": mapping_v2.query_time(start),
            "sort_by": "created_at",
            "sort_dir": "asc",
        }
        page = 1
        while True:
            document = self._page(SHIPMENTS, params, page)
            for shipment in document.get("shipments") or []:
                key = shipment.get("external_shipment_id")
                if key in sent:
                    found[key] = _remote(key, shipment)
            missing = [key for key in sent if key not in found]
            pages_left = int(document.get("pages") or 0) - page
            if pages_left <= 0 or not missing:
                return []
            if pages_left > len(missing):
                return missing
            page += 1

    def _by_key(self, key: str) -> dict[str, Any] | None:
        """The shipment with this external_shipment_id, or None (404)."""
        path = _path(SHIPMENTS, "external_shipment_id", key)
        try:
            response = self._client.send("GET", path)
        except requests.RequestException as error:
            raise BackendError(
                self._client.redact(f"ShipStation lookup of {key} failed: {error}")
            ) from error
        if response.status_code == 404:
            return None
        if not response.ok:
            raise BackendError(self._client.failure(response, f"lookup of {key}"))
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict) or document.get("external_shipment_id") != key:
            raise BackendError(f"ShipStation's lookup of {key} answered another shipment")
        return document

    def _pages(self, path: str, params: Mapping[str, str], field: str) -> Iterator[dict[str, Any]]:
        """Every record of a V2 list, page after page."""
        page = 1
        while True:
            document = self._page(path, params, page)
            yield from document.get(field) or []
            if page >= int(document.get("pages") or 0):
                return
            page += 1

    def _page(self, path: str, params: Mapping[str, str], page: int) -> dict[str, Any]:
        return self._client.get(path, {**params, "page": str(page), "page_size": str(PAGE_SIZE)})


def _path(*parts: str) -> str:
    """A path of the API from its segments; ids are quoted, as they come from outside."""
    head, *rest = parts
    return "/".join([head, *(quote(part, safe="") for part in rest)])


def _remote(key: str, shipment: Mapping[str, Any]) -> RemoteOrder:
    return RemoteOrder(
        key=key,
        backend_order_id=str(shipment["shipment_id"]),
        status=mapping_v2.remote_status(shipment),
    )
