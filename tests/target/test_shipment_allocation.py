"""The rule that places a warehouse shipment's items on the order's line items."""

from __future__ import annotations

import pytest

from target_fulfillment.bigcartel import LineState, OrderShipping, ShippedLine
from target_fulfillment.domain import ShippedItem
from target_fulfillment.shipments import UnplacedItemError, allocate

SKUS = {"11": "TEE-M", "12": "TEE-L", "13": "TEE-M"}


def by_key(line: str, quantity: int) -> ShippedItem:
    return ShippedItem(line_item_key=line, sku=None, quantity=quantity)


def by_sku(sku: str, quantity: int) -> ShippedItem:
    return ShippedItem(line_item_key=None, sku=sku, quantity=quantity)


def test_items_named_by_line_ship_those_units() -> None:
    unshipped = {"11": 2, "12": 1, "13": 0}
    assert allocate([by_key("11", 1)], unshipped, SKUS) == {"11": 1}
    assert allocate([by_key("11", 2), by_key("12", 1)], unshipped, SKUS) == {"11": 2, "12": 1}


def test_no_line_ships_more_than_is_left_unshipped() -> None:
    assert allocate([by_key("11", 5)], {"11": 2, "12": 1}, SKUS) == {"11": 2}
    assert allocate([by_key("11", 1), by_key("11", 2)], {"11": 2}, SKUS) == {"11": 2}
    assert allocate([by_key("11", 1)], {"11": 0, "12": 1}, SKUS) == {}


def test_items_named_by_sku_fill_the_lines_sent_with_it_in_order() -> None:
    unshipped = {"11": 1, "12": 1, "13": 2}
    assert allocate([by_sku("TEE-M", 2)], unshipped, SKUS) == {"11": 1, "13": 1}
    assert allocate([by_sku("TEE-M", 9)], unshipped, SKUS) == {"11": 1, "13": 2}
    assert allocate([by_sku("TEE-L", 1)], unshipped, SKUS) == {"12": 1}


def test_a_shipment_without_items_ships_every_unit_left() -> None:
    assert allocate([], {"11": 2, "12": 0, "13": 1}, SKUS) == {"11": 2, "13": 1}
    assert allocate([], {"11": 0}, SKUS) == {}


@pytest.mark.parametrize(
    ("item", "named"),
    [(by_key("99", 1), "line item 99"), (by_sku("MUG", 1), "SKU MUG")],
)
def test_an_item_of_no_line_is_refused_by_name(item: ShippedItem, named: str) -> None:
    with pytest.raises(UnplacedItemError, match=named):
        allocate([item], {"11": 1}, SKUS)


def test_sku_items_are_not_placed_without_the_lines_as_sent() -> None:
    with pytest.raises(UnplacedItemError, match="SKU TEE-M"):
        allocate([by_sku("TEE-M", 1)], {"11": 1}, {})


def test_the_read_back_shows_a_post_only_once_every_line_reached_its_count() -> None:
    before = OrderShipping(False, {"11": LineState(2, 0), "12": LineState(1, 0)})
    after = before.after([ShippedLine("11", 1)])
    assert after.lines["11"] == LineState(2, 1) and after.lines["12"] == LineState(1, 0)
    assert after.shows({"11": 1}) and not before.shows({"11": 1})
    assert not after.shows({"11": 1, "12": 1})
    assert not after.shows({"99": 1})
    assert not after.finished
    assert after.after([ShippedLine("11", 1), ShippedLine("12", 1)]).finished
    assert OrderShipping(True, {"11": LineState(2, 0)}).finished
