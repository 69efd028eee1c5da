"""Errors the API answers with, in the JSON:API ``errors`` form the docs' clients expect."""

from __future__ import annotations

from http import HTTPStatus


class ApiError(Exception):
    """An error answer of the ``/v1`` API; raise it anywhere below a request to answer with it."""

    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase

    def document(self) -> dict[str, list[dict[str, str]]]:
        return error_document(self.status, self.detail)


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class NotAcceptable(ApiError):
    status = 406


def error_document(status: int, detail: str) -> dict[str, list[dict[str, str]]]:
    return {
        "errors": [{"status": str(status), "title": HTTPStatus(status).phrase, "detail": detail}]
    }
