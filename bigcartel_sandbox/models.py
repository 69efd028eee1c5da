"""The records the sandbox stores, one class per Big Cartel object.

Records are compact (slotted, timestamps as epoch milliseconds, money as integer cents) because a
shop may hold 100,000 orders; they become JSON:API documents only when a request asks for them
(see ``documents.py``). Integer cents keep every total exact, as decimal arithmetic would.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shop:
    """The credentials of one sandbox shop, as a client would be configured with them."""

    account_id: str
    subdomain: str
    password: str
    access_token: str
    country: str


@dataclass(frozen=True, slots=True)
class Country:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Currency:
    id: str
    name: str
    sign: str
    locale: str


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    max_products: int
    max_images_per_product: int
    monthly_rate: int


@dataclass(slots=True)
class Account:
    id: str
    subdomain: str
    store_name: str
    description: str
    contact_email: str
    url: str
    website: str | None
    created_at: int
    updated_at: int
    under_maintenance: bool
    inventory_enabled: bool
    artists_enabled: bool
    currency: Currency
    country: Country
    plan: Plan
    image_id: str
    image_url: str


@dataclass(slots=True)
class Artist:
    id: str
    name: str
    permalink: str
    position: int


@dataclass(slots=True)
class Category:
    id: str
    name: str
    permalink: str
    position: int


@dataclass(slots=True)
class Discount:
    id: str
    name: str
    code: str
    status: str
    active_at: int
    expires_at: int | None
    requirement_type: str
    expiration_type: str
    reward_type: str
    application_type: str
    percent_discount: int | None
    flat_rate_discount: int | None
    use_limit: int | None
    use_count: int
    minimum_cart_total: int | None
    minimum_cart_quantity: int | None


@dataclass(slots=True)
class ProductOption:
    id: str
    name: str
    price: int
    quantity: int
    sold: int
    #: Live responses carry it (false in every capture); no sandbox product is digital.
    has_digital_file: bool = False


@dataclass(frozen=True, slots=True)
class ProductImage:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class ShippingOption:
    id: str
    price_alone: int
    price_with_others: int
    country: Country


@dataclass(slots=True)
class Product:
    id: str
    name: str
    permalink: str
    status: str
    description: str
    created_at: int
    updated_at: int
    default_price: int
    on_sale: bool
    position: int
    url: str
    options: list[ProductOption]
    images: list[ProductImage]
    category_ids: list[str]
    artist_ids: list[str]
    shipping_options: list[ShippingOption]

    @property
    def primary_image_url(self) -> str | None:
        return self.images[0].url if self.images else None


@dataclass(slots=True)
class LineItem:
    id: str
    product_id: str
    product_option_id: str
    product_name: str
    product_option_name: str
    quantity: int
    price: int
    image_url: str | None
    tax_total: int
    category_names: tuple[str, ...]
    quantity_shipped: int = 0

    @property
    def total(self) -> int:
        return self.price * self.quantity

    @property
    def quantity_unshipped(self) -> int:
        return self.quantity - self.quantity_shipped


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """``identifier`` names what the event changed, as live responses do (``payment_status``,
    ``shipping_status`` in the captures); None for an event that changed neither (inferred)."""

    id: str
    message: str
    created_at: int
    identifier: str | None = None


#: The ``identifier`` of events that changed the payment or the shipping status.
PAYMENT_STATUS = "payment_status"
SHIPPING_STATUS = "shipping_status"


@dataclass(frozen=True, slots=True)
class OrderTransaction:
    id: str
    label: str
    amount: int
    processor: str
    processor_id: str | None
    processor_url: str | None


@dataclass(frozen=True, slots=True)
class OrderAdjustment:
    """A shipping, tax or discount line; discounts carry a negative amount."""

    id: str
    kind: str
    amount: int
    label: str


@dataclass(slots=True)
class Order:
    """An order; its money totals derive from the line items and adjustments, so they agree."""

    id: str
    created_at: int
    updated_at: int
    completed_at: int | None
    customer_first_name: str
    customer_last_name: str
    customer_email: str
    customer_phone_number: str | None
    customer_opted_in_to_marketing: bool
    customer_note: str | None
    shipping_address_1: str
    shipping_address_2: str | None
    shipping_city: str
    shipping_state: str | None
    shipping_zip: str
    shipping_country: Country
    shipping_latitude: float | None
    shipping_longitude: float | None
    shipping_status: str
    payment_status: str
    tax_remitted_by_big_cartel: bool
    currency: Currency
    items: list[LineItem]
    events: list[OrderEvent]
    transactions: list[OrderTransaction]
    adjustments: list[OrderAdjustment]

    @property
    def item_count(self) -> int:
        return sum(item.quantity for item in self.items)

    @property
    def item_total(self) -> int:
        return sum(item.total for item in self.items)

    def adjustment_total(self, kind: str) -> int:
        return sum(a.amount for a in self.adjustments if a.kind == kind)

    @property
    def discount_total(self) -> int:
        return -self.adjustment_total("discount")

    @property
    def shipping_total(self) -> int:
        return self.adjustment_total("shipping")

    @property
    def tax_total(self) -> int:
        return self.adjustment_total("tax")

    @property
    def total(self) -> int:
        return self.item_total - self.discount_total + self.shipping_total + self.tax_total


@dataclass(frozen=True, slots=True)
class ShipmentItem:
    order_line_item_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Shipment:
    id: str
    order_id: str
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    notify_customer: bool
    items: tuple[ShipmentItem, ...]
    created_at: int
