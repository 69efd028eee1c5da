"""The control API under ``/_sandbox/``: what tests do in-process, for out-of-process users.

Benchmarks and demos that run the sandbox as a separate process use it to read credentials and
request statistics, switch faults and mutations on, and read recorded shipments. No credentials
are needed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from bigcartel_sandbox.errors import ApiError
from bigcartel_sandbox.web import json_response, services

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


@bp.errorhandler(ValueError)
def invalid(error: ValueError) -> Response:
    return json_response({"error": str(error)}, 400)


@bp.errorhandler(ApiError)
def api_error(error: ApiError) -> Response:
    return json_response({"error": error.detail}, error.status)


@bp.get("/shops")
def shops() -> Response:
    return json_response([asdict(shop) for shop in services().store.shops])


@bp.get("/stats")
def stats() -> Response:
    """Request counts by method and route pattern (e.g. ``GET /v1/accounts/<account_id>/orders``)
    and by status; requests matching no route count under ``(unmatched)``."""
    entries = services().log.entries()
    adapter = current_app.url_map.bind("sandbox")
    by_endpoint = Counter(
        f"{entry['method']} {_pattern(adapter, entry['path'], entry['method'])}"
        for entry in entries
    )
    by_status = Counter(str(entry["status"]) for entry in entries)
    return json_response(
        {
            "total": len(entries),
            "by_endpoint": dict(sorted(by_endpoint.items())),
            "by_status": dict(sorted(by_status.items())),
        }
    )


@bp.post("/requests/clear")
def clear_requests() -> Response:
    services().log.clear()
    return Response(status=204)


@bp.get("/faults")
def get_faults() -> Response:
    return json_response(services().faults.settings())


@bp.post("/faults")
def set_faults() -> Response:
    """Body: any of the fault settings, plus ``"reset": true``, ``"drop_next": n`` and
    ``"fail_next": {"count", "status", "retry_after"}``."""
    body = _body()
    faults = services().faults
    if body.pop("reset", False):
        faults.reset()
    fail_next = body.pop("fail_next", None)
    drop_next = body.pop("drop_next", None)
    faults.configure(**body)
    if fail_next is not None:
        if not isinstance(fail_next, dict):
            raise ValueError("fail_next must be an object {count, status, retry_after}")
        faults.fail_next(
            int(fail_next.get("count", 1)),
            int(fail_next.get("status", 503)),
            fail_next.get("retry_after"),
        )
    if drop_next is not None:
        faults.drop_next(int(drop_next))
    return json_response(faults.settings())


@bp.post("/mutate")
def mutate() -> Response:
    """Body ``{"account_id", "resource": "orders" | "products", "count"}``."""
    body = _body()
    store = services().store
    account_id = str(body.get("account_id", ""))
    count = int(body.get("count", 1))
    resource = body.get("resource")
    if resource == "orders":
        ids = store.update_orders(account_id, count)
    elif resource == "products":
        ids = store.update_products(account_id, count)
    else:
        raise ValueError("resource must be orders or products")
    return json_response({"ids": ids})


@bp.post("/mutate-while-paging")
def mutate_while_paging() -> Response:
    """Body ``{"orders": k, "products": k, "mode": "unread" | "read" | "random"}``."""
    body = _body()
    store = services().store
    mode = body.pop("mode", None)
    unknown = sorted(set(body).difference(("orders", "products")))
    if unknown:
        raise ValueError(f"unknown resources {', '.join(unknown)}")
    if mode is not None:
        store.mutate_while_paging_mode = mode
    store.mutate_while_paging = {kind: int(count) for kind, count in body.items()}
    return json_response(
        {"counts": store.mutate_while_paging, "mode": store.mutate_while_paging_mode}
    )


@bp.get("/accounts/<account_id>/orders/<order_id>/shipments")
def shipments(account_id: str, order_id: str) -> Response:
    return json_response(services().store.shipments(account_id, order_id))


def _body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _pattern(adapter: MapAdapter, path: str, method: str) -> str:
    try:
        rule, _ = adapter.match(path, method=method, return_rule=True)
    except HTTPException:
        return "(unmatched)"
    return rule.rule
