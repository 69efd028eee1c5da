"""Answer shapes shared by the API and the control routes."""

from __future__ import annotations

from flask import Response, jsonify


def error_response(status: int, message: str) -> Response:
    """An error in the ``{"Message": ...}`` shape of ShipStation's ASP.NET answers."""
    response = jsonify(Message=message)
    response.status_code = status
    return response
