"""The sandbox's order book: orders, label shipments and the switch that fakes a lost answer.

One lock guards everything, so HTTP handlers on many threads and a test driving the warehouse
side (``ship``, ``cancel``) see one consistent history. Every method hands out copies.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shipstation_sandbox import timestamps
from shipstation_sandbox.faults import LostAnswers
from shipstation_sandbox.validation import OPEN_STATUSES, ValidationError, normalize_order

# Not settled by the docs: how ShipStation numbers orders and shipments. Both are positive
# integers in the live API; distinct ranges make an orderId passed as a shipmentId stand out.
FIRST_ORDER_ID = 100_000_001
FIRST_SHIPMENT_ID = 500_000_001

# Not settled by the docs: what carrier and service a label gets when the order names none.
DEFAULT_CARRIER_CODE = "stamps_com"
DEFAULT_SERVICE_CODE = "usps_first_class_mail"


class OrderNotFoundError(LookupError):
    """No order has the given orderId or orderKey."""


class OrderLockedError(Exception):
    """The order is shipped or cancelled, and ShipStation no longer lets it change.

    ``order_id`` is the locked order's id when the refusal concerns an existing order.
    """

    def __init__(self, message: str, *, order_id: int | None = None) -> None:
        super().__init__(message)
        self.order_id = order_id


class ShipmentNotFoundError(LookupError):
    """No shipment has the given shipmentId."""


class LabelAlreadyVoidedError(Exception):
    """The shipment's label is voided already."""


class ShipmentItemsError(ValueError):
    """The items asked to ship are malformed or name no line of the order."""


class OverShipmentError(Exception):
    """More units were asked to ship than the order has left without a label."""


class ShipStationStore:
    """Thread-safe in-memory ShipStation account: the state behind the HTTP routes."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._orders: dict[int, dict[str, Any]] = {}
        self._order_ids_by_key: dict[str, int] = {}
        self._shipments: list[dict[str, Any]] = []
        self._next_order_id = itertools.count(FIRST_ORDER_ID)
        self._next_shipment_id = itertools.count(FIRST_SHIPMENT_ID)
        self._lost_answers = LostAnswers()
        # The units each label took from its order's lines, by line identity: the count behind
        # "shipped once every unit is in a label". A voided label's units count no more.
        self._label_units: dict[int, Counter[tuple[str, Any]]] = {}

    def create_or_update(self, payload: Any) -> dict[str, Any]:
        """Apply a ``createorder`` body: create, or replace the open order with its orderKey.

        Raises ``ValidationError`` for a malformed body and ``OrderLockedError`` when the order
        with that key is shipped or cancelled; in both cases nothing changes.
        """
        fields = normalize_order(payload)
        # Not settled by the docs: an order without orderKey. ShipStation then generates a key,
        # so every such call creates a new order; a random key does the same here.
        order_key = fields["orderKey"] or uuid.uuid4().hex
        with self._lock:
            moment = timestamps.format_timestamp(timestamps.now())
            order_id = self._order_ids_by_key.get(order_key)
            previous = self._orders.get(order_id) if order_id is not None else None
            if previous is not None and previous["orderStatus"] not in OPEN_STATUSES:
                raise OrderLockedError(
                    f"The order with orderKey '{order_key}' is {previous['orderStatus']}"
                    " and can no longer be updated.",
                    order_id=order_id,
                )
            if order_id is None:
                order_id = next(self._next_order_id)
                self._order_ids_by_key[order_key] = order_id
            # ShipStation's docs say an update replaces the whole order: fields left out of the
            # body are cleared, so only the server-owned fields survive from the previous version.
            order = {
                "orderId": order_id,
                **fields,
                "orderKey": order_key,
                "createDate": previous["createDate"] if previous else moment,
                "modifyDate": moment,
                "shipDate": None,
            }
            if order["orderStatus"] == "shipped":
                # Not settled by the docs: the shipDate of an order created or updated straight to
                # shipped; the day of the call is the likeliest reading.
                order["shipDate"] = timestamps.today().isoformat()
            self._orders[order_id] = order
            return copy.deepcopy(order)

    def create_or_update_many(self, payloads: Sequence[Any]) -> list[dict[str, Any]]:
        """Apply a ``createorders`` body: each order exactly as ``create_or_update`` would.

        Returns one ``{orderId, orderNumber, orderKey, success, errorMessage}`` per payload, in
        order. The whole batch is applied under the lock, so no other call interleaves with it;
        an orderKey sent twice in one batch is upserted twice, the later order winning.
        """
        # Not settled by the docs: whether one invalid or locked order fails the whole batch.
        # The documented answer has a success flag per order, so each order stands alone here:
        # a refused one gets success false and an errorMessage, the others are stored.
        with self._lock:
            return [self._batch_result(payload) for payload in payloads]

    def _batch_result(self, payload: Any) -> dict[str, Any]:
        try:
            order = self.create_or_update(payload)
        except ValidationError as error:
            return _failed_result(payload, None, _validation_message(error))
        except OrderLockedError as error:
            # Not settled by the docs: the orderId of a refused order. A locked order exists, so
            # its id is given (the client can look it up); an invalid one has none.
            return _failed_result(payload, error.order_id, str(error))
        return {
            "orderId": order["orderId"],
            "orderNumber": order["orderNumber"],
            "orderKey": order["orderKey"],
            "success": True,
            "errorMessage": None,
        }

    def orders(self) -> list[dict[str, Any]]:
        """Every order, oldest first, as ``GET /orders`` would return it."""
        with self._lock:
            return [copy.deepcopy(order) for order in self._orders.values()]

    def get_order(self, order_id: int) -> dict[str, Any]:
        """The order with this orderId; raises ``OrderNotFoundError``."""
        with self._lock:
            return copy.deepcopy(self._order_by_id(order_id))

    def find_orders(
        self,
        *,
        order_number: str | None = None,
        order_status: str | None = None,
        store_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Orders matching the ``GET /orders`` filters, oldest first."""

        # ShipStation's public docs describe the orderNumber filter as a "starts with" search.
        # Not settled by the docs: case sensitivity; it is ignored, as in a SQL Server LIKE.
        def matches(order: dict[str, Any]) -> bool:
            number = (order["orderNumber"] or "").casefold()
            return (
                (order_number is None or number.startswith(order_number.casefold()))
                and (order_status is None or order["orderStatus"] == order_status)
                and (store_id is None or order["advancedOptions"]["storeId"] == store_id)
            )

        with self._lock:
            return [copy.deepcopy(order) for order in self._orders.values() if matches(order)]

    def shipments(self) -> list[dict[str, Any]]:
        """Every label shipment, oldest first, with its items."""
        with self._lock:
            return copy.deepcopy(self._shipments)

    def find_shipments(
        self,
        *,
        order_number: str | None = None,
        order_id: int | None = None,
        create_date_start: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Label shipments matching the ``GET /shipments`` filters, oldest first."""

        # Not settled by the docs: whether the shipments orderNumber filter is a prefix search
        # like the orders one; an exact match is the narrower reading.
        def matches(shipment: dict[str, Any]) -> bool:
            return (
                (order_number is None or shipment["orderNumber"] == order_number)
                and (order_id is None or shipment["orderId"] == order_id)
                and (
                    create_date_start is None
                    or timestamps.parse_timestamp(shipment["createDate"]) >= create_date_start
                )
            )

        with self._lock:
            return [copy.deepcopy(s) for s in self._shipments if matches(s)]

    def ship(
        self,
        order_key: str,
        tracking_number: str | None = None,
        carrier_code: str | None = None,
        with_label: bool = True,
        items: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Ship an order, or part of it, from the warehouse side, as a ShipStation user would.

        With a label, a shipment appears in ``GET /shipments`` with its own shipmentId, tracking
        number, carrier and ``shipmentItems``. ``items`` picks what goes in this parcel, each
        ``{"lineItemKey": ..., "quantity": n}`` or ``{"sku": ..., "quantity": n}``; without it
        the label carries every unit not yet in a label. The order turns shipped once every unit
        is in a (not voided) label; until then it keeps its status. An order with no unit left
        may still get further labels (more packages), which carry its items and take no units.

        Without a label the order is only marked shipped, like ``/orders/markasshipped``: the
        returned record has no ``shipmentId`` and is listed nowhere.

        Raises ``OrderNotFoundError``, ``OrderLockedError``, ``ShipmentItemsError`` for items
        that name nothing on the order, and ``OverShipmentError`` for more units than remain.
        """
        # Not settled by the docs: how a split shows in the V1 API. The docs name read-only
        # advancedOptions.mergedOrSplit and parentId and say a split order's orderKey is shared,
        # but not which order keeps which items, the child's orderNumber and status, nor how an
        # upsert by orderKey alone picks one of them. So every parcel stays a shipment of the one
        # order (no child orders, advancedOptions unchanged), which is what GET /shipments shows
        # for a split either way: one shipment per label, each with its own items.
        ship_date = timestamps.today().isoformat()
        with self._lock:
            order = self._order_by_key(order_key)
            if not with_label:
                if items is not None:
                    raise ShipmentItemsError(
                        "Items can only be shipped with a label; marking an order shipped"
                        " ships all of it."
                    )
                self._mark_shipped(order, ship_date)
                return self._shipment_record(
                    order, None, ship_date, tracking_number, carrier_code, order["items"]
                )
            if order["orderStatus"] != "shipped" and order["orderStatus"] not in OPEN_STATUSES:
                raise OrderLockedError(
                    f"The order with orderKey '{order_key}' is {order['orderStatus']}."
                )
            remaining = self._remaining_units(order)
            taken = remaining if items is None else _take_units(order["items"], remaining, items)
            if any(taken):
                # Each parcel lists the order's lines it holds, with the quantity in it.
                parcel = [
                    {**line, "quantity": count}
                    for line, count in zip(order["items"], taken, strict=True)
                    if count > 0
                ]
            else:
                # Not settled by the docs: the items of a further label for an order whose units
                # are all labelled already (or that has none). It lists the order's items, as
                # the sandbox always did, and takes no units, so it never skews the count.
                parcel = order["items"]
            units_left = [left - count for left, count in zip(remaining, taken, strict=True)]
            if order["orderStatus"] != "shipped" and not any(units_left):
                self._mark_shipped(order, ship_date)
            shipment_id = next(self._next_shipment_id)
            # Not settled by the docs: the form of a generated tracking number; this one has the
            # 22 digits of a USPS number and names the shipment, which helps when debugging.
            shipment = self._shipment_record(
                order,
                shipment_id,
                ship_date,
                tracking_number or f"9400{shipment_id:018d}",
                carrier_code or order["carrierCode"] or DEFAULT_CARRIER_CODE,
                parcel,
            )
            self._shipments.append(shipment)
            self._label_units[shipment_id] = _units_by_identity(order["items"], taken)
            return copy.deepcopy(shipment)

    def void_label(self, shipment_id: int) -> dict[str, Any]:
        """Void a label, as ``POST /shipments/voidlabel`` does; returns the voided shipment.

        The shipment stays listed with ``voided: true`` and a ``voidDate``, and its units count
        as unshipped again. Raises ``ShipmentNotFoundError`` and ``LabelAlreadyVoidedError``.
        """
        with self._lock:
            shipment = self._shipment_by_id(shipment_id)
            if shipment["voided"]:
                raise LabelAlreadyVoidedError(
                    f"The label of shipment {shipment_id} has already been voided."
                )
            order = self._orders[shipment["orderId"]]
            was_labelled = self._fully_labelled(order)
            moment = timestamps.format_timestamp(timestamps.now())
            shipment["voided"] = True
            # Not settled by the docs: voidDate on a shipment that is not voided. The field is
            # only added once a label is voided (ShipStation's shipment model has it; the
            # sandbox's listing keeps its former fields for labels that are not voided).
            shipment["voidDate"] = moment
            # Not settled by the docs: what voiding does to the order's status. Here an order
            # that was shipped because all its units were labelled, and no longer is, goes back
            # to awaiting_shipment (and loses its shipDate), so the units can be shipped again.
            # An order that was shipped while some of its units had no label (marked shipped,
            # or shipped without a label) stays shipped; so does a cancelled one.
            if (
                order["orderStatus"] == "shipped"
                and was_labelled
                and not self._fully_labelled(order)
            ):
                order["orderStatus"] = "awaiting_shipment"
                order["shipDate"] = None
                order["modifyDate"] = moment
            return copy.deepcopy(shipment)

    def unshipped_units(self, order_key: str) -> list[dict[str, Any]]:
        """The order's lines with the units not yet in a label: ``{lineItemKey, sku, quantity}``.

        Raises ``OrderNotFoundError``.
        """
        with self._lock:
            order = self._order_by_key(order_key)
            return [
                {"lineItemKey": line["lineItemKey"], "sku": line["sku"], "quantity": left}
                for line, left in zip(order["items"], self._remaining_units(order), strict=True)
            ]

    def mark_as_shipped(self, order_id: int, *, ship_date: str | None = None) -> dict[str, Any]:
        """Apply ``/orders/markasshipped``: the order turns shipped and no shipment is listed.

        Raises ``OrderNotFoundError`` and ``OrderLockedError``.
        """
        with self._lock:
            order = self._order_by_id(order_id)
            self._mark_shipped(order, ship_date or timestamps.today().isoformat())
            return copy.deepcopy(order)

    def cancel(self, order_key: str) -> dict[str, Any]:
        """Cancel an order from the ShipStation side; cancelling twice changes nothing.

        Raises ``OrderNotFoundError``, and ``OrderLockedError`` for a shipped order.
        """
        with self._lock:
            order = self._order_by_key(order_key)
            if order["orderStatus"] == "shipped":
                raise OrderLockedError(f"The order with orderKey '{order_key}' is shipped.")
            if order["orderStatus"] != "cancelled":
                order["orderStatus"] = "cancelled"
                order["modifyDate"] = timestamps.format_timestamp(timestamps.now())
            return copy.deepcopy(order)

    def timeout_next_create(self, n: int = 1) -> None:
        """Make the next ``n`` successful create calls store their orders but never answer.

        A create call is a ``createorder`` or a whole ``createorders`` batch (every order in it
        is applied, then the one answer is dropped).
        """
        self._lost_answers.arm(n)

    @property
    def pending_create_timeouts(self) -> int:
        """How many of the timeouts asked for have not fired yet."""
        return self._lost_answers.pending

    def take_create_timeout(self) -> bool:
        """Consume one pending timeout; true when the current create call must go unanswered."""
        return self._lost_answers.take()

    def _order_by_id(self, order_id: int) -> dict[str, Any]:
        try:
            return self._orders[order_id]
        except KeyError:
            raise OrderNotFoundError(f"No order has orderId {order_id}.") from None

    def _order_by_key(self, order_key: str) -> dict[str, Any]:
        order_id = self._order_ids_by_key.get(order_key)
        if order_id is None:
            raise OrderNotFoundError(f"No order has orderKey '{order_key}'.")
        return self._orders[order_id]

    def _mark_shipped(self, order: dict[str, Any], ship_date: str) -> None:
        # Not settled by the docs: marking a shipped or cancelled order as shipped again. The lock
        # rule of createorder is applied: only open orders change.
        if order["orderStatus"] not in OPEN_STATUSES:
            raise OrderLockedError(
                f"The order with orderKey '{order['orderKey']}' is {order['orderStatus']}."
            )
        order["orderStatus"] = "shipped"
        order["shipDate"] = ship_date
        order["modifyDate"] = timestamps.format_timestamp(timestamps.now())

    def _shipment_by_id(self, shipment_id: int) -> dict[str, Any]:
        for shipment in self._shipments:
            if shipment["shipmentId"] == shipment_id:
                return shipment
        raise ShipmentNotFoundError(f"No shipment has shipmentId {shipment_id}.")

    def _live_labels(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            shipment
            for shipment in self._shipments
            if shipment["orderId"] == order["orderId"] and not shipment["voided"]
        ]

    def _remaining_units(self, order: dict[str, Any]) -> list[int]:
        """Per line of the order, the units that no label (not voided) holds."""
        labelled: Counter[tuple[str, Any]] = Counter()
        for shipment in self._live_labels(order):
            labelled.update(self._label_units.get(shipment["shipmentId"], {}))
        remaining = []
        for index, line in enumerate(order["items"]):
            ordered = _ordered_units(line)
            identity = _line_identity(line, index)
            covered = min(ordered, labelled[identity])
            labelled[identity] -= covered
            remaining.append(ordered - covered)
        return remaining

    def _fully_labelled(self, order: dict[str, Any]) -> bool:
        return bool(self._live_labels(order)) and not any(self._remaining_units(order))

    @staticmethod
    def _shipment_record(
        order: dict[str, Any],
        shipment_id: int | None,
        ship_date: str,
        tracking_number: str | None,
        carrier_code: str | None,
        parcel: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "shipmentId": shipment_id,
            "orderId": order["orderId"],
            "orderKey": order["orderKey"],
            "orderNumber": order["orderNumber"],
            "createDate": timestamps.format_timestamp(timestamps.now()),
            "shipDate": ship_date,
            "trackingNumber": tracking_number,
            "carrierCode": carrier_code,
            "serviceCode": order["serviceCode"] or DEFAULT_SERVICE_CODE,
            "voided": False,
            "shipmentItems": copy.deepcopy(parcel),
        }


def _failed_result(payload: Any, order_id: int | None, message: str) -> dict[str, Any]:
    # Not settled by the docs: what a failed result echoes. The orderNumber and orderKey sent
    # are given back when they are text, so a client can match results to its orders.
    sent = payload if isinstance(payload, Mapping) else {}

    def echoed(name: str) -> str | None:
        value = sent.get(name)
        return value if isinstance(value, str) else None

    return {
        "orderId": order_id,
        "orderNumber": echoed("orderNumber"),
        "orderKey": echoed("orderKey"),
        "success": False,
        "errorMessage": message,
    }


def _validation_message(error: ValidationError) -> str:
    # Not settled by the docs: the wording of errorMessage; it lists each field's problems.
    problems = "; ".join(
        f"{field}: {' '.join(messages)}" for field, messages in error.model_state.items()
    )
    return f"{error} {problems}"


def _ordered_units(line: Mapping[str, Any]) -> int:
    # Not settled by the docs: a line without a quantity. It has no units to ship.
    return max(line.get("quantity") or 0, 0)


def _line_identity(line: Mapping[str, Any], index: int) -> tuple[str, Any]:
    """What ties labelled units to a line across order updates: lineItemKey, else sku."""
    # The V1 Order model gives an item lineItemKey (optional) and sku; neither is required, so a
    # line with neither is known only by its position.
    if line.get("lineItemKey"):
        return ("lineItemKey", line["lineItemKey"])
    if line.get("sku"):
        return ("sku", line["sku"])
    return ("line", index)


def _units_by_identity(lines: list[dict[str, Any]], taken: list[int]) -> Counter[tuple[str, Any]]:
    units: Counter[tuple[str, Any]] = Counter()
    for index, (line, count) in enumerate(zip(lines, taken, strict=True)):
        if count:
            units[_line_identity(line, index)] += count
    return units


def _take_units(lines: list[dict[str, Any]], remaining: list[int], requested: Any) -> list[int]:
    """Per line, the units a parcel of ``requested`` items takes; raises for impossible asks."""
    if not isinstance(requested, Sequence) or isinstance(requested, str) or not requested:
        raise ShipmentItemsError(
            "items must be a non-empty list of {lineItemKey or sku, quantity}."
        )
    left = list(remaining)
    taken = [0] * len(lines)
    for position, wanted in enumerate(requested):
        if not isinstance(wanted, Mapping):
            raise ShipmentItemsError(f"items[{position}] must be an object.")
        quantity = wanted.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ShipmentItemsError(f"items[{position}].quantity must be a positive integer.")
        line_item_key, sku = wanted.get("lineItemKey"), wanted.get("sku")
        # Not settled by the docs: how a partial shipment names its items (it is done in the
        # UI). lineItemKey wins when both are given; a sku takes units from every line with that
        # sku, first line first (two lines may share a sku with different options).
        if isinstance(line_item_key, str) and line_item_key:
            name = f"lineItemKey '{line_item_key}'"
            matching = [i for i, line in enumerate(lines) if line["lineItemKey"] == line_item_key]
        elif isinstance(sku, str) and sku:
            name = f"sku '{sku}'"
            matching = [i for i, line in enumerate(lines) if line["sku"] == sku]
        else:
            raise ShipmentItemsError(f"items[{position}] needs a lineItemKey or a sku.")
        if not matching:
            raise ShipmentItemsError(f"The order has no item with {name}.")
        available = sum(left[i] for i in matching)
        if quantity > available:
            raise OverShipmentError(
                f"Cannot ship {quantity} of {name}: only {available} left without a label."
            )
        for i in matching:
            count = min(left[i], quantity)
            left[i] -= count
            taken[i] += count
            quantity -= count
    return taken
