"""Errors that name the shop, stream and setting at fault, and never carry a secret."""

from __future__ import annotations

from collections.abc import Iterable

from singer_sdk.exceptions import FatalAPIError


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text``: the last line of defence for error messages."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


class BigCartelAPIError(FatalAPIError):
    """A non-retryable answer from the API, with its status and the API's own words."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ShopUnavailableError(BigCartelAPIError):
    """The API refuses one shop (revoked token, deauthorized app, closed account).

    Other shops in the same run carry on; the run still exits non-zero.
    """


class ShopsFailedError(RuntimeError):
    """Raised after every other shop has been synced, naming each shop that could not be."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = dict(failures)
        lines = "; ".join(f"account {acc}: {why}" for acc, why in sorted(self.failures.items()))
        super().__init__(f"{len(self.failures)} shop(s) could not be synced: {lines}")
