"""A local emulator of ShipStation API v1's order endpoints, for testing fulfillment clients."""

from shipstation_sandbox.server import ShipStationSandbox
from shipstation_sandbox.store import (
    LabelAlreadyVoidedError,
    OrderLockedError,
    OrderNotFoundError,
    OverShipmentError,
    ShipmentItemsError,
    ShipmentNotFoundError,
    ShipStationStore,
)

__all__ = [
    "LabelAlreadyVoidedError",
    "OrderLockedError",
    "OrderNotFoundError",
    "OverShipmentError",
    "ShipStationSandbox",
    "ShipStationStore",
    "ShipmentItemsError",
    "ShipmentNotFoundError",
]
