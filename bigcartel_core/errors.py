"""Errors that name the shop, stream and setting at fault, and never carry a secret."""

from __future__ import annotations

from collections.abc import Iterable


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text``: the last line of defence for error messages."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


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
