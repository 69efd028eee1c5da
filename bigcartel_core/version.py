"""This distribution's version and project URL, as every User-Agent names them."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

PROJECT_URL = "https://github.com/bigcartel-fulfillment/bigcartel-fulfillment"


def package_version() -> str:
    """The installed version of bigcartel-fulfillment; "0" when it is not installed."""
    try:
        return version("bigcartel-fulfillment")
    except PackageNotFoundError:
        return "0"
