"""The sandbox's state: every shop's records, the clock, and every change made to them.

One re-entrant lock guards everything, so a request sees a consistent shop and a list page is
computed, rendered and (with ``mutate_while_paging``) followed by its mutation atomically. Each
change sends its webhook from here, so API requests, test helpers and the control API all do.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bigcartel_sandbox.auth import Credentials
from bigcartel_sandbox.config import SandboxConfig
from bigcartel_sandbox.data import ANCHOR_MS, COUNTRIES, ShopGenerator, shop_generators
from bigcartel_sandbox.documents import Renderer, Resource, resource_document, timestamp
from bigcartel_sandbox.errors import BadRequest, NotFound
from bigcartel_sandbox.index import Collection, Page
from bigcartel_sandbox.models import (
    PAYMENT_STATUS,
    SHIPPING_STATUS,
    Account,
    Artist,
    Category,
    Country,
    Discount,
    Order,
    OrderEvent,
    Product,
    Shipment,
    ShipmentItem,
    Shop,
)
from bigcartel_sandbox.queries import SHIPPING_STATUSES, ListQuery
from bigcartel_sandbox.webhooks import WebhookSender

LIST_KINDS = ("artists", "categories", "discounts", "products", "orders")
MUTATE_MODES = ("unread", "read", "random")
PATCHABLE_ORDER_ATTRIBUTES = (
    "customer_first_name",
    "customer_last_name",
    "customer_email",
    "shipping_address_1",
    "shipping_address_2",
    "shipping_city",
    "shipping_state",
    "shipping_zip",
    "shipping_country_id",
    "shipping_status",
)
# Test helpers may also change what a buyer's payment or checkout would.
_HELPER_ORDER_ATTRIBUTES = (
    *PATCHABLE_ORDER_ATTRIBUTES,
    "payment_status",
    "customer_note",
    "customer_phone_number",
    "customer_opted_in_to_marketing",
)
_REQUIRED_TEXT = (
    "customer_first_name",
    "customer_last_name",
    "customer_email",
    "shipping_address_1",
    "shipping_city",
    "shipping_zip",
)
_PAYMENT_STATUSES = ("unpaid", "pending", "completed", "failed", "invalid")
_SHIPMENT_ATTRIBUTES = ("carrier", "tracking_number", "tracking_url", "notify_customer", "items")
_SINGULAR = {
    "artists": "Artist",
    "categories": "Category",
    "discounts": "Discount",
    "products": "Product",
    "orders": "Order",
}


class Clock:
    """UTC epoch milliseconds that strictly increase and start above all generated data.

    Real time, except that two changes never share a millisecond and a machine whose clock is
    behind the generated data's anchor still produces newer timestamps. Guarded by the store lock.
    """

    def __init__(self, floor_ms: int) -> None:
        self._last = floor_ms

    def now(self) -> int:
        self._last = max(time.time_ns() // 1_000_000, self._last + 1)
        return self._last


@dataclass
class _ShopState:
    generator: ShopGenerator
    shop: Shop
    account: Account
    artists: Collection[Artist]
    categories: Collection[Category]
    discounts: Collection[Discount]
    products: Collection[Product]
    orders: Collection[Order]
    shipments: dict[str, list[Shipment]]


@dataclass(frozen=True)
class ListResult:
    data: list[Resource]
    included: list[Resource]
    count: int


class Store:
    """Thread-safe in-memory Big Cartel: generated shops plus every change made since.

    Plain attributes are switches tests flip directly: ``webhook_url``, ``shipments_enabled``,
    ``authorize_account_id``, ``authorize_decision`` (``"allow"`` or ``"deny"``) and
    ``mutate_while_paging`` (``{"orders": k, "products": k}``, see ``list_page``).
    """

    def __init__(self, config: SandboxConfig) -> None:
        self._lock = threading.RLock()
        self._shops: dict[str, _ShopState] = {}
        for generator in shop_generators(config):
            data = generator.generate()
            self._shops[data.shop.account_id] = _ShopState(
                generator=generator,
                shop=data.shop,
                account=data.account,
                artists=Collection(data.artists, {"position": _position}),
                categories=Collection(data.categories, {"position": _position}),
                discounts=Collection(data.discounts, {"id": _numeric_id}),
                products=Collection(
                    data.products,
                    {"position": _position, "created_at": _created, "updated_at": _updated},
                ),
                orders=Collection(
                    data.orders,
                    {"created_at": _created, "updated_at": _updated, "completed_at": _completed},
                ),
                shipments={},
            )
        self.credentials = Credentials(self.shops, config.client_id, config.client_secret)
        self.webhooks = WebhookSender(
            config.client_secret, config.webhook_retry_delays, config.webhook_timeout
        )
        self.webhook_url = config.webhook_url
        #: "live" or "docs" (see SandboxConfig.shapes); a switch tests may flip.
        self.shapes = config.shapes
        self.base_url = f"http://{config.host}"
        self.shipments_enabled = True
        self.authorize_account_id = self.shops[0].account_id
        self.authorize_decision = "allow"
        self.mutate_while_paging: dict[str, int] = {}
        self._mutate_mode = "unread"
        self._clock = Clock(ANCHOR_MS)
        self._rng = random.Random(config.seed)
        self._shipment_ids = itertools.count(1)

    # Shops and settings.

    @property
    def shops(self) -> list[Shop]:
        return [state.shop for state in self._shops.values()]

    def has_account(self, account_id: str) -> bool:
        return str(account_id) in self._shops

    @property
    def mutate_while_paging_mode(self) -> str:
        """Which records ``mutate_while_paging`` changes after a page.

        ``"unread"`` (the default): records after the page just served, in the list's order and
        filters, i.e. on pages the client has not read yet. With a descending sort they jump to
        the front, so an offset-paging client never sees them.
        ``"read"``: records on the pages already served. With an ascending ``updated_at`` sort
        they move to the end, shifting unread records back past the client's offset, which then
        skips them.
        ``"random"``: any records of the shop.
        """
        return self._mutate_mode

    @mutate_while_paging_mode.setter
    def mutate_while_paging_mode(self, mode: str) -> None:
        if mode not in MUTATE_MODES:
            raise ValueError(f"mode must be one of {', '.join(MUTATE_MODES)}, not {mode!r}")
        self._mutate_mode = mode

    def close(self) -> None:
        self.webhooks.close()

    # Reads.

    def account_document(self, account_id: str, base_url: str) -> dict:
        with self._lock:
            state = self._state(account_id)
            renderer = self._renderer(state, base_url)
            return resource_document(renderer.account(state.account), renderer.included)

    def document(self, account_id: str, kind: str, record_id: str, base_url: str) -> dict:
        """The JSON:API document of one record of a list kind, such as ``"orders"``."""
        with self._lock:
            state = self._state(account_id)
            record = self._collection(state, kind).get(record_id)
            if record is None:
                raise NotFound(
                    f"{_SINGULAR[kind]} {record_id} does not exist in account {account_id}."
                )
            renderer = self._renderer(state, base_url)
            return resource_document(renderer.render(kind, record), renderer.included)

    def list_page(self, account_id: str, kind: str, query: ListQuery, base_url: str) -> ListResult:
        """One rendered page of a list, then the ``mutate_while_paging`` change if it is on.

        The change happens after the page is rendered and before this call returns, so it
        lands between this page and the client's next request.
        """
        with self._lock:
            state = self._state(account_id)
            collection = self._collection(state, kind)
            page = collection.select(query)
            renderer = self._renderer(state, base_url)
            data = [renderer.render(kind, record) for record in page.records]
            self._mutate_after_page(state, kind, query, page)
            return ListResult(data, renderer.included, page.count)

    def shipments(self, account_id: str, order_id: str) -> list[dict[str, Any]]:
        """The shipments recorded for an order, oldest first, as plain dicts."""
        with self._lock:
            state = self._state(account_id)
            self._order(state, order_id)
            return [
                {
                    "id": s.id,
                    "order_id": s.order_id,
                    "carrier": s.carrier,
                    "tracking_number": s.tracking_number,
                    "tracking_url": s.tracking_url,
                    "notify_customer": s.notify_customer,
                    "items": [
                        {"order_line_item_id": i.order_line_item_id, "quantity": i.quantity}
                        for i in s.items
                    ],
                    "created_at": timestamp(s.created_at),
                }
                for s in state.shipments.get(order_id, [])
            ]

    @staticmethod
    def countries() -> list[Country]:
        return sorted(COUNTRIES.values(), key=lambda country: country.name)

    # Changes through the API.

    def patch_order(
        self, account_id: str, order_id: str, attributes: Mapping[str, Any], base_url: str
    ) -> dict:
        """Apply a PATCH's attributes and return the order's new document."""
        changes = _order_changes(attributes, PATCHABLE_ORDER_ATTRIBUTES)
        with self._lock:
            state = self._state(account_id)
            order = self._order(state, order_id)
            self._change_order(state, order, changes, self._clock.now())
            return self.document(account_id, "orders", order_id, base_url)

    def create_shipment(
        self, account_id: str, order_id: str, attributes: Mapping[str, Any], base_url: str
    ) -> dict:
        """Record a shipment of some of an order's items; return the shipment's document.

        The order becomes shipped once every item is fully shipped.
        """
        carrier, tracking_number, tracking_url, notify, wanted = _shipment_fields(attributes)
        with self._lock:
            state = self._state(account_id)
            order = self._order(state, order_id)
            items = {item.id: item for item in order.items}
            for item_id, quantity in wanted.items():
                item = items.get(item_id)
                if item is None:
                    raise BadRequest(
                        f"order_line_item_id {item_id} is not an item of order {order_id}."
                    )
                if quantity > item.quantity_unshipped:
                    raise BadRequest(
                        f"Cannot ship {quantity} of order_line_item_id {item_id}: "
                        f"only {item.quantity_unshipped} left unshipped."
                    )
            now = self._clock.now()
            shipment = Shipment(
                id=str(next(self._shipment_ids)),
                order_id=order.id,
                carrier=carrier,
                tracking_number=tracking_number,
                tracking_url=tracking_url,
                notify_customer=notify,
                items=tuple(ShipmentItem(i, q) for i, q in wanted.items()),
                created_at=now,
            )
            with state.orders.changing(order):
                for item_id, quantity in wanted.items():
                    items[item_id].quantity_shipped += quantity
                if all(item.quantity_unshipped == 0 for item in order.items):
                    order.shipping_status = "shipped"
                message = f"Shipped {sum(wanted.values())} item(s)"
                if carrier:
                    message += f" via {carrier}"
                if tracking_number:
                    message += f", tracking number {tracking_number}"
                order.events.append(
                    OrderEvent(state.generator.next_id(), message, now, SHIPPING_STATUS)
                )
                order.updated_at = now
            state.shipments.setdefault(order.id, []).append(shipment)
            self._emit_record(state, "order.updated", "orders", order)
            return resource_document(self._renderer(state, base_url).shipment(shipment), [])

    def revoke_token(self, account_id: str) -> None:
        """The shop's owner revokes the app: its token stops working (HTTP Basic still works).

        Not settled by the docs: revoking an already revoked token changes nothing and sends no
        second account.deauthorized webhook.
        """
        with self._lock:
            state = self._state(account_id)
            if self.credentials.revoke(state.shop.account_id):
                self._emit(state, "account.deauthorized", {"id": state.shop.account_id})

    # Changes for tests and the control API.

    def update_orders(self, account_id: str, count: int) -> list[str]:
        """Make a plausible change to ``count`` orders chosen at random; return their ids."""
        with self._lock:
            state = self._state(account_id)
            ids = self._pick(list(state.orders), count)
            self._touch(state, "orders", ids)
            return ids

    def update_products(self, account_id: str, count: int) -> list[str]:
        """Change the stock of ``count`` products chosen at random; return their ids."""
        with self._lock:
            state = self._state(account_id)
            ids = self._pick(list(state.products), count)
            self._touch(state, "products", ids)
            return ids

    def update_order(self, account_id: str, order_id: str, **attributes: Any) -> None:
        """Set order attributes as the shop or buyer would (PATCH's plus payment and checkout
        fields), stamping ``updated_at`` and sending order.updated."""
        changes = _order_changes(attributes, _HELPER_ORDER_ATTRIBUTES)
        with self._lock:
            state = self._state(account_id)
            order = self._order(state, order_id)
            self._change_order(state, order, changes, self._clock.now())

    def create_order(self, account_id: str) -> str:
        """Place a new paid, unshipped order for some of the shop's products; return its id.

        As the docs describe, the products it contains are updated (stock sold) and get a
        product.updated webhook.
        """
        with self._lock:
            state = self._state(account_id)
            if not state.products:
                raise BadRequest(f"Account {account_id} has no products to order.")
            now = self._clock.now()
            order = state.generator.new_order(
                now, list(state.products.values()), list(state.categories.values())
            )
            state.orders.add(order)
            self._emit_record(state, "order.created", "orders", order)
            sold: dict[str, int] = {}
            for item in order.items:
                sold[item.product_option_id] = sold.get(item.product_option_id, 0) + item.quantity
            for product_id in dict.fromkeys(item.product_id for item in order.items):
                product = state.products[product_id]
                with state.products.changing(product):
                    for option in product.options:
                        quantity = sold.get(option.id, 0)
                        option.sold += quantity
                        option.quantity = max(0, option.quantity - quantity)
                    product.updated_at = now
                self._emit_record(state, "product.updated", "products", product)
            return order.id

    def create_product(self, account_id: str) -> str:
        with self._lock:
            state = self._state(account_id)
            position = max((p.position for p in state.products.values()), default=0) + 1
            product = state.generator.new_product(
                self._clock.now(),
                position,
                list(state.categories.values()),
                list(state.artists.values()),
            )
            state.products.add(product)
            self._emit_record(state, "product.created", "products", product)
            return product.id

    def delete_product(self, account_id: str, product_id: str) -> None:
        with self._lock:
            state = self._state(account_id)
            if product_id not in state.products:
                raise NotFound(f"Product {product_id} does not exist in account {account_id}.")
            state.products.remove(product_id)
            # As the docs say, the payload of product.deleted is only the product's id.
            self._emit(state, "product.deleted", {"id": product_id})

    # Internals; the lock is held by the caller.

    def _state(self, account_id: str) -> _ShopState:
        state = self._shops.get(str(account_id))
        if state is None:
            raise NotFound(f"Account {account_id} does not exist.")
        return state

    @staticmethod
    def _collection(state: _ShopState, kind: str) -> Collection[Any]:
        if kind not in LIST_KINDS:
            raise ValueError(f"unknown resource {kind!r}")
        collection: Collection[Any] = getattr(state, kind)
        return collection

    @staticmethod
    def _order(state: _ShopState, order_id: str) -> Order:
        order = state.orders.get(order_id)
        if order is None:
            raise NotFound(f"Order {order_id} does not exist in account {state.shop.account_id}.")
        return order

    def _renderer(self, state: _ShopState, base_url: str) -> Renderer:
        return Renderer(
            base_url, state.shop.account_id, state.categories, state.artists, shapes=self.shapes
        )

    def _pick(self, candidates: list[str], count: int) -> list[str]:
        return self._rng.sample(candidates, min(max(count, 0), len(candidates)))

    def _touch(self, state: _ShopState, kind: str, ids: Iterable[str]) -> None:
        """Make the generator's plausible change to each record, all at one moment."""
        now = self._clock.now()
        for record_id in ids:
            if kind == "orders":
                order = state.orders[record_id]
                self._change_order(state, order, state.generator.order_change(order), now)
            else:
                product = state.products[record_id]
                changes = state.generator.product_change(product)
                with state.products.changing(product):
                    for name, value in changes.items():
                        setattr(product, name, value)
                    product.updated_at = now
                self._emit_record(state, "product.updated", "products", product)

    def _change_order(
        self, state: _ShopState, order: Order, changes: Mapping[str, Any], now: int
    ) -> None:
        """Apply validated changes, with their side effects, and stamp ``updated_at``.

        Not settled by the docs: setting shipping_status marks every item fully shipped (or
        unshipped) so line item quantities agree with the order; every change, even one that
        sets the same values, updates updated_at and sends order.updated.
        """
        with state.orders.changing(order):
            for name, value in changes.items():
                setattr(order, name, value)
            if "shipping_status" in changes:
                shipped = changes["shipping_status"] == "shipped"
                for item in order.items:
                    item.quantity_shipped = item.quantity if shipped else 0
                message = "Order marked as shipped" if shipped else "Order marked as unshipped"
                order.events.append(
                    OrderEvent(state.generator.next_id(), message, now, SHIPPING_STATUS)
                )
            if changes.get("payment_status") == "completed" and order.completed_at is None:
                order.completed_at = now
                order.events.append(
                    OrderEvent(state.generator.next_id(), "Payment received", now, PAYMENT_STATUS)
                )
            order.updated_at = now
        self._emit_record(state, "order.updated", "orders", order)

    def _mutate_after_page(
        self, state: _ShopState, kind: str, query: ListQuery, page: Page[Any]
    ) -> None:
        count = self.mutate_while_paging.get(kind, 0)
        if kind not in ("orders", "products") or count <= 0:
            return
        collection = self._collection(state, kind)
        if self._mutate_mode == "random":
            candidates = list(collection)
        else:
            read = query.offset + len(page.records)
            ordered = collection.ordered_ids(query)
            candidates = ordered[read:] if self._mutate_mode == "unread" else ordered[:read]
        self._touch(state, kind, self._pick(candidates, count))

    def _emit_record(self, state: _ShopState, event_type: str, kind: str, record: Any) -> None:
        if self.webhook_url:
            renderer = self._renderer(state, self.base_url)
            resource = renderer.render(kind, record)
            self._emit(state, event_type, resource_document(resource, renderer.included))

    def _emit(self, state: _ShopState, event_type: str, payload: dict[str, Any]) -> None:
        if self.webhook_url:
            self.webhooks.send(self.webhook_url, state.shop.account_id, event_type, payload)


def _position(record: Any) -> int:
    return int(record.position)


def _numeric_id(record: Any) -> int:
    return int(record.id)


def _created(record: Any) -> int:
    return int(record.created_at)


def _updated(record: Any) -> int:
    return int(record.updated_at)


def _completed(order: Order) -> int | None:
    return order.completed_at


def _order_changes(attributes: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Validate order attributes and turn them into record field values.

    Not settled by the docs: shipping_address_2, shipping_state, customer_note and
    customer_phone_number may be null; the other text attributes must be non-empty strings.
    """
    unknown = sorted(set(attributes).difference(allowed))
    if unknown:
        raise BadRequest(
            f"Cannot change {', '.join(unknown)}; writable attributes are {', '.join(allowed)}."
        )
    changes: dict[str, Any] = {}
    for name, value in attributes.items():
        if name == "shipping_country_id":
            if value not in COUNTRIES:
                raise BadRequest(f"shipping_country_id {value!r} is not a known country code.")
            changes["shipping_country"] = COUNTRIES[value]
        elif name == "shipping_status":
            if value not in SHIPPING_STATUSES:
                raise BadRequest(f"shipping_status must be shipped or unshipped, not {value!r}.")
            changes[name] = value
        elif name == "payment_status":
            if value not in _PAYMENT_STATUSES:
                raise BadRequest(f"payment_status must be one of {', '.join(_PAYMENT_STATUSES)}.")
            changes[name] = value
        elif name == "customer_opted_in_to_marketing":
            if not isinstance(value, bool):
                raise BadRequest("customer_opted_in_to_marketing must be true or false.")
            changes[name] = value
        elif name in _REQUIRED_TEXT:
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"{name} must be a non-empty string.")
            changes[name] = value
        else:
            if value is not None and not isinstance(value, str):
                raise BadRequest(f"{name} must be a string or null.")
            changes[name] = value
    return changes


def _shipment_fields(
    attributes: Mapping[str, Any],
) -> tuple[str | None, str | None, str | None, bool, dict[str, int]]:
    """Validate a shipment's attributes; quantities of repeated line items are added up.

    Not settled by the docs: unknown attributes are refused; items are required; carrier and
    tracking fields are optional; notify_customer defaults to true.
    """
    unknown = sorted(set(attributes).difference(_SHIPMENT_ATTRIBUTES))
    if unknown:
        raise BadRequest(
            f"Unknown shipment attributes {', '.join(unknown)}; "
            f"accepted: {', '.join(_SHIPMENT_ATTRIBUTES)}."
        )
    text: list[str | None] = []
    for name in ("carrier", "tracking_number", "tracking_url"):
        value = attributes.get(name)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{name} must be a string or null.")
        text.append(value)
    notify = attributes.get("notify_customer", True)
    if not isinstance(notify, bool):
        raise BadRequest("notify_customer must be true or false.")
    items = attributes.get("items")
    if not isinstance(items, list) or not items:
        raise BadRequest(
            "items must be a non-empty list of {order_line_item_id, quantity} objects."
        )
    wanted: dict[str, int] = {}
    for entry in items:
        item_id = entry.get("order_line_item_id") if isinstance(entry, dict) else None
        quantity = entry.get("quantity") if isinstance(entry, dict) else None
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
            raise BadRequest("Each item needs an order_line_item_id.")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise BadRequest("Each item needs a quantity that is a whole number of at least 1.")
        wanted[str(item_id)] = wanted.get(str(item_id), 0) + quantity
    carrier, tracking_number, tracking_url = text
    return carrier, tracking_number, tracking_url, notify, wanted
