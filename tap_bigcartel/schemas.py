"""Record schemas: the API reference's object tables plus the fields the live API adds.

Ids are strings (JSON:API renders every id as a string, whatever the reference's tables say),
money is ``number`` carried as an exact ``Decimal``, and coordinates may be null.

Where the reference and responses captured from the live API disagree, the schema types what the
live API returns and the stream reads the documented form into it (``coercion``): a category's
``position`` is an integer live and a string in the reference, so it is ``integer`` and ``"3"``
becomes ``3``. Fields only the live API sends are declared too (an order's ``warnings``, an order
event's ``identifier``, a product option's ``has_digital_file``), and ``kind`` keeps the subtype
of an adjustment's or transaction's JSON:API type (``order_adjustments/shipping`` → ``shipping``).
"""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

ID = th.Property("id", th.StringType, required=True)
ACCOUNT_ID = th.Property(
    "account_id", th.StringType, required=True, description="The shop the record belongs to."
)
Money = th.NumberType


def _reference(*extra: th.Property[t.Any]) -> th.ObjectType:
    return th.ObjectType(th.Property("id", th.StringType), *extra)


CURRENCY = _reference(
    th.Property("name", th.StringType),
    th.Property("sign", th.StringType),
    th.Property("locale", th.StringType),
)
COUNTRY = _reference(th.Property("name", th.StringType))
#: Live responses give a category's position as an integer (top level and inside a product's
#: ``categories``); the reference says string, which the stream reads as its integer. Artists
#: share the record model and the reference's "string", and no capture shows one, so they are
#: taken to follow categories (inferred): an integer either way reaches the loader.
GROUPING_FIELDS = (
    th.Property("name", th.StringType),
    th.Property("permalink", th.StringType),
    th.Property(
        "position",
        th.IntegerType,
        description="Integer in live responses; the reference's string form is read as its "
        "integer.",
    ),
)
#: The subtype of a namespaced JSON:API type: ``shipping``, ``tax``, ``discount`` for
#: adjustments, ``payments`` for transactions; null when the API sent a type without one.
KIND = th.Property(
    "kind",
    th.StringType,
    description="From the JSON:API type after the slash (order_adjustments/shipping -> "
    "shipping); null when the type has none.",
)
GROUPING = _reference(*GROUPING_FIELDS)

ACCOUNTS = th.PropertiesList(
    ID,
    ACCOUNT_ID,
    th.Property("subdomain", th.StringType),
    th.Property("store_name", th.StringType),
    th.Property("description", th.StringType),
    th.Property("contact_email", th.StringType),
    th.Property("url", th.StringType),
    th.Property("website", th.StringType),
    th.Property("created_at", th.DateTimeType),
    th.Property("updated_at", th.DateTimeType, required=True),
    th.Property("under_maintenance", th.BooleanType),
    th.Property("inventory_enabled", th.BooleanType),
    th.Property("artists_enabled", th.BooleanType),
    th.Property("currency", CURRENCY),
    th.Property("country", COUNTRY),
    th.Property("account_image", _reference(th.Property("url", th.StringType))),
    th.Property(
        "plan",
        _reference(
            th.Property("name", th.StringType),
            th.Property("max_products", th.IntegerType),
            th.Property("max_images_per_product", th.IntegerType),
            th.Property("monthly_rate", Money),
        ),
    ),
).to_dict()

ARTISTS = th.PropertiesList(ID, ACCOUNT_ID, *GROUPING_FIELDS).to_dict()
CATEGORIES = ARTISTS

COUNTRIES = th.PropertiesList(ID, th.Property("name", th.StringType)).to_dict()

DISCOUNTS = th.PropertiesList(
    ID,
    ACCOUNT_ID,
    th.Property("name", th.StringType),
    th.Property("code", th.StringType),
    th.Property("status", th.StringType),
    th.Property("active_at", th.DateTimeType),
    th.Property("expires_at", th.DateTimeType),
    th.Property("requirement_type", th.StringType),
    th.Property("expiration_type", th.StringType),
    th.Property("reward_type", th.StringType),
    th.Property("application_type", th.StringType),
    th.Property("percent_discount", th.IntegerType),
    th.Property("flat_rate_discount", Money),
    th.Property("use_limit", th.IntegerType),
    th.Property("use_count", th.IntegerType),
    th.Property("minimum_cart_total", Money),
    th.Property("minimum_cart_quantity", th.IntegerType),
).to_dict()

ORDER_ITEM = _reference(
    th.Property("product_name", th.StringType),
    th.Property("product_option_name", th.StringType),
    th.Property("quantity", th.IntegerType),
    th.Property("price", Money),
    th.Property("total", Money),
    th.Property("tax_total", Money),
    th.Property("image_url", th.StringType),
    th.Property("product_id", th.StringType),
    th.Property("quantity_shipped", th.IntegerType),
    th.Property("quantity_unshipped", th.IntegerType),
    th.Property("category_names", th.ArrayType(th.StringType)),
    th.Property("product", _reference()),
    th.Property("product_option", _reference()),
)

ORDERS = th.PropertiesList(
    ID,
    ACCOUNT_ID,
    th.Property("item_count", th.IntegerType),
    th.Property("item_total", Money),
    th.Property("discount_total", Money),
    th.Property("shipping_total", Money),
    th.Property("tax_total", Money),
    th.Property("total", Money),
    th.Property("customer_first_name", th.StringType),
    th.Property("customer_last_name", th.StringType),
    th.Property("customer_email", th.StringType),
    th.Property("customer_phone_number", th.StringType),
    th.Property("customer_opted_in_to_marketing", th.BooleanType),
    th.Property("customer_note", th.StringType),
    th.Property("shipping_address_1", th.StringType),
    th.Property("shipping_address_2", th.StringType),
    th.Property("shipping_city", th.StringType),
    th.Property("shipping_state", th.StringType),
    th.Property("shipping_zip", th.StringType),
    th.Property("shipping_country", COUNTRY),
    th.Property("shipping_country_name", th.StringType),
    th.Property("shipping_latitude", th.NumberType),
    th.Property("shipping_longitude", th.NumberType),
    th.Property("shipping_status", th.StringType),
    th.Property("payment_status", th.StringType),
    th.Property("tax_remitted_by_big_cartel", th.BooleanType),
    th.Property("created_at", th.DateTimeType),
    th.Property("updated_at", th.DateTimeType, required=True),
    th.Property("completed_at", th.DateTimeType),
    th.Property("currency", CURRENCY),
    th.Property(
        "events",
        th.ArrayType(
            _reference(
                th.Property("message", th.StringType),
                th.Property("created_at", th.DateTimeType),
                # Live: payment_status, shipping_status (what the event changed).
                th.Property("identifier", th.StringType),
            )
        ),
    ),
    th.Property("items", th.ArrayType(ORDER_ITEM)),
    th.Property(
        "transactions",
        th.ArrayType(
            _reference(
                KIND,
                th.Property("label", th.StringType),
                th.Property("amount", Money),
                th.Property("processor", th.StringType),
                th.Property("processor_id", th.StringType),
                th.Property("processor_url", th.StringType),
                th.Property("currency", CURRENCY),
            )
        ),
    ),
    th.Property(
        "adjustments",
        th.ArrayType(
            _reference(KIND, th.Property("amount", Money), th.Property("label", th.StringType))
        ),
    ),
    th.Property(
        "warnings",
        th.ArrayType(_reference(KIND)),
        description="A to-many relationship of live orders, empty in every captured response; "
        "what a warning holds beyond its id is not documented, and nested fields pass through.",
    ),
).to_dict()

PRODUCTS = th.PropertiesList(
    ID,
    ACCOUNT_ID,
    th.Property("name", th.StringType),
    th.Property("permalink", th.StringType),
    th.Property("status", th.StringType),
    th.Property("description", th.StringType),
    th.Property("created_at", th.DateTimeType),
    th.Property(
        "updated_at",
        th.DateTimeType,
        description="Null only on delete records, which carry nothing but the keys.",
    ),
    th.Property(
        "_sdc_deleted_at",
        th.DateTimeType,
        description="Set on delete records: when the product.deleted webhook was received "
        "(the webhook carries no time of its own). Null on every other record.",
    ),
    th.Property("default_price", Money),
    th.Property("on_sale", th.BooleanType),
    th.Property("position", th.IntegerType),
    th.Property("url", th.StringType),
    th.Property("primary_image_url", th.StringType),
    th.Property(
        "options",
        th.ArrayType(
            _reference(
                th.Property("name", th.StringType),
                th.Property("price", Money),
                th.Property("quantity", th.IntegerType),
                th.Property("sold", th.IntegerType),
                th.Property("has_digital_file", th.BooleanType),  # live only
            )
        ),
    ),
    th.Property("artists", th.ArrayType(GROUPING)),
    th.Property("categories", th.ArrayType(GROUPING)),
    th.Property(
        "shipping_options",
        th.ArrayType(
            _reference(
                th.Property("price_alone", Money),
                th.Property("price_with_others", Money),
                th.Property("country", COUNTRY),
            )
        ),
    ),
    th.Property("images", th.ArrayType(_reference(th.Property("url", th.StringType)))),
).to_dict()
