"""The seven resources of the Big Cartel API v1, one thin class each."""

from __future__ import annotations

from tap_bigcartel import schemas
from tap_bigcartel.client import BigCartelStream


class AccountsStream(BigCartelStream):
    """The shop itself; incremental, though it is a single record per shop: emitted when it
    changed since the bookmark."""

    name = "accounts"
    path = "/accounts/{account_id}"
    schema = schemas.ACCOUNTS
    replication_key = "updated_at"


class ArtistsStream(BigCartelStream):
    name = "artists"
    path = "/accounts/{account_id}/artists"
    schema = schemas.ARTISTS


class CategoriesStream(BigCartelStream):
    name = "categories"
    path = "/accounts/{account_id}/categories"
    schema = schemas.CATEGORIES


class CountriesStream(BigCartelStream):
    """The countries Big Cartel ships to: the same for every shop, so not account-scoped."""

    name = "countries"
    path = "/countries"
    schema = schemas.COUNTRIES
    account_scoped = False
    primary_keys = ["id"]  # noqa: RUF012


class DiscountsStream(BigCartelStream):
    name = "discounts"
    path = "/accounts/{account_id}/discounts"
    schema = schemas.DISCOUNTS


class OrdersStream(BigCartelStream):
    """Filtered server-side on ``updated_at`` and read by seeking forward; see paging.py."""

    name = "orders"
    path = "/accounts/{account_id}/orders"
    schema = schemas.ORDERS
    replication_key = "updated_at"
    paging = "seek"
    kinded_fields = ("adjustments", "transactions")


class ProductsStream(BigCartelStream):
    """No date filter exists for products: read newest first and stop at the bookmark.

    Deleted products reach only the webhook receiver; with ``webhook_db_url`` they follow.
    """

    name = "products"
    path = "/accounts/{account_id}/products"
    schema = schemas.PRODUCTS
    replication_key = "updated_at"
    paging = "newest_first"
    deletes_topic = "product.deleted"


STREAM_TYPES: tuple[type[BigCartelStream], ...] = (
    AccountsStream,
    ArtistsStream,
    CategoriesStream,
    CountriesStream,
    DiscountsStream,
    OrdersStream,
    ProductsStream,
)
