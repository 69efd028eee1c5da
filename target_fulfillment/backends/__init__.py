"""Fulfillment backends: where orders go, and where their shipment confirmations come from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_fulfillment.backends.base import (
    AmbiguousSubmitError,
    Backend,
    BackendError,
    OrderLockedError,
)
from target_fulfillment.backends.file import FileBackend
from target_fulfillment.backends.shipstation import (
    ShipStationBackend,
    ShipStationV2Backend,
    mapping_v2,
    v2,
)
from target_fulfillment.backends.shipstation.client import (
    DEFAULT_RATE_LIMIT_MAX_WAIT,
    DEFAULT_TIMEOUT,
)
from target_fulfillment.backends.shipstation.v1 import DEFAULT_API_URL

__all__ = [
    "AmbiguousSubmitError",
    "Backend",
    "BackendError",
    "FileBackend",
    "OrderLockedError",
    "ShipStationBackend",
    "ShipStationV2Backend",
    "make_backend",
]


def make_backend(config: Mapping[str, Any]) -> Backend:
    """The backend ``config["backend"]`` names, built from its settings.

    Raises ``ValueError`` naming the first missing or malformed setting, before anything runs.
    """
    kind = config.get("backend")
    if kind == "file":
        return FileBackend(
            _required(config, "file_outbox_dir"), _required(config, "file_inbox_dir")
        )
    if kind == "shipstation":
        return ShipStationBackend(
            _required(config, "shipstation_api_key"),
            _required(config, "shipstation_api_secret"),
            api_url=_api_url(config, "shipstation_api_url", DEFAULT_API_URL),
            store_id=_store_id(config.get("shipstation_store_id")),
            # The one setting for every API the target calls; unset, the program names itself.
            user_agent=config.get("user_agent"),
            timeout=_seconds(config, "request_timeout", DEFAULT_TIMEOUT),
            rate_limit_max_wait=_seconds(
                config, "shipstation_rate_limit_max_wait", DEFAULT_RATE_LIMIT_MAX_WAIT
            ),
        )
    if kind == "shipstation_v2":
        return ShipStationV2Backend(
            _required(config, "shipstation_v2_api_key"),
            warehouse_id=_required(config, "shipstation_v2_warehouse_id"),
            package_weight=mapping_v2.package_weight(
                config.get("default_package_weight"), "default_package_weight"
            ),
            api_url=_api_url(config, "shipstation_v2_api_url", v2.DEFAULT_API_URL),
            user_agent=config.get("user_agent"),
            timeout=_seconds(config, "request_timeout", DEFAULT_TIMEOUT),
            # One setting for both APIs: each waits out its own account's window.
            rate_limit_max_wait=_seconds(
                config, "shipstation_rate_limit_max_wait", DEFAULT_RATE_LIMIT_MAX_WAIT
            ),
        )
    raise ValueError(f"`backend` must be 'file' or 'shipstation' or 'shipstation_v2', not {kind!r}")


def _api_url(config: Mapping[str, Any], name: str, default: str) -> str:
    api_url = config.get(name) or default
    if not isinstance(api_url, str) or not api_url.startswith(("https://", "http://")):
        raise ValueError(f"`{name}` must be an http(s) URL")
    return api_url


def _required(config: Mapping[str, Any], name: str) -> str:
    value = config.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{name}` is required for the {config.get('backend')} backend")
    return value


def _store_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"`shipstation_store_id` must be a whole number, not {value!r}")


def _seconds(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if isinstance(value, bool) or not seconds > 0:
        raise ValueError(f"`{name}` must be a positive number of seconds, not {value!r}")
    return seconds
