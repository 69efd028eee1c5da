"""Out-of-process control routes: play the warehouse side of a sandbox running as a CLI.

They mirror the store methods a test calls in-process, need no credentials, and stay out of
the rate limit and the request log, so driving the sandbox never skews what a client sees.

- ``POST /_sandbox/ship`` ``{orderKey, trackingNumber?, carrierCode?, withLabel? (true),
  items? [{lineItemKey or sku, quantity}]}``: one label (a shipment) for the order, or for the
  units in ``items`` only (a split/partial shipment); answers the shipment record. The order
  turns shipped once every unit is labelled. 404 unknown order, 409 cancelled order or more
  units than remain unlabelled, 400 malformed body or items naming no line of the order.
  ``withLabel: false`` marks the whole order shipped with no shipment (no ``items`` then).
- ``POST /_sandbox/void`` ``{shipmentId}``: void that label as ``/shipments/voidlabel`` does;
  answers the voided shipment. 404 unknown shipment, 409 already voided, 400 bad id.
- ``GET /_sandbox/unshipped?orderKey=K``: ``{items: [{lineItemKey, sku, quantity}]}``, the
  units of each line not yet in a label.
- ``POST /_sandbox/cancel`` ``{orderKey}``: cancel an open order (409 if shipped).
- ``GET /_sandbox/orders``: ``{orders: [...]}``, every order.
- ``POST /_sandbox/timeout_next_create`` ``{n? (1)}``: the next ``n`` successful create calls
  (a ``createorder``, or a whole ``createorders`` batch) store their orders and go unanswered.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from shipstation_sandbox.responses import error_response
from shipstation_sandbox.store import (
    LabelAlreadyVoidedError,
    OrderLockedError,
    OrderNotFoundError,
    OverShipmentError,
    ShipmentItemsError,
    ShipmentNotFoundError,
    ShipStationStore,
)

CONTROL_PREFIX = "/_sandbox/"


def create_control_blueprint(store: ShipStationStore) -> Blueprint:
    """Routes under ``/_sandbox/`` acting on ``store``."""
    control = Blueprint("sandbox_control", __name__, url_prefix=CONTROL_PREFIX.rstrip("/"))

    @control.post("/ship")
    def ship() -> Response:
        body = _body()
        order_key = body.get("orderKey")
        tracking_number = body.get("trackingNumber")
        carrier_code = body.get("carrierCode")
        with_label = body.get("withLabel", True)
        items = body.get("items")
        if not isinstance(order_key, str) or not order_key:
            return error_response(400, "orderKey is required.")
        if not all(isinstance(value, str | None) for value in (tracking_number, carrier_code)):
            return error_response(400, "trackingNumber and carrierCode must be strings.")
        if not isinstance(with_label, bool):
            return error_response(400, "withLabel must be true or false.")
        try:
            shipment = store.ship(
                order_key,
                tracking_number=tracking_number,
                carrier_code=carrier_code,
                with_label=with_label,
                items=items,
            )
        except OrderNotFoundError as error:
            return error_response(404, str(error))
        except (OrderLockedError, OverShipmentError) as error:
            return error_response(409, str(error))
        except ShipmentItemsError as error:
            return error_response(400, str(error))
        return jsonify(shipment)

    @control.post("/void")
    def void() -> Response:
        shipment_id = _body().get("shipmentId")
        if not isinstance(shipment_id, int) or isinstance(shipment_id, bool):
            return error_response(400, "shipmentId must be an integer.")
        try:
            return jsonify(store.void_label(shipment_id))
        except ShipmentNotFoundError as error:
            return error_response(404, str(error))
        except LabelAlreadyVoidedError as error:
            return error_response(409, str(error))

    @control.get("/unshipped")
    def unshipped() -> Response:
        order_key = request.args.get("orderKey")
        if not order_key:
            return error_response(400, "orderKey is required.")
        try:
            return jsonify(items=store.unshipped_units(order_key))
        except OrderNotFoundError as error:
            return error_response(404, str(error))

    @control.post("/cancel")
    def cancel() -> Response:
        order_key = _body().get("orderKey")
        if not isinstance(order_key, str) or not order_key:
            return error_response(400, "orderKey is required.")
        try:
            return jsonify(store.cancel(order_key))
        except OrderNotFoundError as error:
            return error_response(404, str(error))
        except OrderLockedError as error:
            return error_response(409, str(error))

    @control.get("/orders")
    def orders() -> Response:
        return jsonify(orders=store.orders())

    @control.post("/timeout_next_create")
    def timeout_next_create() -> Response:
        count = _body().get("n", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return error_response(400, "n must be a non-negative integer.")
        store.timeout_next_create(count)
        return Response(status=204)

    return control


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}
