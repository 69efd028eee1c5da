"""Render stored records as JSON:API resources and documents.

Shapes follow the reference's object tables with the newer attributes from the API notes: every id
is a string, money is a decimal string, timestamps are ISO-8601 UTC, and related objects (an
order's line items, a product's options) are relationships resolved in ``included``.

Where the reference and responses captured from the live API (whole documents recorded in public
test fixtures of other Big Cartel clients, see ../shared/reference/api-notes.md) disagree, the
default ``shapes="live"`` answers as the live API does, and ``shapes="docs"`` as the reference
says. Each such place is marked ``[live]`` / ``[docs]`` below:

* ``meta.count``: [live] a string (``"5"``); [docs] a number (the reference shows no document;
  a JSON:API count is a number).
* category ``position``: [live] an integer; [docs] a string (the object tables).
* adjustment and transaction types: [live] namespaced, ``order_adjustments/shipping|tax|discount``
  and ``order_transactions/payments``; [docs] the reference shows no types at all, so the docs
  shape uses the plain collection names ``order_adjustments`` / ``order_transactions`` (inferred),
  which tells a client nothing about the kind.
* [live] only: an order's ``warnings`` relationship (empty in every capture), an order event's
  ``identifier``, a product option's ``has_digital_file``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bigcartel_sandbox.models import (
    Account,
    Artist,
    Category,
    Country,
    Currency,
    Discount,
    LineItem,
    Order,
    Product,
    Shipment,
)

JSONAPI = "application/vnd.api+json"
Resource = dict[str, Any]


def timestamp(ms: int | None) -> str | None:
    """Epoch milliseconds -> ``2026-05-01T12:34:56.789Z``.

    Not settled by the docs: the precision; milliseconds keep distinct the updates a client's
    incremental sync must tell apart.
    """
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{millis:03d}Z"
    )


def money(cents: int | None) -> str | None:
    """Integer cents -> ``"12.50"``; negative amounts keep their sign: ``"-5.00"``."""
    if cents is None:
        return None
    whole, fraction = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{fraction:02d}"


def resource_document(data: Resource, included: list[Resource]) -> dict[str, Any]:
    return {"data": data, "included": included}


def list_document(
    data: list[Resource],
    included: list[Resource],
    count: int,
    self_url: str,
    next_url: str | None = None,
    *,
    shapes: str = "live",
) -> dict[str, Any]:
    links = {"self": self_url}
    if next_url is not None:
        links["next"] = next_url
    # [live] meta.count is a string ("5"); [docs] a number.
    rendered: int | str = str(count) if shapes == "live" else count
    return {"data": data, "included": included, "meta": {"count": rendered}, "links": links}


def _ref(type_: str, id_: str) -> dict[str, str]:
    return {"type": type_, "id": id_}


def _one(type_: str, id_: str) -> dict[str, Any]:
    return {"data": _ref(type_, id_)}


def _many(type_: str, ids: list[str]) -> dict[str, Any]:
    return {"data": [_ref(type_, id_) for id_ in ids]}


def _resource(
    type_: str,
    id_: str,
    attributes: dict[str, Any],
    relationships: dict[str, Any] | None = None,
    self_url: str | None = None,
) -> Resource:
    resource: Resource = {
        "id": id_,
        "type": type_,
        "attributes": attributes,
        "relationships": relationships or {},
    }
    # Not settled by the docs: only resources with an endpoint of their own get links.self;
    # line items, options, currencies and the like would otherwise link to nothing.
    if self_url is not None:
        resource["links"] = {"self": self_url}
    return resource


class Renderer:
    """Renders one shop's records; each related resource goes into ``included`` once.

    ``base_url`` is the sandbox's own address, so ``links`` are usable against it.
    """

    def __init__(
        self,
        base_url: str,
        account_id: str | None = None,
        categories: Mapping[str, Category] | None = None,
        artists: Mapping[str, Artist] | None = None,
        *,
        shapes: str = "live",
    ) -> None:
        self._base = base_url.rstrip("/")
        self._live = shapes == "live"
        self._account_url = f"{self._base}/v1/accounts/{account_id}"
        self._categories = categories or {}
        self._artists = artists or {}
        self.included: list[Resource] = []
        self._seen: set[tuple[str, str]] = set()
        self._by_kind: dict[str, Callable[[Any], Resource]] = {
            "accounts": self.account,
            "artists": self.artist,
            "categories": self.category,
            "discounts": self.discount,
            "products": self.product,
            "orders": self.order,
        }

    def render(self, kind: str, record: Any) -> Resource:
        """The resource for ``record`` of the list endpoint ``kind`` (e.g. ``"orders"``)."""
        return self._by_kind[kind](record)

    def _include(self, resource: Resource) -> None:
        key = (resource["type"], resource["id"])
        if key not in self._seen:
            self._seen.add(key)
            self.included.append(resource)

    def _include_currency(self, currency: Currency) -> None:
        """Most records of a page share a currency; render it only the first time."""
        if ("currencies", currency.id) not in self._seen:
            self._include(self.currency(currency))

    def _include_country(self, country: Country) -> None:
        if ("countries", country.id) not in self._seen:
            self._include(self.country(country))

    def account(self, account: Account) -> Resource:
        self._include_currency(account.currency)
        self._include_country(account.country)
        plan = account.plan
        self._include(
            _resource(
                "plans",
                plan.id,
                {
                    "name": plan.name,
                    "max_products": plan.max_products,
                    "max_images_per_product": plan.max_images_per_product,
                    "monthly_rate": money(plan.monthly_rate),
                },
            )
        )
        self._include(_resource("account_images", account.image_id, {"url": account.image_url}))
        return _resource(
            "accounts",
            account.id,
            {
                "subdomain": account.subdomain,
                "store_name": account.store_name,
                "description": account.description,
                "contact_email": account.contact_email,
                "url": account.url,
                "website": account.website,
                "created_at": timestamp(account.created_at),
                "updated_at": timestamp(account.updated_at),
                "under_maintenance": account.under_maintenance,
                "inventory_enabled": account.inventory_enabled,
                "artists_enabled": account.artists_enabled,
            },
            {
                "currency": _one("currencies", account.currency.id),
                "country": _one("countries", account.country.id),
                "plan": _one("plans", plan.id),
                "account_image": _one("account_images", account.image_id),
            },
            self_url=self._account_url,
        )

    def currency(self, currency: Currency) -> Resource:
        return _resource(
            "currencies",
            currency.id,
            {"name": currency.name, "sign": currency.sign, "locale": currency.locale},
        )

    def country(self, country: Country) -> Resource:
        return _resource("countries", country.id, {"name": country.name})

    def artist(self, artist: Artist) -> Resource:
        return _resource(
            "artists",
            artist.id,
            # [docs] in both shapes: the reference types an artist's position as a string, and no
            # live capture shows an artist (categories, which share the table, are integers).
            {"name": artist.name, "permalink": artist.permalink, "position": str(artist.position)},
            self_url=f"{self._account_url}/artists/{artist.id}",
        )

    def category(self, category: Category) -> Resource:
        return _resource(
            "categories",
            category.id,
            {
                "name": category.name,
                "permalink": category.permalink,
                # [live] an integer, also inside a product's categories; [docs] a string.
                "position": category.position if self._live else str(category.position),
            },
            self_url=f"{self._account_url}/categories/{category.id}",
        )

    def discount(self, discount: Discount) -> Resource:
        return _resource(
            "discounts",
            discount.id,
            {
                "name": discount.name,
                "code": discount.code,
                "status": discount.status,
                "active_at": timestamp(discount.active_at),
                "expires_at": timestamp(discount.expires_at),
                "requirement_type": discount.requirement_type,
                "expiration_type": discount.expiration_type,
                "reward_type": discount.reward_type,
                "application_type": discount.application_type,
                "percent_discount": discount.percent_discount,
                "flat_rate_discount": money(discount.flat_rate_discount),
                "use_limit": discount.use_limit,
                "use_count": discount.use_count,
                "minimum_cart_total": money(discount.minimum_cart_total),
                "minimum_cart_quantity": discount.minimum_cart_quantity,
            },
            self_url=f"{self._account_url}/discounts/{discount.id}",
        )

    def product(self, product: Product) -> Resource:
        for option in product.options:
            attributes: dict[str, Any] = {
                "name": option.name,
                "price": money(option.price),
                "quantity": option.quantity,
                "sold": option.sold,
            }
            if self._live:  # [live] only
                attributes["has_digital_file"] = option.has_digital_file
            self._include(_resource("product_options", option.id, attributes))
        for image in product.images:
            self._include(_resource("product_images", image.id, {"url": image.url}))
        categories = [self._categories[c] for c in product.category_ids if c in self._categories]
        for category in categories:
            self._include(self.category(category))
        artists = [self._artists[a] for a in product.artist_ids if a in self._artists]
        for artist in artists:
            self._include(self.artist(artist))
        for shipping in product.shipping_options:
            self._include_country(shipping.country)
            self._include(
                _resource(
                    "shipping_options",
                    shipping.id,
                    {
                        "price_alone": money(shipping.price_alone),
                        "price_with_others": money(shipping.price_with_others),
                    },
                    {"country": _one("countries", shipping.country.id)},
                )
            )
        return _resource(
            "products",
            product.id,
            {
                "name": product.name,
                "permalink": product.permalink,
                "status": product.status,
                "description": product.description,
                "created_at": timestamp(product.created_at),
                "updated_at": timestamp(product.updated_at),
                "default_price": money(product.default_price),
                "on_sale": product.on_sale,
                "position": product.position,
                "url": product.url,
                "primary_image_url": product.primary_image_url,
            },
            {
                "options": _many("product_options", [o.id for o in product.options]),
                "images": _many("product_images", [i.id for i in product.images]),
                "categories": _many("categories", [c.id for c in categories]),
                "artists": _many("artists", [a.id for a in artists]),
                "shipping_options": _many(
                    "shipping_options", [s.id for s in product.shipping_options]
                ),
            },
            self_url=f"{self._account_url}/products/{product.id}",
        )

    def order(self, order: Order) -> Resource:
        include = self._include
        self._include_currency(order.currency)
        self._include_country(order.shipping_country)
        for item in order.items:
            include(self._line_item(item))
        for event in order.events:
            event_attributes: dict[str, Any] = {
                "message": event.message,
                "created_at": timestamp(event.created_at),
            }
            if self._live:  # [live] only
                event_attributes["identifier"] = event.identifier
            include(_resource("order_events", event.id, event_attributes))
        transaction_type = self._transaction_type()
        for transaction in order.transactions:
            include(
                _resource(
                    transaction_type,
                    transaction.id,
                    {
                        "label": transaction.label,
                        "amount": money(transaction.amount),
                        "processor": transaction.processor,
                        "processor_id": transaction.processor_id,
                        "processor_url": transaction.processor_url,
                    },
                    {"currency": _one("currencies", order.currency.id)},
                )
            )
        for adjustment in order.adjustments:
            include(
                _resource(
                    self._adjustment_type(adjustment.kind),
                    adjustment.id,
                    # Not settled by the docs: a discount adjustment's amount is negative, while
                    # the order's discount_total is positive and subtracted from the total.
                    {"amount": money(adjustment.amount), "label": adjustment.label},
                )
            )
        return _resource(
            "orders",
            order.id,
            {
                "item_count": order.item_count,
                "item_total": money(order.item_total),
                "discount_total": money(order.discount_total),
                "shipping_total": money(order.shipping_total),
                "tax_total": money(order.tax_total),
                "total": money(order.total),
                "customer_first_name": order.customer_first_name,
                "customer_last_name": order.customer_last_name,
                "customer_email": order.customer_email,
                "customer_phone_number": order.customer_phone_number,
                "customer_opted_in_to_marketing": order.customer_opted_in_to_marketing,
                "customer_note": order.customer_note,
                "shipping_address_1": order.shipping_address_1,
                "shipping_address_2": order.shipping_address_2,
                "shipping_city": order.shipping_city,
                "shipping_state": order.shipping_state,
                "shipping_zip": order.shipping_zip,
                "shipping_country_name": order.shipping_country.name,
                "shipping_latitude": order.shipping_latitude,
                "shipping_longitude": order.shipping_longitude,
                "shipping_status": order.shipping_status,
                "payment_status": order.payment_status,
                "tax_remitted_by_big_cartel": order.tax_remitted_by_big_cartel,
                "created_at": timestamp(order.created_at),
                "updated_at": timestamp(order.updated_at),
                "completed_at": timestamp(order.completed_at),
            },
            {
                "currency": _one("currencies", order.currency.id),
                "shipping_country": _one("countries", order.shipping_country.id),
                "items": _many("order_line_items", [i.id for i in order.items]),
                "events": _many("order_events", [e.id for e in order.events]),
                "transactions": {
                    "data": [_ref(transaction_type, t.id) for t in order.transactions]
                },
                "adjustments": {
                    "data": [_ref(self._adjustment_type(a.kind), a.id) for a in order.adjustments]
                },
                **self._warnings(),
            },
            self_url=f"{self._account_url}/orders/{order.id}",
        )

    def _transaction_type(self) -> str:
        # [live] namespaced; [docs] the plain collection name (the reference shows no types).
        return "order_transactions/payments" if self._live else "order_transactions"

    def _adjustment_type(self, kind: str) -> str:
        # [live] order_adjustments/shipping, /tax, /discount; [docs] the plain collection name.
        return f"order_adjustments/{kind}" if self._live else "order_adjustments"

    def _warnings(self) -> dict[str, Any]:
        # [live] only: a to-many relationship, empty in every capture; its items' type and
        # attributes are unknown, so the sandbox never has a warning.
        return {"warnings": {"data": []}} if self._live else {}

    def _line_item(self, item: LineItem) -> Resource:
        return _resource(
            "order_line_items",
            item.id,
            {
                "product_name": item.product_name,
                "product_option_name": item.product_option_name,
                "quantity": item.quantity,
                "price": money(item.price),
                "total": money(item.total),
                "image_url": item.image_url,
                # Not settled by the docs: product_id is a string, like the product's own id.
                "product_id": item.product_id,
                "tax_total": money(item.tax_total),
                "quantity_shipped": item.quantity_shipped,
                "quantity_unshipped": item.quantity_unshipped,
                "category_names": list(item.category_names),
            },
            {
                "product": _one("products", item.product_id),
                "product_option": _one("product_options", item.product_option_id),
            },
        )

    def shipment(self, shipment: Shipment) -> Resource:
        return _resource(
            "shipments",
            shipment.id,
            {
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "tracking_url": shipment.tracking_url,
                "notify_customer": shipment.notify_customer,
                "items": [
                    {"order_line_item_id": i.order_line_item_id, "quantity": i.quantity}
                    for i in shipment.items
                ],
                "created_at": timestamp(shipment.created_at),
            },
            {"order": _one("orders", shipment.order_id)},
        )
