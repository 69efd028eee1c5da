"""ShipStation: transport in ``client``; v1 JSON in ``mapping`` under the ``v1`` backend, V2
JSON in ``mapping_v2`` under the ``v2`` backend."""

from __future__ import annotations

from target_fulfillment.backends.shipstation.v1 import ShipStationBackend
from target_fulfillment.backends.shipstation.v2 import ShipStationV2Backend

__all__ = ["ShipStationBackend", "ShipStationV2Backend"]
