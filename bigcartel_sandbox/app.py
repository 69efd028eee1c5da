"""The Flask application: blueprints, error answers, and the fault and logging middlewares."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from bigcartel_sandbox import api, control, oauth
from bigcartel_sandbox.errors import ApiError, error_document
from bigcartel_sandbox.faults import FaultMiddleware, Faults
from bigcartel_sandbox.requestlog import RequestLog, RequestLogMiddleware
from bigcartel_sandbox.store import Store
from bigcartel_sandbox.web import EXTENSION, Services, json_response, jsonapi_response


def create_app(store: Store, faults: Faults, log: RequestLog) -> Flask:
    app = Flask("bigcartel_sandbox")
    app.extensions[EXTENSION] = Services(store, faults, log)
    app.register_blueprint(api.bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(control.bp)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    # Logging wraps faults so that injected failures are logged with their status too.
    app.wsgi_app = RequestLogMiddleware(FaultMiddleware(app.wsgi_app, faults), log)
    return app


def _api_error(error: ApiError) -> Response:
    return jsonapi_response(error.document(), error.status)


def _http_error(error: HTTPException) -> Response:
    """Routing errors (unknown path, wrong method) in the form of the part of the API asked."""
    status = error.code or 500
    detail = error.description or error.name
    if request.path.startswith("/v1"):
        response = jsonapi_response(error_document(status, detail), status)
    else:
        response = json_response({"error": detail}, status)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response
