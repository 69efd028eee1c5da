"""Errors that name the shop, stream and setting at fault, and never carry a secret."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text``: the last line of defence for error messages."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


E = t.TypeVar("E", bound=Exception)


def scrubbed(error: E, secrets: Iterable[str]) -> E:
    """``error`` with every secret replaced in its message and in its ``errors`` list (a config
    check's, as singer-sdk's ConfigValidationError has), to raise again: a library's words may
    quote a value, a secret's too."""
    secrets = tuple(secrets)
    error.args = tuple(redact(str(arg), secrets) for arg in error.args)
    messages = getattr(error, "errors", None)
    if isinstance(messages, list):
        messages[:] = [redact(str(message), secrets) for message in messages]
    return error


class ConfigError(ValueError):
    """The configuration cannot work; the message names the setting."""


class BigCartelAPIError(Exception):
    """A non-retryable answer from the API, with its status and the API's own words."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ShopUnavailableError(BigCartelAPIError):
    """The API refuses one shop (revoked token, deauthorized app, closed account).

    Other shops in the same run carry on; the run still exits non-zero.
    """
