"""Flask routes of ShipStation API V2's shipments and labels, guarded as the notes describe.

Every API request passes the same gate: added latency, the ``api-key`` header, then the rate
limit. The ``/_sandbox/`` control routes (see ``control.py``) skip the gate and the request log.
"""

from __future__ import annotations

import base64
import hmac
import math
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from shipstation_sandbox.faults import unanswered
from shipstation_sandbox.rate_limit import FixedWindowRateLimiter
from shipstation_sandbox.request_log import RequestLog
from shipstation_sandbox.v2 import dates
from shipstation_sandbox.v2.control import CONTROL_PREFIX, create_control_blueprint
from shipstation_sandbox.v2.errors import (
    ApiError,
    entries_response,
    error_body,
    error_entry,
    error_response,
)
from shipstation_sandbox.v2.store import (
    ConflictError,
    InvalidStatusError,
    LabelNotFoundError,
    ShipmentInvalidError,
    ShipmentNotFoundError,
    ShipStationV2Store,
)
from shipstation_sandbox.v2.validation import SHIPMENT_STATUSES

# Not settled by the docs: the most shipments one POST /v2/shipments takes. ShipStation's own
# MCP tool caps its bulk call at 100 (as V1's createorders is capped), so 101 are refused whole.
MAX_SHIPMENTS_PER_REQUEST = 100
DEFAULT_PAGE_SIZE = 25
# Not settled by the docs: the largest page_size. 500 is V1's documented maximum; a larger one
# is refused rather than clamped, so a client's paging arithmetic cannot go wrong unseen.
MAX_PAGE_SIZE = 500
LABEL_STATUSES = ("processing", "completed", "error", "voided")
SORT_DIRECTIONS = ("asc", "desc")
SORT_FIELDS = ("modified_at", "created_at")


def create_app(
    store: ShipStationV2Store,
    *,
    api_key: str,
    latency_seconds: float = 0.0,
    rate_limiter: FixedWindowRateLimiter | None = None,
    request_log: RequestLog | None = None,
    timeout_hang_seconds: float = 0.0,
    stopping: threading.Event | None = None,
) -> Flask:
    """Build the V2 sandbox's WSGI app around ``store``.

    ``stopping`` cuts short the added latency and held connections when the server shuts down;
    ``timeout_hang_seconds`` is how long a create picked by ``store.timeout_next_create``
    holds its connection before dropping it unanswered.
    """
    app = Flask(__name__)
    # Keep the documented field order in answers instead of sorting keys.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(create_control_blueprint(store))
    stop_event = stopping if stopping is not None else threading.Event()

    @app.before_request
    def gate() -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        if latency_seconds > 0:
            # Each request has its own server thread, so delays overlap instead of queueing.
            stop_event.wait(latency_seconds)
        if not _authorized(api_key):
            # Not settled by the docs: the error_code of a missing or wrong key, and whether a
            # refused key uses up rate budget. Here: unauthorized (security), and it does not.
            return error_response(
                401,
                "The request is not authorized: send a valid API key in the api-key header.",
                error_type="security",
                error_code="unauthorized",
            )
        if rate_limiter is not None:
            decision = rate_limiter.acquire()
            if not decision.allowed:
                # The docs: 429 with Retry-After in seconds, error_source telling ShipStation's
                # own limit from a carrier's. No X-Rate-Limit-* headers: no V2 page mentions
                # them (notes A2). Not settled by the docs: the error_type (system here) and a
                # Retry-After of 0; it is at least 1 so a client never retries at once.
                response = error_response(
                    429,
                    "You have exceeded the rate limit. Wait and retry.",
                    error_type="system",
                    error_code="rate_limit_exceeded",
                )
                response.headers["Retry-After"] = str(max(decision.reset_seconds, 1))
                return response
        return None

    @app.after_request
    def finish(response: Response) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return response
        if request_log is not None:
            status = None if g.get("dropped") else response.status_code
            body = request.get_json(silent=True) if request.method in ("POST", "PUT") else None
            request_log.record(request.method, request.path, request.args.to_dict(), status, body)
        return response

    @app.errorhandler(ApiError)
    def refused(error: ApiError) -> Response:
        return entries_response(error.status, error.entries)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Not settled by the docs: the error_code of an unknown path or method.
        status = error.code or 500
        return error_response(
            status,
            error.description or error.name,
            error_type="validation" if status < 500 else "system",
            error_code="not_found" if status == 404 else "unspecified",
        )

    @app.post("/v2/shipments")
    def create_shipments() -> Response:
        body = _json_object()
        shipments = body.get("shipments")
        if not isinstance(shipments, list) or not shipments:
            raise ApiError(
                400,
                "shipments must be an array of at least one shipment.",
                error_code="field_value_required",
                field_name="shipments",
            )
        if len(shipments) > MAX_SHIPMENTS_PER_REQUEST:
            raise ApiError(
                400,
                f"A request may create at most {MAX_SHIPMENTS_PER_REQUEST} shipments;"
                f" this one has {len(shipments)}.",
                field_name="shipments",
            )
        batch = store.create_shipments(shipments)
        if batch.created and store.take_create_timeout():
            return unanswered(timeout_hang_seconds, stop_event)
        answer = {"has_errors": batch.has_errors, "shipments": batch.entries}
        if batch.created:
            # The docs: a 2xx can be a partial success; the per-shipment errors tell which.
            return jsonify(answer)
        # Not settled by the docs: the status when no shipment was created. 400, whose body
        # has both the V2 error body (request_id, errors[] from every shipment) and the create
        # answer (has_errors, shipments[]), so a client reading either finds the reasons.
        response = jsonify(
            {
                **error_body(
                    [problem.entry() for problems in batch.problems for problem in problems]
                ),
                **answer,
            }
        )
        response.status_code = 400
        return response

    @app.get("/v2/shipments")
    def list_shipments() -> Response:
        query = _Query(request.args)
        status = query.choice("shipment_status", SHIPMENT_STATUSES)
        filters: dict[str, Any] = {
            "external_shipment_id": query.text("external_shipment_id"),
            "shipment_number": query.text("shipment_number"),
            "store_id": query.text("store_id"),
            "created_at_start": query.timestamp("created_at_start"),
            "created_at_end": query.timestamp("created_at_end"),
            "modified_at_start": query.timestamp("modified_at_start"),
            "modified_at_end": query.timestamp("modified_at_end"),
        }
        # Not settled by the docs: the default sort_by; created_at. sort_dir is desc by default.
        sort_by = query.choice("sort_by", SORT_FIELDS) or "created_at"
        sort_dir = query.choice("sort_dir", SORT_DIRECTIONS) or "desc"
        page, page_size = query.paging()
        query.raise_errors()
        # Not settled by the docs: other documented filters (batch_id, pickup_id, payment dates,
        # sales_order_id, ship_to_name, item_keyword) and unknown parameters are ignored.
        found = store.find_shipments(
            shipment_status=status, sort_by=sort_by, sort_dir=sort_dir, **filters
        )
        return _paged("shipments", found, page, page_size)

    @app.get("/v2/shipments/<shipment_id>")
    def get_shipment(shipment_id: str) -> Response:
        return jsonify(store.get_shipment(shipment_id))

    @app.get("/v2/shipments/external_shipment_id/<path:external_shipment_id>")
    def get_shipment_by_external_id(external_shipment_id: str) -> Response:
        return jsonify(store.get_by_external_id(external_shipment_id))

    @app.put("/v2/shipments/<shipment_id>")
    def update_shipment(shipment_id: str) -> Response:
        body = _json_object()
        try:
            shipment = store.update_shipment(shipment_id, body)
        except ShipmentInvalidError as error:
            raise ApiError.of(400, [problem.entry() for problem in error.problems]) from None
        # Not settled by the docs: the answer of an update; the whole updated shipment.
        return jsonify(shipment)

    @app.put("/v2/shipments/<shipment_id>/cancel")
    def cancel_shipment(shipment_id: str) -> Response:
        store.cancel_shipment(shipment_id)
        return Response(status=204)

    @app.get("/v2/labels")
    def list_labels() -> Response:
        query = _Query(request.args)
        label_status = query.choice("label_status", LABEL_STATUSES)
        filters: dict[str, Any] = {
            "shipment_id": query.text("shipment_id"),
            "tracking_number": query.text("tracking_number"),
            "carrier_id": query.text("carrier_id"),
            "service_code": query.text("service_code"),
            "created_at_start": query.timestamp("created_at_start"),
            "created_at_end": query.timestamp("created_at_end"),
        }
        # Labels have no modified_at; either sort_by orders by created_at (not settled).
        query.choice("sort_by", SORT_FIELDS)
        sort_dir = query.choice("sort_dir", SORT_DIRECTIONS) or "desc"
        page, page_size = query.paging()
        query.raise_errors()
        # Not settled by the docs: batch_id, rate_id and warehouse_id filters; ignored here.
        found = store.find_labels(label_status=label_status, sort_dir=sort_dir, **filters)
        return _paged("labels", [_label_answer(label, "url") for label in found], page, page_size)

    @app.get("/v2/labels/<label_id>")
    def get_label(label_id: str) -> Response:
        query = _Query(request.args)
        download_type = query.choice("label_download_type", ("url", "inline")) or "url"
        query.raise_errors()
        return jsonify(_label_answer(store.get_label(label_id), download_type))

    @app.put("/v2/labels/<label_id>/void")
    def void_label(label_id: str) -> Response:
        return jsonify(store.void_label(label_id))

    @app.errorhandler(ShipmentNotFoundError)
    @app.errorhandler(LabelNotFoundError)
    def not_found(error: LookupError) -> Response:
        # Not settled by the docs: the error_code of an unknown id; not_found.
        return error_response(404, str(error), error_code="not_found")

    @app.errorhandler(InvalidStatusError)
    def invalid_status(error: InvalidStatusError) -> Response:
        # Not settled by the docs: the HTTP status of a refused update or cancel; 400, with the
        # documented error_code invalid_status.
        return error_response(
            400, str(error), error_type="business_rules", error_code="invalid_status"
        )

    @app.errorhandler(ConflictError)
    def conflict(error: ConflictError) -> Response:
        return error_response(
            400,
            str(error),
            error_type="validation",
            error_code="identifier_conflict",
            field_name=error.field_name,
        )

    return app


def _authorized(api_key: str) -> bool:
    # Werkzeug's headers ignore case, so api-key, API-Key and API-KEY all work (notes A1).
    sent = request.headers.get("api-key")
    return sent is not None and hmac.compare_digest(sent.encode(), api_key.encode())


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "The request body must be a JSON object.", error_code="request_body_required"
        )
    return body


def _label_answer(label: dict[str, Any], download_type: str) -> dict[str, Any]:
    """A label with its download links (or, inline, its data)."""
    # Not settled by the docs: the download URLs; placeholders that are not served. "inline"
    # gives the label's data in base64 instead, here a tiny stand-in for a PDF.
    label_id = label["label_id"]
    if download_type == "inline":
        data = base64.b64encode(f"%PDF-1.4 sandbox label {label_id}".encode()).decode()
        return {**label, "label_download": None, "label_data": data}
    base = f"https://labels.sandbox.invalid/v2/labels/{label_id}"
    download = {
        "href": f"{base}.pdf",
        "pdf": f"{base}.pdf",
        "png": f"{base}.png",
        "zpl": f"{base}.zpl",
    }
    return {**label, "label_download": download}


def _paged(key: str, items: list[dict[str, Any]], page: int, page_size: int) -> Response:
    """One page with total, page, pages and links {first, last, prev, next} each {href}.

    Not settled by the docs: pages of an empty result (0, and last is page 1); a link that
    does not apply (prev on page 1, next on the last page) is an empty object; hrefs are
    absolute and keep the request's other parameters. A page past the end is empty (the docs).
    """
    total = len(items)
    pages = math.ceil(total / page_size)
    start = (page - 1) * page_size

    def link(number: int) -> dict[str, str]:
        params = request.args.to_dict()
        params.update(page=str(number), page_size=str(page_size))
        return {"href": f"{request.base_url}?{urlencode(params)}"}

    links = {
        "first": link(1),
        "last": link(max(pages, 1)),
        "prev": link(page - 1) if page > 1 else {},
        "next": link(page + 1) if page < pages else {},
    }
    return jsonify(
        {
            key: items[start : start + page_size],
            "total": total,
            "page": page,
            "pages": pages,
            "links": links,
        }
    )


class _Query:
    """Reads query parameters, collecting every bad one into a single 400 answer."""

    def __init__(self, args: MultiDict[str, str]) -> None:
        self._args = args
        self._errors: list[dict[str, Any]] = []

    def fail(self, name: str, message: str) -> None:
        self._errors.append(error_entry(message, "validation", "invalid_field_value", name))

    def raise_errors(self) -> None:
        if self._errors:
            raise ApiError.of(400, self._errors)

    def text(self, name: str) -> str | None:
        # Not settled by the docs: an empty parameter (``?shipment_status=``); it filters nothing.
        return self._args.get(name) or None

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if value is not None and value not in allowed:
            # Not settled by the docs: an unknown enum value; refusing it surfaces typos.
            self.fail(name, f"{name} must be one of {', '.join(allowed)}.")
            return None
        return value

    def integer(self, name: str, minimum: int) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"{name} must be a whole number.")
            return None
        if number < minimum:
            self.fail(name, f"{name} must be at least {minimum}.")
            return None
        return number

    def timestamp(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return dates.parse_datetime(value)
        except ValueError:
            self.fail(name, f"{name} must be an ISO 8601 date-time.")
            return None

    def paging(self) -> tuple[int, int]:
        page = self.integer("page", minimum=1)
        page_size = self.integer("page_size", minimum=1)
        if page_size is not None and page_size > MAX_PAGE_SIZE:
            self.fail("page_size", f"page_size must be at most {MAX_PAGE_SIZE}.")
        return page or 1, page_size or DEFAULT_PAGE_SIZE
