"""A local emulator of ShipStation API v1's order endpoints, for testing fulfillment clients."""

from shipstation_sandbox.server import ShipStationSandbox
from shipstation_sandbox.store import OrderLockedError, OrderNotFoundError, ShipStationStore

__all__ = ["OrderLockedError", "OrderNotFoundError", "ShipStationSandbox", "ShipStationStore"]
