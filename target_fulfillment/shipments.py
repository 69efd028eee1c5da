"""Which of an order's line items one warehouse shipment ships, and how many units of each.

A warehouse names a shipped item by our line item key, or by SKU alone (a confirmation file, an
item edited at the warehouse). Big Cartel refuses to ship more of a line than is left unshipped,
and an order's parcels together never ship more than was ordered, so each count is capped by
what is left: a parcel reported twice, or shipped by hand meanwhile, ships nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from target_fulfillment.domain import ShippedItem


class UnplacedItemError(ValueError):
    """A shipped item matches no line of the order; the message names the item."""


def allocate(
    items: Sequence[ShippedItem],
    unshipped: Mapping[str, int],
    skus: Mapping[str, str | None],
) -> dict[str, int]:
    """Line item id to the units this shipment ships; empty when nothing is left to ship.

    ``unshipped``: each line of the order (in its order) and its units not yet shipped;
    ``skus``: each line's SKU as it was sent. An item with a line item key ships from that line;
    one with a SKU alone from the lines sent with that SKU, in order; a shipment without items
    (a warehouse that only says "shipped") ships every unit left.
    """
    left = dict(unshipped)
    if not items:
        return {line: count for line, count in left.items() if count > 0}
    shipped: dict[str, int] = {}
    for item in items:
        if item.line_item_key is not None:
            if item.line_item_key not in left:
                raise UnplacedItemError(
                    f"shipped line item {item.line_item_key} is not a line of the order"
                )
            candidates = [item.line_item_key]
        else:
            candidates = [line for line in left if skus.get(line) == item.sku]
            if not candidates:
                raise UnplacedItemError(
                    f"shipped SKU {item.sku} matches no line of the order as it was sent"
                )
        wanted = item.quantity
        for line in candidates:
            take = min(wanted, left[line])
            if take > 0:
                shipped[line] = shipped.get(line, 0) + take
                left[line] -= take
                wanted -= take
    return shipped
