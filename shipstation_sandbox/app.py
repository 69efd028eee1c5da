"""Flask routes of ShipStation API v1's order endpoints, guarded as the live API guards them.

Every API request passes the same gate: added latency, HTTP Basic auth, then the rate limit.
The ``/_sandbox/`` control routes (see ``control.py``) skip the gate and the request log.

- ``POST /orders/createorder``: one Order; creates it, or replaces the open order with its
  orderKey (400 for a shipped or cancelled one). Answers the stored order.
- ``POST /orders/createorders``: a JSON array of 1 to 100 Orders (400 otherwise), each applied
  as createorder applies it. Answers ``{hasErrors, results: [{orderId, orderNumber, orderKey,
  success, errorMessage}]}`` in request order; a refused order only fails its own result.
- ``GET /orders``, ``GET /orders/{orderId}``, ``POST /orders/markasshipped``.
- ``GET /shipments``: label shipments (voided ones too, with ``voided: true`` and ``voidDate``);
  ``shipmentItems`` is null unless ``includeShipmentItems=true``.
- ``POST /shipments/voidlabel`` ``{shipmentId}``: ``{approved, message}``; the label's units
  count as unshipped again.
"""

from __future__ import annotations

import hmac
import math
import threading
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from shipstation_sandbox import timestamps
from shipstation_sandbox.control import CONTROL_PREFIX, create_control_blueprint
from shipstation_sandbox.faults import unanswered
from shipstation_sandbox.rate_limit import FixedWindowRateLimiter
from shipstation_sandbox.request_log import RequestLog
from shipstation_sandbox.responses import error_response
from shipstation_sandbox.store import (
    LabelAlreadyVoidedError,
    OrderLockedError,
    OrderNotFoundError,
    ShipmentNotFoundError,
    ShipStationStore,
)
from shipstation_sandbox.validation import (
    ORDER_STATUSES,
    ValidationError,
    normalize_mark_as_shipped,
    normalize_void_label,
)

DEFAULT_PAGE_SIZE = 100
# The V1 docs: "at most 100" orders per createorders request.
MAX_BATCH_ORDERS = 100
MAX_PAGE_SIZE = 500


def create_app(
    store: ShipStationStore,
    *,
    api_key: str,
    api_secret: str,
    latency_seconds: float = 0.0,
    rate_limiter: FixedWindowRateLimiter | None = None,
    request_log: RequestLog | None = None,
    timeout_hang_seconds: float = 0.0,
    stopping: threading.Event | None = None,
) -> Flask:
    """Build the sandbox's WSGI app around ``store``.

    ``stopping`` cuts short the added latency and held connections when the server shuts down;
    ``timeout_hang_seconds`` is how long a create call (createorder or createorders) picked by
    ``store.timeout_next_create`` holds its connection before dropping it unanswered.
    """
    app = Flask(__name__)
    # Keep ShipStation's field order in answers instead of sorting keys.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(create_control_blueprint(store))
    stop_event = stopping if stopping is not None else threading.Event()

    @app.before_request
    def gate() -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        if latency_seconds > 0:
            # Each request has its own server thread, so delays overlap instead of queueing;
            # waiting on the stop event lets shutdown cut them short.
            stop_event.wait(latency_seconds)
        if not _authorized(api_key, api_secret):
            # Not settled by the docs: whether a refused login uses up rate budget and whether
            # it carries the rate headers. Here it does neither.
            response = error_response(401, "Authorization has been denied for this request.")
            response.headers["WWW-Authenticate"] = 'Basic realm="ShipStation"'
            return response
        # Without a limiter no X-Rate-Limit-* headers are sent. The live API always sends them;
        # leaving them out checks that a client copes when they are missing.
        if rate_limiter is not None:
            decision = rate_limiter.acquire()
            g.rate_decision = decision
            if not decision.allowed:
                # Not settled by the docs: the body of a 429; clients should go by the status
                # and X-Rate-Limit-Reset alone.
                return error_response(429, "Too Many Requests")
        return None

    @app.after_request
    def finish(response: Response) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return response
        decision = g.get("rate_decision")
        if decision is not None:
            response.headers.update(decision.headers())
        if request_log is not None:
            status = None if g.get("dropped") else response.status_code
            body = request.get_json(silent=True) if request.method == "POST" else None
            request_log.record(request.method, request.path, request.args.to_dict(), status, body)
        return response

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError) -> Response:
        response = jsonify(Message=str(error), ModelState=error.model_state)
        response.status_code = 400
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return error_response(error.code or 500, error.description or error.name)

    @app.post("/orders/createorder")
    def create_order() -> Response:
        try:
            order = store.create_or_update(_json_body())
        except OrderLockedError as error:
            # Not settled by the docs: the status for updating a locked order. ShipStation
            # refuses it with a 400-class answer and a message; 400 is the likeliest.
            return error_response(400, str(error))
        if store.take_create_timeout():
            return unanswered(timeout_hang_seconds, stop_event)
        return jsonify(order)

    @app.post("/orders/createorders")
    def create_orders() -> Response:
        body = _json_body()
        # Not settled by the docs: the answer to a batch that is not a list, is empty or holds
        # more than the documented 100 orders; each is refused whole with 400 and a message.
        if not isinstance(body, list):
            return error_response(400, "The request body must be a JSON array of orders.")
        if not body:
            return error_response(400, "The request must contain at least one order.")
        if len(body) > MAX_BATCH_ORDERS:
            return error_response(
                400,
                f"A createorders request may contain at most {MAX_BATCH_ORDERS} orders;"
                f" this one has {len(body)}.",
            )
        results = store.create_or_update_many(body)
        # Not settled by the docs: a batch is one request, so it spends one unit of rate budget
        # and one pending timeout. The timeout fires for any batch answered 200, even one whose
        # orders were all refused; a batch refused whole (400) leaves it pending.
        if store.take_create_timeout():
            return unanswered(timeout_hang_seconds, stop_event)
        return jsonify(hasErrors=not all(result["success"] for result in results), results=results)

    # ShipStation v1 has no /orders/cancel: a client cancels by sending createorder with
    # orderStatus "cancelled" for an open order, which create_or_update handles like any update.

    @app.get("/orders")
    def list_orders() -> Response:
        query = _Query(request.args)
        status = query.text("orderStatus")
        if status is not None and status not in ORDER_STATUSES:
            # Not settled by the docs: an unknown orderStatus filter; refusing it surfaces typos.
            query.fail("orderStatus", f"'{status}' is not a valid order status.")
        # The notes list orderNumber, orderStatus, page and pageSize; storeId is a filter of
        # ShipStation's public docs that the notes leave out. There is no orderKey filter.
        order_number = query.text("orderNumber")
        store_id = query.integer("storeId")
        page, page_size = query.paging()
        query.raise_errors()
        orders = store.find_orders(
            order_number=order_number, order_status=status, store_id=store_id
        )
        return _paged("orders", orders, page, page_size)

    @app.get("/orders/<int:order_id>")
    def get_order(order_id: int) -> Response:
        try:
            return jsonify(store.get_order(order_id))
        except OrderNotFoundError as error:
            return error_response(404, str(error))

    @app.post("/orders/markasshipped")
    def mark_as_shipped() -> Response:
        fields = normalize_mark_as_shipped(_json_body())
        # carrierCode, trackingNumber and the notify flags are checked but kept nowhere the API
        # shows them: per the notes, an order marked shipped shows only as orderStatus=shipped.
        try:
            order = store.mark_as_shipped(fields["orderId"], ship_date=fields["shipDate"])
        except (OrderNotFoundError, OrderLockedError) as error:
            # Not settled by the docs: the status for an unknown or locked orderId. The id comes
            # in the body, not the path, so 400 is the likelier answer than 404.
            return error_response(400, str(error))
        return jsonify(orderId=order["orderId"], orderNumber=order["orderNumber"])

    @app.get("/shipments")
    def list_shipments() -> Response:
        query = _Query(request.args)
        order_number = query.text("orderNumber")
        order_id = query.integer("orderId")
        create_date_start = query.timestamp("createDateStart")
        include_items = query.boolean("includeShipmentItems")
        page, page_size = query.paging()
        query.raise_errors()
        shipments = store.find_shipments(
            order_number=order_number, order_id=order_id, create_date_start=create_date_start
        )
        if not include_items:
            shipments = [{**shipment, "shipmentItems": None} for shipment in shipments]
        return _paged("shipments", shipments, page, page_size)

    @app.post("/shipments/voidlabel")
    def void_label() -> Response:
        shipment_id = normalize_void_label(_json_body())
        try:
            store.void_label(shipment_id)
        except ShipmentNotFoundError as error:
            # Not settled by the docs: the answer for an unknown shipmentId. As with
            # markasshipped, the id comes in the body, so 400 rather than 404.
            return error_response(400, str(error))
        except LabelAlreadyVoidedError as error:
            # Not settled by the docs: voiding a label twice. The documented answer carries an
            # approved flag, so the refusal is an answer with approved false, not an error.
            return jsonify(approved=False, message=str(error))
        # The shape {approved, message} is from ShipStation's void-label page; the message text
        # of a success is the docs' example, not a documented constant.
        return jsonify(approved=True, message="Label voided successfully")

    return app


def _authorized(api_key: str, api_secret: str) -> bool:
    credentials = request.authorization
    return (
        credentials is not None
        and credentials.type == "basic"
        and hmac.compare_digest(credentials.username or "", api_key)
        and hmac.compare_digest(credentials.password or "", api_secret)
    )


def _json_body() -> Any:
    # Not settled by the docs: a body that is not JSON, or lacks the JSON content type. ASP.NET
    # then binds nothing and the model checks fail, so it is answered as an invalid request.
    body = request.get_json(silent=True)
    if body is None:
        raise ValidationError({"request": ["The request body must be JSON."]})
    return body


def _paged(key: str, items: list[dict[str, Any]], page: int, page_size: int) -> Response:
    # Not settled by the docs: the pages count of an empty result; 0 follows from the division.
    # A page past the end answers an empty list with the true total.
    start = (page - 1) * page_size
    return jsonify(
        {
            key: items[start : start + page_size],
            "total": len(items),
            "page": page,
            "pages": math.ceil(len(items) / page_size),
        }
    )


class _Query:
    """Reads query parameters, collecting every bad one into a single 400 answer."""

    def __init__(self, args: MultiDict[str, str]) -> None:
        self._args = args
        self._errors: dict[str, list[str]] = {}

    def fail(self, name: str, message: str) -> None:
        self._errors.setdefault(name, []).append(message)

    def raise_errors(self) -> None:
        if self._errors:
            raise ValidationError(self._errors)

    def text(self, name: str) -> str | None:
        # Not settled by the docs: an empty parameter (``?orderNumber=``); it filters nothing.
        return self._args.get(name) or None

    def integer(self, name: str, minimum: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"The value '{value}' is not valid for {name}.")
            return None
        if minimum is not None and number < minimum:
            self.fail(name, f"{name} must be at least {minimum}.")
            return None
        return number

    def boolean(self, name: str) -> bool:
        value = self.text(name)
        if value is None:
            return False
        if value.lower() not in {"true", "false"}:
            self.fail(name, f"The value '{value}' is not valid for {name}.")
        return value.lower() == "true"

    def timestamp(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return timestamps.parse_timestamp(value)
        except ValueError:
            self.fail(name, f"The value '{value}' is not valid for {name}.")
            return None

    def paging(self) -> tuple[int, int]:
        page = self.integer("page", minimum=1)
        page_size = self.integer("pageSize", minimum=1)
        if page_size is not None and page_size > MAX_PAGE_SIZE:
            # Not settled by the docs: a pageSize past the documented maximum of 500. Refusing
            # it, rather than quietly clamping, shows a client its paging arithmetic is wrong.
            self.fail("pageSize", f"pageSize must be at most {MAX_PAGE_SIZE}.")
        return page or 1, page_size or DEFAULT_PAGE_SIZE
