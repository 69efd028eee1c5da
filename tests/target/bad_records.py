"""Singer messages for the bad-input tests and benchmark (issue 9): good orders, and a catalogue
of bad records, each with the outcome the target owes it.

Shared by ``tests/target/test_bad_data.py`` and ``benchmarks/bad_input_benchmark.py``. Customer
data is distinctive (``PRIVATE_MARKERS``) so a test can prove none of it reaches the logs.
"""

from __future__ import annotations

import copy
import typing as t
from dataclasses import dataclass, field

from tap_bigcartel.schemas import ACCOUNTS, ORDERS, PRODUCTS

Message = dict[str, t.Any]
Record = dict[str, t.Any]
Outcome = t.Literal["held", "rejected", "survives"]

#: The shop of the good orders and of every keyable bad order.
ACCOUNT = "1001"
PRODUCT_ID = "P1"
SKU = "ONE"
#: Customer data no log line may carry: names, e-mail domain, street.
FIRST_NAME = "Quintessa"
LAST_NAME = "Vandersloot"
EMAIL_DOMAIN = "privacy-probe.example"
STREET = "Zzyzx Privacy Lane"
PRIVATE_MARKERS = (FIRST_NAME, LAST_NAME, EMAIL_DOMAIN, STREET)
SCHEMAS = {"accounts": ACCOUNTS, "products": PRODUCTS, "orders": ORDERS}


def schema_messages() -> list[Message]:
    """SCHEMA messages of the three streams, as tap-bigcartel sends them."""
    return [
        {
            "type": "SCHEMA",
            "stream": stream,
            "key_properties": ["account_id", "id"],
            "schema": schema,
        }
        for stream, schema in SCHEMAS.items()
    ]


def record_message(stream: str, record: Record) -> Message:
    return {"type": "RECORD", "stream": stream, "record": record}


def state_message(marker: str) -> Message:
    """A STATE message the target must emit once everything before it is durable."""
    return {"type": "STATE", "value": {"bookmarks": {"bad_data_probe": {"marker": marker}}}}


def product(
    product_id: str = PRODUCT_ID,
    account_id: str = ACCOUNT,
    description: str = f"Soft. SKU: {SKU}",
    options: list[dict[str, t.Any]] | None = None,
) -> Record:
    """A catalog product whose one option needs no suffix: its SKU is the description's."""
    return {
        "id": product_id,
        "account_id": account_id,
        "name": "Tee",
        "description": description,
        "updated_at": "2026-01-01T00:00:00Z",
        "options": options if options is not None else [{"id": f"{product_id}-O1", "name": "One"}],
    }


def account(account_id: str, country: str) -> Record:
    return {
        "id": account_id,
        "account_id": account_id,
        "store_name": f"Shop {account_id}",
        "country": {"id": country, "name": country},
        "updated_at": "2026-01-01T00:00:00Z",
    }


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


#: As an override value: leave the field out of the record.
DROP: t.Any = _Drop()


def item(item_id: str, quantity: t.Any = 1, **overrides: t.Any) -> Record:
    """An order line of the catalog product; ``quantity_unshipped`` equals ``quantity``."""
    line: Record = {
        "id": item_id,
        "product": {"id": PRODUCT_ID},
        "product_id": PRODUCT_ID,
        "product_name": "Tee",
        "quantity": quantity,
        "quantity_shipped": 0,
        "quantity_unshipped": quantity,
        "price": "10.00",
    }
    line.update(overrides)
    return {name: value for name, value in line.items() if value is not DROP}


def order(order_id: str, account_id: str = ACCOUNT, index: int = 0, **overrides: t.Any) -> Record:
    """A paid, unshipped order of one item with complete, distinctive customer data."""
    # Customer data first: a log line that echoes the start of a document shows it.
    record: Record = {
        "customer_first_name": FIRST_NAME,
        "customer_last_name": f"{LAST_NAME}-{index}",
        "customer_email": f"buyer.{index}@{EMAIL_DOMAIN}",
        "shipping_address_1": f"{index} {STREET}",
        "id": order_id,
        "account_id": account_id,
        "payment_status": "completed",
        "shipping_status": "unshipped",
        "shipping_city": "Springfield",
        "shipping_zip": "12345",
        "shipping_country": {"id": "US", "name": "United States"},
        "currency": {"id": "USD"},
        "total": "15.00",
        "shipping_total": "5.00",
        "created_at": "2026-05-01T12:00:00Z",
        "completed_at": "2026-05-01T12:00:00Z",
        "updated_at": "2026-05-01T12:00:00Z",
        "items": [item(f"{90000 + index}")],
    }
    record.update(overrides)
    return {name: value for name, value in record.items() if value is not DROP}


def good_order_id(index: int) -> str:
    return f"GOOD-{index:03d}"


def good_orders(count: int, first: int = 0) -> list[Record]:
    return [order(good_order_id(i), index=i) for i in range(first, first + count)]


def order_key(account_id: str, order_id: str) -> str:
    return f"bigcartel-{account_id}-{order_id}"


@dataclass(frozen=True)
class BadInput:
    """One bad input: the records that carry it, and what the target owes it.

    ``held``: the order (``account_id``, ``order_id``) is held, its reason containing every
    string of ``reason_has``. ``rejected``: the record cannot be keyed; it is listed by
    ``Ledger.rejected()`` with this ``account_id``. ``survives``: nothing is promised about the
    record itself, only that the run goes on (catalog records).
    """

    name: str
    issue: str
    records: tuple[tuple[str, Record], ...]
    outcome: Outcome
    account_id: str = ACCOUNT
    order_id: str | None = None
    reason_has: tuple[str, ...] = ()
    #: The issue names this input as a PostgreSQL-only crash loop.
    postgres_crash: bool = False
    #: The issue allows this input to be escaped and sent instead of held.
    may_be_sent: bool = False
    extra_config: dict[str, t.Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return order_key(self.account_id, self.order_id or "")

    def messages(self) -> list[Message]:
        return [record_message(stream, copy.deepcopy(rec)) for stream, rec in self.records]


def _held(
    name: str, issue: str, *, reason_has: tuple[str, ...], index: int, **fields: t.Any
) -> BadInput:
    order_id = f"BAD-{name.upper().replace('_', '-')}"
    return BadInput(
        name=name,
        issue=issue,
        records=(("orders", order(order_id, index=index, **fields)),),
        outcome="held",
        order_id=order_id,
        reason_has=reason_has,
    )


def _items(*lines: Record) -> dict[str, t.Any]:
    return {"items": list(lines)}


def held_orders() -> list[BadInput]:
    """Keyable orders that must be held, with what their hold reason must name."""
    return [
        _held(
            "quantity_text",
            'item quantity "two" (no quantity_unshipped)',
            reason_has=("5501", "quantity", "two"),
            index=501,
            **_items(item("5501", "two", quantity_unshipped=DROP)),
        ),
        _held(
            "quantity_text_unshipped",
            'item quantity and quantity_unshipped "two"',
            reason_has=("5502", "quantity", "two"),
            index=502,
            **_items(item("5502", "two")),
        ),
        _held(
            "items_object",
            "items is an object, not a list",
            reason_has=("items",),
            index=503,
            items={"id": "5503", "product": {"id": PRODUCT_ID}, "quantity": 1},
        ),
        _held(
            "items_text",
            "items is a string, not a list",
            reason_has=("items",),
            index=504,
            items="5504",
        ),
        _held(
            "item_not_object",
            "an item that is a string, not an object",
            reason_has=("item",),
            index=505,
            items=["5505"],
        ),
        _held(
            "quantity_negative",
            "item quantity -1",
            reason_has=("5506", "quantity", "-1"),
            index=506,
            **_items(item("5506", -1, quantity_unshipped=DROP)),
        ),
        _held(
            "quantity_zero",
            "item quantity 0",
            reason_has=("5507", "quantity", "0"),
            index=507,
            **_items(item("5507", 0, quantity_unshipped=DROP)),
        ),
        _held(
            "quantity_fraction",
            "item quantity 1.5",
            reason_has=("5508", "quantity", "1.5"),
            index=508,
            **_items(item("5508", 1.5, quantity_unshipped=DROP)),
        ),
        _held(
            "unshipped_over_quantity",
            "quantity_unshipped 5 on an item of quantity 1",
            reason_has=("5509", "quantity_unshipped", "5"),
            index=509,
            **_items(item("5509", 1, quantity_unshipped=5)),
        ),
        _held(
            "unshipped_negative",
            "quantity_unshipped -1",
            reason_has=("5510", "quantity_unshipped", "-1"),
            index=510,
            **_items(item("5510", 2, quantity_unshipped=-1)),
        ),
        _held(
            "unshipped_fraction",
            "quantity_unshipped 0.5",
            reason_has=("5511", "quantity_unshipped", "0.5"),
            index=511,
            **_items(item("5511", 2, quantity_unshipped=0.5)),
        ),
        _held(
            "price_missing",
            "item without a price",
            reason_has=("5512", "price"),
            index=512,
            **_items(item("5512", price=DROP)),
        ),
        _held(
            "price_nan_text",
            'item price "NaN"',
            reason_has=("5513", "price", "NaN"),
            index=513,
            **_items(item("5513", price="NaN")),
        ),
        _held(
            "price_nan_number",
            "item price NaN (a JSON NaN literal)",
            reason_has=("5514", "price"),
            index=514,
            **_items(item("5514", price=float("nan"))),
        ),
        _held(
            "price_infinite",
            'item price "Infinity"',
            reason_has=("5515", "price", "Infinity"),
            index=515,
            **_items(item("5515", price="Infinity")),
        ),
        _held(
            "price_negative",
            'item price "-5.00"',
            reason_has=("5516", "price", "-5"),
            index=516,
            **_items(item("5516", price="-5.00")),
        ),
        _held(
            "price_text",
            'item price "ten"',
            reason_has=("5517", "price", "ten"),
            index=517,
            **_items(item("5517", price="ten")),
        ),
        _held(
            "duplicate_line_ids",
            "two items with the same id",
            reason_has=("5518",),
            index=518,
            **_items(item("5518"), item("5518", 2)),
        ),
    ]


def surrogate_name() -> BadInput:
    """A lone surrogate in the customer's first name: held naming the field, or sent escaped."""
    order_id = "BAD-SURROGATE"
    return BadInput(
        name="surrogate_name",
        issue='a lone surrogate in the customer name ("Zo\\ud83d")',
        records=(
            (
                "orders",
                order(order_id, index=520, customer_first_name=f"{FIRST_NAME}Zo\ud83d"),
            ),
        ),
        outcome="held",
        order_id=order_id,
        reason_has=("customer_first_name",),
        may_be_sent=True,
    )


LONG_ID = "L" * 200
EDGE_ID = "E" * 65
#: The longest order id the target accepts: 64 characters.
LONGEST_ID = "M" * 64
COLLISION_ACCOUNT, COLLISION_ORDER = "10-01", "X"
#: The valid half of the collision pair: account 10, order 01-X, key bigcartel-10-01-X.
COLLISION_VALID_ACCOUNT, COLLISION_VALID_ORDER = "10", "01-X"


def rejected_records() -> list[BadInput]:
    """Orders that cannot be keyed: not stored, listed by ``Ledger.rejected()``."""
    return [
        BadInput(
            name="account_not_numeric",
            issue='account_id "10-01" (collides with account 10, order "01-X")',
            records=(
                ("products", product(account_id=COLLISION_ACCOUNT)),
                ("orders", order(COLLISION_ORDER, account_id=COLLISION_ACCOUNT, index=530)),
            ),
            outcome="rejected",
            account_id=COLLISION_ACCOUNT,
            order_id=COLLISION_ORDER,
        ),
        BadInput(
            name="order_id_missing",
            issue="an order without an id",
            records=(("orders", order("unused", account_id="1002", index=531, id=DROP)),),
            outcome="rejected",
            account_id="1002",
        ),
        BadInput(
            name="order_id_200_chars",
            issue="a 200-character order id (PostgreSQL: value too long)",
            records=(("orders", order(LONG_ID, index=532)),),
            outcome="rejected",
            order_id=LONG_ID,
            postgres_crash=True,
        ),
        BadInput(
            name="order_id_65_chars",
            issue="a 65-character order id",
            records=(("orders", order(EDGE_ID, index=533)),),
            outcome="rejected",
            order_id=EDGE_ID,
        ),
        BadInput(
            name="order_id_control_char",
            issue="an order id with a control character",
            records=(("orders", order("CTRL\x07\nID", index=534)),),
            outcome="rejected",
            order_id="CTRL\x07\nID",
        ),
    ]


#: The shop whose accounts record names a 3-letter country.
ALPHA3_ACCOUNT = "1003"


def catalog_records() -> list[BadInput]:
    """Catalog records the issue names as PostgreSQL-only crash loops."""
    return [
        BadInput(
            name="description_nul",
            issue="a NUL byte in a product description",
            records=(
                ("products", product("P-NUL-DESC", description="Soft\x00 tee. SKU: NUL-DESC")),
            ),
            outcome="survives",
            postgres_crash=True,
        ),
        BadInput(
            name="option_name_nul",
            issue="a NUL byte in a product option name",
            records=(
                (
                    "products",
                    product(
                        "P-NUL-OPT",
                        description="Tee. SKU: NUL-",
                        options=[
                            {"id": "P-NUL-OPT-1", "name": "SMALL\x00"},
                            {"id": "P-NUL-OPT-2", "name": "LARGE"},
                        ],
                    ),
                ),
            ),
            outcome="survives",
            postgres_crash=True,
        ),
        BadInput(
            name="country_alpha3",
            issue='an accounts record with the 3-letter country "USA", and an order of that shop',
            records=(
                ("accounts", account(ALPHA3_ACCOUNT, "USA")),
                ("products", product(account_id=ALPHA3_ACCOUNT)),
                ("orders", order("ALPHA3-1", account_id=ALPHA3_ACCOUNT, index=540)),
            ),
            outcome="held",
            account_id=ALPHA3_ACCOUNT,
            order_id="ALPHA3-1",
            reason_has=("USA",),
            postgres_crash=True,
        ),
    ]


def catalogue() -> list[BadInput]:
    """Every bad input of issue 9."""
    return [*held_orders(), surrogate_name(), *rejected_records(), *catalog_records()]


def partial_shipment_order(index: int = 550) -> Record:
    """Two lines, one already shipped (quantity_unshipped 0): only the other one is sent."""
    return order(
        "PARTIAL-1",
        index=index,
        items=[
            item("5601", 1, quantity_shipped=1, quantity_unshipped=0),
            item("5602", 2),
        ],
    )


def unknown_product_order(index: int = 580) -> Record:
    """An order held for a reason the target has always handled: its product is unknown."""
    return order("HELD-UNKNOWN", index=index, items=[item("5701", product={"id": "NOPE"})])


def base_messages(good: list[Record]) -> list[Message]:
    """Schemas, the catalog product, and the good orders."""
    return [
        *schema_messages(),
        record_message("products", product()),
        *(record_message("orders", rec) for rec in good),
    ]
