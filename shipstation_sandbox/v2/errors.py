"""ShipStation V2's error body: a ``request_id`` for support plus ``errors[]``.

Each error carries ``error_source``, ``error_type``, ``error_code`` and ``message`` (notes A1).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, jsonify

# The notes list error_source values as carrier | order_source | ShipStation; every error this
# emulator makes is its own, so it is always "ShipStation".
ERROR_SOURCE = "ShipStation"


class ApiError(Exception):
    """A refusal answered with the V2 error body and ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "validation",
        error_code: str = "invalid_field_value",
        field_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.entries = [error_entry(message, error_type, error_code, field_name)]

    @classmethod
    def of(cls, status: int, entries: Iterable[Mapping[str, Any]]) -> ApiError:
        """One refusal listing several errors (e.g. every bad field of an update)."""
        listed = [dict(entry) for entry in entries]
        error = cls(status, listed[0]["message"] if listed else "The request is invalid.")
        if listed:
            error.entries = listed
        return error


def error_entry(
    message: str, error_type: str, error_code: str, field_name: str | None = None
) -> dict[str, Any]:
    """One member of ``errors[]``."""
    entry: dict[str, Any] = {
        "error_source": ERROR_SOURCE,
        "error_type": error_type,
        "error_code": error_code,
        "message": message,
    }
    # Not settled by the docs: field_name appears only in some renderings of the error object
    # (notes A1); it is added when an error is about one field, and left out otherwise.
    if field_name is not None:
        entry["field_name"] = field_name
    return entry


def error_body(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``{request_id, errors}`` with a fresh UUID."""
    return {"request_id": str(uuid.uuid4()), "errors": [dict(entry) for entry in entries]}


def error_response(
    status: int,
    message: str,
    *,
    error_type: str = "validation",
    error_code: str = "invalid_field_value",
    field_name: str | None = None,
) -> Response:
    """A V2 error answer with a single error."""
    return entries_response(status, [error_entry(message, error_type, error_code, field_name)])


def entries_response(status: int, entries: Iterable[Mapping[str, Any]]) -> Response:
    """A V2 error answer listing ``entries``."""
    response = jsonify(error_body(entries))
    response.status_code = status
    return response
