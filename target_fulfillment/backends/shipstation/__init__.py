"""ShipStation: transport in ``client``, v1 JSON in ``mapping``, the backend in ``v1``."""

from __future__ import annotations

from target_fulfillment.backends.shipstation.v1 import ShipStationBackend

__all__ = ["ShipStationBackend"]
