"""Seeded shop data: the same seed gives the same records, byte for byte.

Each shop draws from its own random stream, so shop 1 is the same whether the sandbox has one
shop or ten. Nothing here reads the real clock: generated timestamps fall in the year before
``ANCHOR_MS``; later changes made by the store use the real clock and so are always newer.
"""

from __future__ import annotations

import gc
import random
import re
import string
import unicodedata
from bisect import bisect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

from bigcartel_sandbox.config import SandboxConfig
from bigcartel_sandbox.models import (
    PAYMENT_STATUS,
    SHIPPING_STATUS,
    Account,
    Artist,
    Category,
    Country,
    Currency,
    Discount,
    LineItem,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderTransaction,
    Plan,
    Product,
    ProductImage,
    ProductOption,
    ShippingOption,
    Shop,
)

T = TypeVar("T")

ANCHOR_MS = 1_780_272_000_000  # 2026-06-01T00:00:00Z
DAY_MS = 86_400_000
WINDOW_START_MS = ANCHOR_MS - 365 * DAY_MS
# Products are created in the first month so that every order comes after its products.
ORDERS_START_MS = WINDOW_START_MS + 30 * DAY_MS

SHOP_COUNTRY_IDS = ("US", "CA", "GB", "DE", "AU")

# Country id -> (name, places as (city, state, latitude, longitude)).
_PLACES: dict[str, tuple[str, tuple[tuple[str, str | None, float, float], ...]]] = {
    "US": (
        "United States",
        (
            ("Portland", "OR", 45.5152, -122.6784),
            ("Austin", "TX", 30.2672, -97.7431),
            ("Brooklyn", "NY", 40.6782, -73.9442),
            ("Chicago", "IL", 41.8781, -87.6298),
            ("Denver", "CO", 39.7392, -104.9903),
            ("Nashville", "TN", 36.1627, -86.7816),
        ),
    ),
    "CA": (
        "Canada",
        (
            ("Toronto", "ON", 43.6532, -79.3832),
            ("Montréal", "QC", 45.5017, -73.5673),
            ("Vancouver", "BC", 49.2827, -123.1207),
            ("Halifax", "NS", 44.6488, -63.5752),
        ),
    ),
    "GB": (
        "United Kingdom",
        (
            ("London", "Greater London", 51.5072, -0.1276),
            ("Manchester", "Greater Manchester", 53.4808, -2.2426),
            ("Bristol", None, 51.4545, -2.5879),
            ("Glasgow", "Glasgow City", 55.8642, -4.2518),
        ),
    ),
    "DE": (
        "Germany",
        (
            ("Berlin", "Berlin", 52.5200, 13.4050),
            ("Hamburg", "Hamburg", 53.5511, 9.9937),
            ("München", "Bayern", 48.1351, 11.5820),
            ("Köln", "Nordrhein-Westfalen", 50.9375, 6.9603),
        ),
    ),
    "AU": (
        "Australia",
        (
            ("Melbourne", "VIC", -37.8136, 144.9631),
            ("Sydney", "NSW", -33.8688, 151.2093),
            ("Brisbane", "QLD", -27.4698, 153.0251),
            ("Perth", "WA", -31.9523, 115.8613),
        ),
    ),
    "AT": ("Austria", (("Wien", "Wien", 48.2082, 16.3738),)),
    "BE": ("Belgium", (("Bruxelles", None, 50.8503, 4.3517),)),
    "BR": ("Brazil", (("São Paulo", "SP", -23.5505, -46.6333),)),
    "CH": ("Switzerland", (("Zürich", "ZH", 47.3769, 8.5417),)),
    "DK": ("Denmark", (("København", None, 55.6761, 12.5683),)),
    "ES": ("Spain", (("Barcelona", "Cataluña", 41.3874, 2.1686),)),
    "FR": ("France", (("Paris", None, 48.8566, 2.3522), ("Lyon", None, 45.7640, 4.8357))),
    "IE": ("Ireland", (("Dublin", "Co. Dublin", 53.3498, -6.2603),)),
    "IT": ("Italy", (("Milano", "MI", 45.4642, 9.1900),)),
    "JP": ("Japan", (("Tokyo", "Tokyo", 35.6762, 139.6503), ("Osaka", "Osaka", 34.6937, 135.5023))),
    "MX": ("Mexico", (("Ciudad de México", "CDMX", 19.4326, -99.1332),)),
    "NL": ("Netherlands", (("Amsterdam", "Noord-Holland", 52.3676, 4.9041),)),
    "NO": ("Norway", (("Oslo", None, 59.9139, 10.7522),)),
    "NZ": ("New Zealand", (("Auckland", None, -36.8485, 174.7633),)),
    "SE": ("Sweden", (("Stockholm", None, 59.3293, 18.0686),)),
}

COUNTRIES: dict[str, Country] = {
    country_id: Country(country_id, name) for country_id, (name, _) in _PLACES.items()
}

CURRENCIES: dict[str, Currency] = {
    "US": Currency("USD", "U.S. Dollar", "$", "en-US"),
    "CA": Currency("CAD", "Canadian Dollar", "$", "en-CA"),
    "GB": Currency("GBP", "Pound Sterling", "£", "en-GB"),
    "DE": Currency("EUR", "Euro", "€", "de-DE"),
    "AU": Currency("AUD", "Australian Dollar", "$", "en-AU"),
}

PLANS = (
    Plan("gold", "Gold", 5, 1, 0),
    Plan("platinum", "Platinum", 50, 5, 1500),
    Plan("diamond", "Diamond", 250, 5, 2500),
    Plan("titanium", "Titanium", 500, 5, 3500),
)

# Sales tax in basis points on domestic orders; GB and DE prices include VAT.
_TAX_BASIS_POINTS = {"US": 825, "CA": 1300, "GB": 0, "DE": 0, "AU": 1000}

_STORE_NAMES = (
    "Paper Moth Press",
    "Night Owl Records",
    "Fern & Fox Goods",
    "Static Bloom Studio",
    "Low Tide Print Co.",
)
_FIRST_NAMES = (
    "Ada", "Ben", "Chloé", "Dev", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jo", "Kofi", "Lena",
    "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tomás", "Uma", "Vik", "Wren",
    "Xu", "Yara", "Zoe", "Aoife", "Björn", "Camille", "Dmitri",
)  # fmt: skip
_LAST_NAMES = (
    "Abbott", "Baker", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Hughes", "Ito", "Jones",
    "Kowalski", "Lopez", "Müller", "Nguyen", "O'Brien", "Patel", "Quinn", "Rossi", "Smith",
    "Tanaka", "Umar", "Valdez", "Walker", "Xiong", "Young", "Zhang",
)  # fmt: skip
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_STREET_NAMES = ("Oak", "Maple", "Mill", "Station", "Church", "Park", "Lake", "Hill", "Elm", "King")
_STREET_SUFFIXES = ("St", "Ave", "Rd", "Blvd", "Lane")
_GERMAN_STREETS = ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Lindenallee")
_GB_OUTWARD = ("SW1A", "E1", "M4", "BS1", "G2", "N16", "SE15", "EC2A")
_SECOND_LINES = ("Apt 4B", "Suite 200", "Unit 7", "Flat 3", "2nd floor")
_NOTES = (
    "Please ship in a tube, not folded!",
    "It's a gift, no receipt please.",
    "Leave with the neighbour if I'm out.",
    "Can you sign it?",
)
_CATEGORY_NAMES = (
    "Apparel", "Prints", "Stickers", "Music", "Accessories", "Zines", "Sale", "New Arrivals",
    "Bags", "Home",
)  # fmt: skip
_ARTIST_NAMES = (
    "Mara Lindqvist", "The Quiet Hours", "Obi Nnamdi", "Skyline Collective", "June Park", "Dax",
)  # fmt: skip
_ADJECTIVES = (
    "Midnight", "Sunset", "Wildflower", "Static", "Paper Moon", "Low Tide", "Neon", "Fern",
    "Ghost", "Copper", "Velvet", "Thunder",
)  # fmt: skip
# (noun, SKU code, price in cents, kind of option names when it has several)
_PRODUCT_KINDS = (
    ("Tee", "TEE", 2500, "sizes"),
    ("Hoodie", "HOOD", 5500, "sizes"),
    ("Poster", "POST", 2000, "colours"),
    ("Screen Print", "PRNT", 4500, "colours"),
    ("Sticker Pack", "STKR", 800, "colours"),
    ("Tote Bag", "TOTE", 1800, "colours"),
    ("Enamel Pin", "PIN", 1200, "colours"),
    ("Zine", "ZINE", 1000, "colours"),
    ("Vinyl LP", "LP", 3000, "colours"),
    ("Cap", "CAP", 2800, "sizes"),
)
_OPTION_SETS = {
    "sizes": (
        ("SMALL", "MEDIUM", "LARGE"),
        ("SMALL", "MEDIUM", "LARGE", "X-LARGE"),
        ("SMALL", "X-LARGE"),
    ),
    "colours": (
        ("Black", "White"),
        ("Black", "Heather Grey", "Navy"),
        ("Red", "Forest Green", "Mustard"),
    ),
}
_BLURBS = (
    "Screen printed by hand in small batches.",
    "Printed on 100% recycled stock.",
    "Limited run; once it's gone, it's gone.",
    "Soft ringspun cotton, unisex fit.",
    "Ships in a sturdy mailer.",
    "Designed & printed in our studio.",
    "Each one signed and numbered.",
)
_DISCOUNT_PLANS = (
    # (name, code, reward type, percent or cents, expiration type, still active at the anchor)
    ("Spring sale", "SPRING15", "percent_discount", 15, "never", True),
    ("Free shipping weekend", "SHIPFREE", "free_shipping", None, "on_date", True),
    ("Five off", "FIVEOFF", "flat_rate_discount", 500, "on_limit", True),
    ("Launch party", "LAUNCH20", "percent_discount", 20, "on_date", False),
    ("First hundred", "FIRST100", "flat_rate_discount", 1000, "on_limit", False),
)
_PROCESSORS = ("stripe", "stripe", "stripe", "paypal_express", "paypal_standard", "cash")
_PROCESSOR_LABELS = {
    "stripe": "Stripe",
    "paypal_express": "PayPal",
    "paypal_standard": "PayPal",
    "cash": "cash",
}
# Dealt shuffled, a deck at a time, so even a small shop has every payment and shipping status
# while most orders are paid and waiting to ship.
_STATUS_DECK = (
    *(("completed", "unshipped"),) * 11,
    *(("completed", "shipped"),) * 5,
    ("pending", "unshipped"),
    ("unpaid", "unshipped"),
    ("failed", "unshipped"),
    ("invalid", "unshipped"),
)


class _Random(random.Random):
    """``random.Random`` with cheap draws for the hot loop: a scaled float, not rejection sampling.

    The tiny bias this allows is irrelevant to test data, and it makes generation several times
    faster.
    """

    def pick(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def below(self, stop: int) -> int:
        return int(self.random() * stop)

    def between(self, start: int, stop: int) -> int:
        return start + int(self.random() * (stop - start))

    def weighted(self, values: Sequence[T], cumulative_weights: Sequence[int]) -> T:
        return values[bisect(cumulative_weights, self.random() * cumulative_weights[-1])]


@dataclass
class ShopData:
    """Everything generated for one shop."""

    shop: Shop
    account: Account
    artists: list[Artist]
    categories: list[Category]
    discounts: list[Discount]
    products: list[Product]
    orders: list[Order]


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause the cycle collector while a shop is built.

    The records hold no reference cycles, so the collector has nothing to find in them, yet with
    hundreds of thousands of new objects it runs often enough to double the generation time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def slug(text: str) -> str:
    """``"Björn's Tee"`` -> ``"bjorn-s-tee"``: ASCII letters and digits joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def shop_generators(config: SandboxConfig) -> list[ShopGenerator]:
    """One generator per shop, each with a distinct order-id prefix."""
    prefix_rng = random.Random(config.seed)
    prefixes: list[str] = []
    while len(prefixes) < config.shops:
        prefix = "".join(prefix_rng.choices(string.ascii_uppercase, k=4))
        if prefix not in prefixes:
            prefixes.append(prefix)
    return [ShopGenerator(index, config, prefix) for index, prefix in enumerate(prefixes, start=1)]


class ShopGenerator:
    """Builds one shop's records from its own random stream, and plausible changes later on."""

    def __init__(self, index: int, config: SandboxConfig, order_prefix: str) -> None:
        self._config = config
        self._rng = _Random(config.seed * 1_000_003 + index)
        self._next_id = index * 10_000_000 + 1
        self._next_order_number = 100_001
        self._order_prefix = order_prefix
        self._permalinks: set[str] = set()
        self._changes = 0
        account_id = 1000 + index
        country_id = SHOP_COUNTRY_IDS[(index - 1) % len(SHOP_COUNTRY_IDS)]
        self.shop = Shop(
            account_id=str(account_id),
            subdomain=f"shop{index}",
            password=f"sandbox-password-{index}",
            access_token=f"sandbox-token-{account_id}",
            country=country_id,
        )
        self._index = index
        self._country = COUNTRIES[country_id]
        self._currency = CURRENCIES[country_id]
        self._foreign = [c for c in COUNTRIES.values() if c.id != country_id]

    def generate(self) -> ShopData:
        with _cycle_collector_paused():
            return self._generate()

    def _generate(self) -> ShopData:
        categories = self._categories()
        artists = self._artists()
        discounts = self._discounts()
        products = self._products(categories, artists)
        return ShopData(
            shop=self.shop,
            account=self._account(),
            artists=artists,
            categories=categories,
            discounts=discounts,
            products=products,
            orders=self._orders(products, categories, discounts),
        )

    # Records and changes made after generation, at the store's clock.

    def next_id(self) -> str:
        """The next id of this shop's single numeric id sequence (products, items, events...)."""
        value = self._next_id
        self._next_id += 1
        return str(value)

    def new_order(self, at_ms: int, products: list[Product], categories: list[Category]) -> Order:
        """A paid order waiting to ship, as placed at ``at_ms``."""
        catalog = _catalog(products, categories)
        return self._order(at_ms, at_ms, at_ms, "completed", "unshipped", catalog, [])

    def new_product(
        self, at_ms: int, position: int, categories: list[Category], artists: list[Artist]
    ) -> Product:
        return self._product(position, at_ms, at_ms, categories, artists)

    def order_change(self, order: Order) -> dict[str, object]:
        """Something a buyer or seller might change on an order, without shipping it."""
        if order.payment_status == "pending":
            return {"payment_status": "completed"}
        self._changes += 1
        choice = self._rng.below(3)
        if choice == 0:
            return {"shipping_address_2": f"{self._rng.pick(_SECOND_LINES)} ({self._changes})"}
        if choice == 1:
            return {"customer_note": f"{self._rng.pick(_NOTES)} (edit {self._changes})"}
        return {"customer_phone_number": self._phone()}

    def product_change(self, product: Product) -> dict[str, object]:
        """A stock count change on one option, the commonest product update."""
        index = self._rng.below(len(product.options))
        options = list(product.options)
        old = options[index]
        quantity = old.quantity + self._rng.between(1, 25)
        options[index] = replace(old, quantity=quantity)
        return {"options": options}

    # Generation.

    def _account(self) -> Account:
        index = self._index
        names = _STORE_NAMES
        store_name = names[(index - 1) % len(names)]
        if index > len(names):
            store_name = f"{store_name} {index}"
        products = self._config.products_per_shop
        plan = next((p for p in PLANS if p.max_products >= products), PLANS[-1])
        image_id = self.next_id()
        return Account(
            id=self.shop.account_id,
            subdomain=self.shop.subdomain,
            store_name=store_name,
            description=f"{store_name}: prints, records and other small-batch things.",
            contact_email=f"hello@{self.shop.subdomain}.example.com",
            url=f"https://{self.shop.subdomain}.bigcartel.com",
            website=f"https://{self.shop.subdomain}.example.com" if index % 2 else None,
            created_at=WINDOW_START_MS - self._rng.between(30, 900) * DAY_MS,
            updated_at=WINDOW_START_MS + self._rng.between(0, 300 * DAY_MS),
            under_maintenance=False,
            inventory_enabled=True,
            artists_enabled=True,
            currency=self._currency,
            country=self._country,
            plan=plan,
            image_id=image_id,
            image_url=f"https://assets.bigcartel.com/account_images/{image_id}/logo.png",
        )

    def _categories(self) -> list[Category]:
        names = self._rng.sample(_CATEGORY_NAMES, 8)
        return [
            Category(self.next_id(), name, slug(name), position)
            for position, name in enumerate(names, start=1)
        ]

    def _artists(self) -> list[Artist]:
        names = self._rng.sample(_ARTIST_NAMES, 4)
        return [
            Artist(self.next_id(), name, slug(name), position)
            for position, name in enumerate(names, start=1)
        ]

    def _discounts(self) -> list[Discount]:
        rng = self._rng
        discounts = []
        for name, code, reward, amount, expiration, active in _DISCOUNT_PLANS:
            active_at = WINDOW_START_MS + rng.between(0, 200) * DAY_MS
            expires_at = None
            use_limit = None
            use_count = rng.between(0, 40)
            if expiration == "on_date":
                expires_at = ANCHOR_MS + (30 if active else -30) * DAY_MS
            elif expiration == "on_limit":
                use_limit = 100
                use_count = rng.between(0, 100) if active else 100
            requirement = rng.pick(("any_order", "minimum_cart_total", "minimum_cart_quantity"))
            discounts.append(
                Discount(
                    id=self.next_id(),
                    name=name,
                    code=code,
                    status="active" if active else "expired",
                    active_at=active_at,
                    expires_at=expires_at,
                    requirement_type=requirement,
                    expiration_type=expiration,
                    reward_type=reward,
                    application_type="all",
                    percent_discount=amount if reward == "percent_discount" else None,
                    flat_rate_discount=amount if reward == "flat_rate_discount" else None,
                    use_limit=use_limit,
                    use_count=use_count,
                    minimum_cart_total=5000 if requirement == "minimum_cart_total" else None,
                    minimum_cart_quantity=3 if requirement == "minimum_cart_quantity" else None,
                )
            )
        return discounts

    def _products(self, categories: list[Category], artists: list[Artist]) -> list[Product]:
        count = self._config.products_per_shop
        span = ORDERS_START_MS - WINDOW_START_MS
        created = [
            WINDOW_START_MS + int((i + self._rng.random()) * span / count) for i in range(count)
        ]
        updated = [c + self._rng.between(0, ANCHOR_MS - c) for c in created]
        self._share_timestamps(updated)
        return [
            self._product(i + 1, created[i], updated[i], categories, artists) for i in range(count)
        ]

    def _product(
        self,
        position: int,
        created_at: int,
        updated_at: int,
        categories: list[Category],
        artists: list[Artist],
    ) -> Product:
        rng = self._rng
        noun, code, price, option_kind = rng.pick(_PRODUCT_KINDS)
        name = f"{rng.pick(_ADJECTIVES)} {noun}"
        permalink = slug(name)
        if permalink in self._permalinks:
            permalink = f"{permalink}-{position}"
        self._permalinks.add(permalink)
        status = rng.weighted(("active", "sold_out", "hidden", "coming_soon"), (75, 85, 93, 100))
        several = rng.random() < 0.5
        names = rng.pick(_OPTION_SETS[option_kind]) if several else ("Default",)
        options = [
            ProductOption(
                id=self.next_id(),
                name=option_name,
                price=price + (200 if option_name == "X-LARGE" else 0),
                quantity=0 if status == "sold_out" else rng.between(0, 60),
                sold=rng.between(0, 300),
            )
            for option_name in names
        ]
        images = []
        for _ in range(rng.between(1, 4)):
            image_id = self.next_id()
            url = f"https://assets.bigcartel.com/product_images/{image_id}/{permalink}.jpg"
            images.append(ProductImage(image_id, url))
        shipping = [ShippingOption(self.next_id(), 500, 200, self._country)]
        if rng.random() < 0.6:
            shipping.append(ShippingOption(self.next_id(), 1500, 500, rng.pick(self._foreign)))
        return Product(
            id=self.next_id(),
            name=name,
            permalink=permalink,
            status=status,
            description=self._description(f"{code}-{position:03d}", several),
            created_at=created_at,
            updated_at=updated_at,
            default_price=price,
            on_sale=rng.random() < 0.1,
            position=position,
            url=f"https://{self.shop.subdomain}.bigcartel.com/product/{permalink}",
            options=options,
            images=images,
            category_ids=[c.id for c in rng.sample(categories, rng.between(1, 3))],
            artist_ids=[a.id for a in rng.sample(artists, rng.between(0, 2))],
            shipping_options=shipping,
        )

    def _description(self, sku: str, several_options: bool) -> str:
        """Most descriptions end in a ``SKU:`` line, written the many ways sellers write it."""
        rng = self._rng
        blurb = " ".join(rng.sample(_BLURBS, 2))
        if rng.random() >= 0.7:
            return blurb
        if several_options:
            sku += "-"
        style = rng.random()
        if style < 0.35:
            return f"{blurb}\n\nSKU: {sku}"
        if style < 0.50:
            return f"{blurb}\nsku:{sku}"
        if style < 0.70:
            return f"<p>{blurb}</p>\n<p>SKU: {sku}</p>"
        if style < 0.85:
            return f"{blurb}\n  SKU:   {sku}  \n"
        if style < 0.93:
            return f"{blurb} Replaces SKU: {sku[:-1] if several_options else sku}-OLD.\nSKU: {sku}"
        return f"{blurb}\nSku: {sku}"

    def _orders(
        self, products: list[Product], categories: list[Category], discounts: list[Discount]
    ) -> list[Order]:
        rng = self._rng
        count = self._config.orders_per_shop
        statuses: list[tuple[str, str]] = []
        while len(statuses) < count:
            statuses.extend(rng.sample(_STATUS_DECK, len(_STATUS_DECK)))
        span = ANCHOR_MS - ORDERS_START_MS
        created = [ORDERS_START_MS + int((i + rng.random()) * span / count) for i in range(count)]
        completed: list[int | None] = []
        updated: list[int] = []
        for placed, (payment, shipping) in zip(created, statuses[:count], strict=True):
            paid_at = None
            if payment == "completed":
                paid_at = self._later(placed, rng.between(5_000, 300_000))
            if shipping == "shipped":
                delay = rng.between(DAY_MS, 8 * DAY_MS)
            else:
                delay = rng.between(1_000, 600_000)
            if rng.random() < 0.1:
                delay += rng.between(DAY_MS, 60 * DAY_MS)
            completed.append(paid_at)
            updated.append(self._later(paid_at or placed, delay))
        self._share_timestamps(updated)
        catalog = _catalog(products, categories)
        return [
            self._order(created[i], completed[i], updated[i], *statuses[i], catalog, discounts)
            for i in range(count)
        ]

    def _later(self, start: int, delay: int) -> int:
        """``start + delay``, or a random moment before the anchor when that would pass it."""
        if start + delay < ANCHOR_MS:
            return start + delay
        return self._rng.between(start, ANCHOR_MS)

    def _share_timestamps(self, stamps: list[int], block: int = 20) -> None:
        """Give a few neighbours in every block one shared timestamp, as a bulk edit would.

        The shared value is the latest of the group, so no record's update precedes its creation.
        """
        rng = self._rng
        total = len(stamps)
        for start in range(0, total - 1, block):
            size = rng.between(2, 5)
            room = min(block, total - start) - size + 1
            first = start + rng.below(max(room, 1))
            group = range(first, min(first + size, total))
            shared = max(stamps[i] for i in group)
            for i in group:
                stamps[i] = shared

    def _order(
        self,
        created_at: int,
        completed_at: int | None,
        updated_at: int,
        payment_status: str,
        shipping_status: str,
        catalog: list[_CatalogEntry],
        discounts: list[Discount],
    ) -> Order:
        rng = self._rng
        domestic = rng.random() >= 0.3
        destination = self._country if domestic else rng.pick(self._foreign)
        city, state, latitude, longitude = rng.pick(_PLACES[destination.id][1])
        tax_rate = _TAX_BASIS_POINTS[self._country.id] if domestic else 0
        shipped = shipping_status == "shipped"

        items = []
        for _ in range(rng.weighted((1, 2, 3, 4), (55, 80, 92, 100))):
            entry = rng.pick(catalog)
            quantity = rng.weighted((1, 2, 3), (75, 93, 100))
            items.append(
                LineItem(
                    id=self.next_id(),
                    product_id=entry.product_id,
                    product_option_id=entry.option_id,
                    product_name=entry.product_name,
                    product_option_name=entry.option_name,
                    quantity=quantity,
                    price=entry.price,
                    image_url=entry.image_url,
                    tax_total=(entry.price * quantity * tax_rate + 5_000) // 10_000,
                    category_names=entry.category_names,
                    quantity_shipped=quantity if shipped else 0,
                )
            )
        item_count = sum(item.quantity for item in items)
        item_total = sum(item.total for item in items)
        shipping = 500 + 150 * (item_count - 1) if domestic else 1500 + 400 * (item_count - 1)
        adjustments = [OrderAdjustment(self.next_id(), "shipping", shipping, "Shipping")]
        tax = sum(item.tax_total for item in items)
        if tax:
            adjustments.append(OrderAdjustment(self.next_id(), "tax", tax, "Tax"))
        if discounts and rng.random() < 0.15:
            discount = rng.pick(discounts)
            if discount.reward_type == "percent_discount":
                amount = item_total * (discount.percent_discount or 0) // 100
            elif discount.reward_type == "flat_rate_discount":
                amount = min(discount.flat_rate_discount or 0, item_total)
            else:
                amount = shipping
            adjustments.append(
                OrderAdjustment(self.next_id(), "discount", -amount, f"Discount: {discount.code}")
            )
        total = item_total + sum(a.amount for a in adjustments)

        events = [OrderEvent(self.next_id(), "Order placed", created_at)]
        transactions = []
        if payment_status in ("completed", "pending"):
            processor = rng.pick(_PROCESSORS)
            transactions.append(self._payment(processor, total))
            label = _PROCESSOR_LABELS[processor]
            if completed_at is not None:
                message, at = f"Payment received via {label}", completed_at
            else:
                message, at = f"Payment pending via {label}", created_at
            events.append(OrderEvent(self.next_id(), message, at, PAYMENT_STATUS))
        elif payment_status == "failed":
            events.append(OrderEvent(self.next_id(), "Payment failed", created_at, PAYMENT_STATUS))
        if shipped:
            events.append(
                OrderEvent(self.next_id(), "Order marked as shipped", updated_at, SHIPPING_STATUS)
            )

        first = rng.pick(_FIRST_NAMES)
        last = rng.pick(_LAST_NAMES)
        email_name = slug(f"{first} {last}").replace("-", ".")
        latitude_out: float | None = None
        longitude_out: float | None = None
        if rng.random() >= 0.08:
            latitude_out = round(latitude + rng.uniform(-0.05, 0.05), 6)
            longitude_out = round(longitude + rng.uniform(-0.05, 0.05), 6)
        number = self._next_order_number
        self._next_order_number += 1
        return Order(
            id=f"{self._order_prefix}-{number}",
            created_at=created_at,
            updated_at=updated_at,
            completed_at=completed_at,
            customer_first_name=first,
            customer_last_name=last,
            customer_email=f"{email_name}{rng.below(100)}@{rng.pick(_EMAIL_DOMAINS)}",
            customer_phone_number=self._phone() if rng.random() < 0.6 else None,
            customer_opted_in_to_marketing=rng.random() < 0.4,
            customer_note=rng.pick(_NOTES) if rng.random() < 0.15 else None,
            shipping_address_1=self._street(destination.id),
            shipping_address_2=rng.pick(_SECOND_LINES) if rng.random() < 0.25 else None,
            shipping_city=city,
            shipping_state=state,
            shipping_zip=self._postcode(destination.id),
            shipping_country=destination,
            shipping_latitude=latitude_out,
            shipping_longitude=longitude_out,
            shipping_status=shipping_status,
            payment_status=payment_status,
            tax_remitted_by_big_cartel=domestic and self._country.id == "US" and tax > 0,
            currency=self._currency,
            items=items,
            events=events,
            transactions=transactions,
            adjustments=adjustments,
        )

    def _payment(self, processor: str, amount: int) -> OrderTransaction:
        reference = f"{self._rng.getrandbits(96):024x}"
        if processor == "stripe":
            processor_id = f"ch_{reference}"
            url = f"https://dashboard.stripe.com/payments/{processor_id}"
        elif processor == "cash":
            processor_id = url = None
        else:
            processor_id = f"PAYID-{reference[:20].upper()}"
            url = f"https://www.paypal.com/activity/payment/{processor_id}"
        return OrderTransaction(self.next_id(), "Payment", amount, processor, processor_id, url)

    def _phone(self) -> str:
        return f"+1 555 {self._rng.between(100, 1000)} {self._rng.between(1000, 10000)}"

    def _street(self, country_id: str) -> str:
        rng = self._rng
        number = rng.between(1, 400)
        if country_id in ("DE", "AT", "CH"):
            return f"{rng.pick(_GERMAN_STREETS)} {number}"
        return f"{number} {rng.pick(_STREET_NAMES)} {rng.pick(_STREET_SUFFIXES)}"

    def _postcode(self, country_id: str) -> str:
        rng = self._rng
        letters = string.ascii_uppercase
        if country_id == "CA":
            a, b, c = rng.choices(letters, k=3)
            return f"{a}{rng.below(10)}{b} {rng.below(10)}{c}{rng.below(10)}"
        if country_id == "GB":
            a, b = rng.choices(letters, k=2)
            return f"{rng.pick(_GB_OUTWARD)} {rng.between(1, 10)}{a}{b}"
        if country_id in ("AU", "AT", "BE", "CH", "DK", "NO", "NZ"):
            return str(rng.between(1000, 10000))
        if country_id == "JP":
            return f"{rng.between(100, 1000)}-{rng.below(10000):04d}"
        if country_id == "NL":
            return f"{rng.between(1000, 10000)} {''.join(rng.choices(letters, k=2))}"
        if country_id == "SE":
            return f"{rng.between(100, 1000)} {rng.between(10, 100)}"
        if country_id == "BR":
            return f"{rng.between(10000, 100000)}-{rng.below(1000):03d}"
        if country_id == "IE":
            return f"D{rng.between(1, 25):02d} {rng.pick(letters)}{rng.between(100, 1000)}"
        return f"{rng.between(1000, 100000):05d}"


@dataclass(frozen=True, slots=True)
class _CatalogEntry:
    """One purchasable product option, with what a line item copies from it."""

    product_id: str
    option_id: str
    product_name: str
    option_name: str
    price: int
    image_url: str | None
    category_names: tuple[str, ...]


def _catalog(products: list[Product], categories: list[Category]) -> list[_CatalogEntry]:
    names = {c.id: c.name for c in categories}
    return [
        _CatalogEntry(
            product_id=product.id,
            option_id=option.id,
            product_name=product.name,
            option_name=option.name,
            price=option.price,
            image_url=product.primary_image_url,
            category_names=tuple(names[c] for c in product.category_ids if c in names),
        )
        for product in products
        for option in product.options
    ]
