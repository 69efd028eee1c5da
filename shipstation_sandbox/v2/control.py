"""Out-of-process control routes: play the warehouse side of a V2 sandbox run as a CLI.

They mirror the store methods a test calls in-process, need no key, and stay out of the rate
limit and the request log, so driving the sandbox never skews what a client sees. Errors use
the V2 error body.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from shipstation_sandbox.v2.errors import error_response
from shipstation_sandbox.v2.store import (
    ConflictError,
    InvalidStatusError,
    LabelNotFoundError,
    ShipmentNotFoundError,
    ShipStationV2Store,
)

CONTROL_PREFIX = "/_sandbox/"


def create_control_blueprint(store: ShipStationV2Store) -> Blueprint:
    """Routes under ``/_sandbox/`` acting on ``store``."""
    control = Blueprint("sandbox_v2_control", __name__, url_prefix=CONTROL_PREFIX.rstrip("/"))

    @control.post("/label")
    def label() -> Response:
        """Buy a label: {shipment_id | external_shipment_id, packages?, tracking_numbers?,
        carrier_id?, carrier_code?, service_code?}."""
        body = _body()
        problem = _check_types(
            body,
            text=(
                "shipment_id",
                "external_shipment_id",
                "carrier_id",
                "carrier_code",
                "service_code",
            ),
        )
        count = body.get("packages")
        numbers = body.get("tracking_numbers")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            problem = problem or "packages must be a whole number (how many packages)."
        if numbers is not None and (
            not isinstance(numbers, list) or not all(isinstance(n, str) and n for n in numbers)
        ):
            problem = problem or "tracking_numbers must be an array of strings."
        if problem:
            return _bad_request(problem)
        try:
            made = store.create_label(
                shipment_id=body.get("shipment_id"),
                external_shipment_id=body.get("external_shipment_id"),
                package_count=count,
                tracking_numbers=numbers,
                carrier_id=body.get("carrier_id"),
                carrier_code=body.get("carrier_code"),
                service_code=body.get("service_code"),
            )
        except ShipmentNotFoundError as error:
            return error_response(404, str(error), error_code="not_found")
        except InvalidStatusError as error:
            return error_response(
                409, str(error), error_type="business_rules", error_code="invalid_status"
            )
        except ValueError as error:
            return _bad_request(str(error))
        return jsonify(made)

    @control.post("/split")
    def split() -> Response:
        """Split items off: {shipment_id | external_shipment_id, items: [{sku |
        external_order_item_id, quantity?}], new_external_shipment_id?, packages?}."""
        body = _body()
        problem = _check_types(
            body, text=("shipment_id", "external_shipment_id", "new_external_shipment_id")
        )
        items = body.get("items")
        packages = body.get("packages")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            problem = problem or "items must be an array of {sku | external_order_item_id}."
        if packages is not None and not isinstance(packages, list):
            problem = problem or "packages must be an array of packages."
        if problem:
            return _bad_request(problem)
        try:
            shipment_id = _shipment_id(store, body)
            original, part = store.split_shipment(
                shipment_id,
                items or [],
                new_external_shipment_id=body.get("new_external_shipment_id"),
                packages=packages,
            )
        except ShipmentNotFoundError as error:
            return error_response(404, str(error), error_code="not_found")
        except InvalidStatusError as error:
            return error_response(
                409, str(error), error_type="business_rules", error_code="invalid_status"
            )
        except ConflictError as error:
            return error_response(409, str(error), error_code="identifier_conflict")
        except ValueError as error:
            return _bad_request(str(error))
        return jsonify(original=original, split=part)

    @control.post("/void")
    def void() -> Response:
        """Void a label: {label_id}."""
        label_id = _body().get("label_id")
        if not isinstance(label_id, str) or not label_id:
            return _bad_request("label_id is required.")
        try:
            return jsonify(store.void_label(label_id))
        except LabelNotFoundError as error:
            return error_response(404, str(error), error_code="not_found")

    @control.get("/shipments")
    def shipments() -> Response:
        return jsonify(shipments=store.shipments())

    @control.get("/labels")
    def labels() -> Response:
        return jsonify(labels=store.labels())

    @control.post("/timeout_next_create")
    def timeout_next_create() -> Response:
        count = _body().get("n", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return _bad_request("n must be a non-negative integer.")
        store.timeout_next_create(count)
        return Response(status=204)

    return control


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _check_types(body: dict[str, Any], *, text: tuple[str, ...]) -> str | None:
    for name in text:
        if body.get(name) is not None and (not isinstance(body[name], str) or not body[name]):
            return f"{name} must be a non-empty string."
    return None


def _shipment_id(store: ShipStationV2Store, body: dict[str, Any]) -> str:
    if body.get("shipment_id"):
        return str(body["shipment_id"])
    if body.get("external_shipment_id"):
        return str(store.get_by_external_id(body["external_shipment_id"])["shipment_id"])
    raise ValueError("shipment_id or external_shipment_id is required.")


def _bad_request(message: str) -> Response:
    return error_response(400, message)
