"""A local emulator of ShipStation API V2's shipments and labels, for testing fulfillment clients.

Built from the project's ShipStation notes (section A); every behaviour the docs leave open is
marked "Not settled by the docs" where it is decided.
"""

from shipstation_sandbox.v2.server import DEFAULT_RATE_LIMIT, ShipStationV2Sandbox
from shipstation_sandbox.v2.store import (
    ConflictError,
    InvalidStatusError,
    LabelNotFoundError,
    ShipmentInvalidError,
    ShipmentNotFoundError,
    ShipStationV2Store,
)

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "ConflictError",
    "InvalidStatusError",
    "LabelNotFoundError",
    "ShipStationV2Sandbox",
    "ShipStationV2Store",
    "ShipmentInvalidError",
    "ShipmentNotFoundError",
]
