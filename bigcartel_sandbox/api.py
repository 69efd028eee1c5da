"""The Big Cartel API v1 routes: accounts, their lists and records, order updates, shipments."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, request

from bigcartel_sandbox.documents import JSONAPI, Renderer, list_document
from bigcartel_sandbox.errors import BadRequest, NotAcceptable, NotFound, Unauthorized
from bigcartel_sandbox.queries import LIST_SPECS, parse_list_query
from bigcartel_sandbox.store import LIST_KINDS
from bigcartel_sandbox.web import jsonapi_response, services

bp = Blueprint("api", __name__, url_prefix="/v1")


@bp.before_request
def check_request() -> None:
    """Header checks, then credentials.

    Not settled by the docs: the order of the checks (User-Agent, Accept, Content-Type, then
    credentials), and that a body with the wrong Content-Type is a 400 rather than a 415.
    """
    if not request.headers.get("User-Agent", "").strip():
        raise BadRequest(
            "A User-Agent header naming your application and a contact URL or email is required."
        )
    if not _accepts_jsonapi(request.headers.get("Accept", "")):
        raise NotAcceptable(f"Send Accept: {JSONAPI}.")
    if request.method in ("POST", "PATCH", "PUT") and request.mimetype != JSONAPI:
        raise BadRequest(f"A request with a body needs Content-Type: {JSONAPI}.")
    g.account_id = _authenticate()


@bp.get("/accounts")
def list_accounts() -> Response:
    document = services().store.account_document(g.account_id, _base_url())
    return jsonapi_response(
        list_document(
            [document["data"]],
            document["included"],
            1,
            request.url,
            shapes=services().store.shapes,
        )
    )


@bp.get("/accounts/<account_id>")
def get_account(account_id: str) -> Response:
    _check_account(account_id)
    return jsonapi_response(services().store.account_document(account_id, _base_url()))


def list_records(account_id: str, kind: str) -> Response:
    _check_account(account_id)
    query = parse_list_query(request.args, LIST_SPECS[kind])
    result = services().store.list_page(account_id, kind, query, _base_url())
    following = query.offset + query.limit
    next_url = _page_url(following) if following < result.count else None
    return jsonapi_response(
        list_document(
            result.data,
            result.included,
            result.count,
            request.url,
            next_url,
            shapes=services().store.shapes,
        )
    )


def get_record(account_id: str, record_id: str, kind: str) -> Response:
    _check_account(account_id)
    return jsonapi_response(services().store.document(account_id, kind, record_id, _base_url()))


for _kind in LIST_KINDS:
    bp.add_url_rule(
        f"/accounts/<account_id>/{_kind}",
        f"list_{_kind}",
        list_records,
        defaults={"kind": _kind},
    )
    bp.add_url_rule(
        f"/accounts/<account_id>/{_kind}/<record_id>",
        f"get_{_kind}",
        get_record,
        defaults={"kind": _kind},
    )


@bp.patch("/accounts/<account_id>/orders/<order_id>")
def update_order(account_id: str, order_id: str) -> Response:
    _check_account(account_id)
    data = _body_data("orders")
    if data.get("id") != order_id:
        raise BadRequest(f"data.id must be the order id of the URL, {order_id!r}.")
    document = services().store.patch_order(
        account_id, order_id, data.get("attributes", {}), _base_url()
    )
    return jsonapi_response(document)


@bp.post("/accounts/<account_id>/orders/<order_id>/shipments")
def create_shipment(account_id: str, order_id: str) -> Response:
    """Not settled by the docs: no Location header, as there is no endpoint to get a shipment."""
    store = services().store
    if not store.shipments_enabled:
        raise NotFound("Shipments are not available on this API.")
    _check_account(account_id)
    data = _body_data("shipments")
    document = store.create_shipment(account_id, order_id, data.get("attributes", {}), _base_url())
    return jsonapi_response(document, 201)


@bp.get("/countries")
def list_countries() -> Response:
    """Not settled by the docs: countries are one unpaged list, as the docs give no parameters."""
    store = services().store
    renderer = Renderer(_base_url(), shapes=store.shapes)
    data = [renderer.country(country) for country in store.countries()]
    return jsonapi_response(list_document(data, [], len(data), request.url, shapes=store.shapes))


def _accepts_jsonapi(accept: str) -> bool:
    """Not settled by the docs: wildcard ranges such as ``*/*`` do not count; the docs require
    this media type."""
    return any(part.split(";")[0].strip().lower() == JSONAPI for part in accept.split(","))


def _authenticate() -> str:
    """The account id the request's credentials belong to, or a 401."""
    auth = request.authorization
    if auth is None:
        raise Unauthorized(
            "Send Authorization: Bearer <access token>, "
            "or HTTP Basic with the shop's subdomain and password."
        )
    credentials = services().store.credentials
    account_id = None
    if auth.type == "bearer":
        account_id = credentials.account_for_token(auth.token or "")
    elif auth.type == "basic":
        account_id = credentials.account_for_login(auth.username or "", auth.password or "")
    if account_id is None:
        raise Unauthorized("The credentials are invalid or have been revoked.")
    return account_id


def _check_account(account_id: str) -> None:
    """404 for an account that does not exist, 401 for another account than the credential's."""
    if not services().store.has_account(account_id):
        raise NotFound(f"Account {account_id} does not exist.")
    if account_id != g.account_id:
        raise Unauthorized(f"These credentials are not valid for account {account_id}.")


def _body_data(expected_type: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise BadRequest('The body must be a JSON object {"data": {...}}.')
    if data.get("type") != expected_type:
        raise BadRequest(f"data.type must be {expected_type!r}.")
    if not isinstance(data.get("attributes", {}), dict):
        raise BadRequest("data.attributes must be an object.")
    return data


def _base_url() -> str:
    return request.host_url.rstrip("/")


def _page_url(offset: int) -> str:
    args = request.args.to_dict(flat=False)
    args["page[offset]"] = [str(offset)]
    return f"{request.base_url}?{urlencode(args, doseq=True, safe='[]')}"
