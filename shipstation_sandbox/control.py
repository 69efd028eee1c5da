"""Out-of-process control routes: play the warehouse side of a sandbox running as a CLI.

They mirror the store methods a test calls in-process, need no credentials, and stay out of
the rate limit and the request log, so driving the sandbox never skews what a client sees.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from shipstation_sandbox.responses import error_response
from shipstation_sandbox.store import OrderLockedError, OrderNotFoundError, ShipStationStore

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
            )
        except OrderNotFoundError as error:
            return error_response(404, str(error))
        except OrderLockedError as error:
            return error_response(409, str(error))
        return jsonify(shipment)

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
