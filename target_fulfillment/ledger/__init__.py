"""The durable ledger of warehouse orders, and the catalog the SKUs are derived from.

Singer state alone gives at-least-once delivery: a crash loses every acknowledgement since the
last drain. Sending an order to a warehouse must happen exactly once, so every side effect is
recorded here first. Each state change is one conditional ``UPDATE ... WHERE state IN (...)`` in
its own short transaction, and the caller is told whether its change won, so several threads,
processes or machines sharing one ledger can never both act on the same order.
"""

from target_fulfillment.ledger.core import Claim, Ledger, OrderEntry, ProductInfo, RejectedRecord
from target_fulfillment.ledger.database import LedgerSchemaError, describe_error
from target_fulfillment.ledger.schema import SCHEMA_VERSION, STATES, State

__all__ = [
    "SCHEMA_VERSION",
    "STATES",
    "Claim",
    "Ledger",
    "LedgerSchemaError",
    "OrderEntry",
    "ProductInfo",
    "RejectedRecord",
    "State",
    "describe_error",
]
