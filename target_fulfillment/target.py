"""target-fulfillment: paid, unshipped Big Cartel orders to a warehouse, exactly once."""

from __future__ import annotations

import sys
import typing as t
from functools import cached_property
from pathlib import Path

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TargetCapabilities,
)

from bigcartel_core.auth import discover_account_id, shops_from_config
from bigcartel_core.errors import ConfigError, scrubbed
from bigcartel_core.http import user_agent as http_user_agent
from bigcartel_core.settings import config_secrets, with_shop_settings
from bigcartel_core.webhook_store import WebhookStore, consumer_errors
from target_fulfillment.attributes import CUSTOMS_CONTENTS, CUSTOMS_NON_DELIVERY, product_attributes
from target_fulfillment.backends import make_backend
from target_fulfillment.backends.shipstation.mapping_v2 import package_weight
from target_fulfillment.bigcartel import BigCartelWriter
from target_fulfillment.config import SHIPPING_CODES_SCHEMA, config_errors, with_rules
from target_fulfillment.domain import WEIGHT_UNITS
from target_fulfillment.fulfillment import Fulfillment, Settings
from target_fulfillment.ledger import Ledger
from target_fulfillment.order_cache import OrderCache
from target_fulfillment.sinks import SINKS, IgnoredSink
from target_fulfillment.summary import RunSummary
from target_fulfillment.validation import printable

if t.TYPE_CHECKING:
    from singer_sdk.sinks import Sink

    from target_fulfillment.backends import Backend

DEFAULT_SHIPPING_CODES = {
    "DOMESTIC_DEFAULT": {"carrier_code": "usps", "service_code": "usps_priority_mail"},
    "INTERNATIONAL_DEFAULT": {
        "carrier_code": "usps",
        "service_code": "usps_priority_mail_international",
    },
}


class TargetFulfillment(Target):
    """Singer target that routes Big Cartel orders to a fulfillment service."""

    name = "target-fulfillment"
    package_name = "bigcartel-fulfillment"
    # The SDK's defaults less schema flattening: the rules read each order whole (items,
    # addresses, country), so flattened records could only be held; its settings are refused
    # (config.UNSUPPORTED) rather than declared and broken.
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.STRUCTURED_LOGGING,
        TargetCapabilities.VALIDATE_RECORDS,
    ]

    config_jsonschema = with_shop_settings(
        th.PropertiesList(
            th.Property(
                "backend",
                th.StringType,
                default="file",
                allowed_values=["file", "shipstation", "shipstation_v2"],
                description="Where orders go: `file` (JSON files for a 3PL), `shipstation` "
                "(ShipStation API v1) or `shipstation_v2` (ShipStation API V2).",
            ),
            th.Property(
                "file_outbox_dir",
                th.StringType,
                default="fulfillment/outbox",
                description="file backend: folder the warehouse collects order files from.",
            ),
            th.Property(
                "file_inbox_dir",
                th.StringType,
                default="fulfillment/inbox",
                description="file backend: folder the warehouse drops shipment files into.",
            ),
            th.Property(
                "shipstation_api_key",
                th.StringType,
                secret=True,
                description="shipstation backend (required with it): the API v1 key (the HTTP "
                "Basic user).",
            ),
            th.Property(
                "shipstation_api_secret",
                th.StringType,
                secret=True,
                description="shipstation backend (required with it): the API v1 secret (the HTTP "
                "Basic password).",
            ),
            th.Property(
                "shipstation_api_url",
                th.StringType,
                default="https://ssapi.shipstation.com",
                description="shipstation backend: the API's base URL; point it at a local "
                "emulator to test.",
            ),
            th.Property(
                "shipstation_v2_api_key",
                th.StringType,
                secret=True,
                description="shipstation_v2 backend (required with it): the account's V2 API "
                "key (sent as api-key).",
            ),
            th.Property(
                "shipstation_v2_api_url",
                th.StringType,
                default="https://api.shipstation.com",
                description="shipstation_v2 backend: the API's host, without /v2.",
            ),
            th.Property(
                "shipstation_v2_warehouse_id",
                th.StringType,
                description="shipstation_v2 backend (required with it): the ShipStation "
                "warehouse orders ship from (se-...); V2 needs a warehouse or a ship-from address.",
            ),
            th.Property(
                "default_package_weight",
                th.ObjectType(
                    th.Property("value", th.NumberType, required=True),
                    th.Property(
                        "unit",
                        th.StringType,
                        required=True,
                        allowed_values=["ounce", "pound", "gram", "kilogram"],
                    ),
                ),
                description="shipstation_v2 backend: the weight of a package whose items are "
                'not all weighed in product_attributes, {"value": N, "unit": '
                '"ounce|pound|gram|kilogram"}; V2 requires a package weight, so without either '
                "an order is held.",
            ),
            th.Property(
                "product_attributes",
                th.ObjectType(
                    additional_properties=th.ObjectType(
                        th.Property(
                            "weight",
                            th.ObjectType(
                                th.Property("value", th.NumberType, required=True),
                                th.Property(
                                    "unit",
                                    th.StringType,
                                    required=True,
                                    allowed_values=list(WEIGHT_UNITS),
                                ),
                            ),
                        ),
                        th.Property("description", th.StringType),
                        th.Property("hs_code", th.StringType),
                        th.Property("country_of_origin", th.StringType),
                    )
                ),
                default={},
                description='Per SKU (a product option\'s SKU included): {"<SKU>": {"weight": '
                '{"value": N, "unit": "ounce|pound|gram|kilogram"}, "description": "<at most '
                '100 characters>", "hs_code": "6109.10", "country_of_origin": "PT"}}. Weights '
                "go to the warehouse per item (and summed as the V2 package weight). Once any "
                "are set, international orders carry a customs declaration, and one is held "
                "until each of its SKUs has description, hs_code and country_of_origin.",
            ),
            th.Property(
                "customs_contents",
                th.StringType,
                default="merchandise",
                allowed_values=list(CUSTOMS_CONTENTS),
                description="What international orders' customs declarations say they contain.",
            ),
            th.Property(
                "customs_non_delivery",
                th.StringType,
                default="return_to_sender",
                allowed_values=list(CUSTOMS_NON_DELIVERY),
                description="What the carrier does with an undeliverable international package.",
            ),
            th.Property(
                "shipstation_rate_limit_max_wait",
                th.NumberType(minimum=0),
                default=60,
                description="Longest wait in seconds for ShipStation's rate limit to reset "
                "(v1 and V2).",
            ),
            th.Property(
                "shipstation_store_id",
                th.IntegerType(minimum=1),
                description="ShipStation store the orders are filed under (optional; at least 1).",
            ),
            th.Property(
                "ledger_url",
                th.StringType,
                default="sqlite:///fulfillment/ledger.db",
                secret=True,
                description="SQLAlchemy URL of the ledger: SQLite by default, PostgreSQL "
                "(postgresql+psycopg://...) when several workers share it.",
            ),
            th.Property(
                "sku_overrides",
                th.ObjectType(additional_properties=th.StringType),
                default={},
                description='SKUs that win over the description: {"<product_id>": "SKU"} or '
                '{"<product_id>:<option_id>": "SKU"}.',
            ),
            th.Property(
                "shipping_codes",
                th.CustomType(dict(SHIPPING_CODES_SCHEMA)),
                default=DEFAULT_SHIPPING_CODES,
                description="DOMESTIC_DEFAULT, INTERNATIONAL_DEFAULT and optional upper-case "
                "2-letter country keys, each exactly {carrier_code, service_code} (non-empty, "
                "no surrounding spaces); a country entry wins.",
            ),
            th.Property(
                "origin_country",
                th.StringType(pattern="^[A-Za-z]{2}$", max_length=2),
                description="The shop's country when no accounts record has been seen "
                "(a 2-letter ISO 3166 code).",
            ),
            th.Property(
                "max_concurrency",
                th.IntegerType(minimum=1),
                default=4,
                description="Batches of orders in flight to the warehouse at once, and shops "
                "written back to at once, each one request at a time (at least 1).",
            ),
            th.Property(
                "dry_run",
                th.BooleanType,
                default=False,
                description="Compute and report everything; send and write back nothing.",
            ),
            th.Property(
                "notify_customer",
                th.BooleanType,
                default=True,
                description="Ask Big Cartel to e-mail the buyer the tracking number.",
            ),
            th.Property(
                "request_timeout",
                th.IntegerType(minimum=1),
                default=30,
                description="Seconds per request, to Big Cartel and to the warehouse.",
            ),
            th.Property(
                "webhook_db_url",
                th.StringType,
                secret=True,
                description="SQLAlchemy URL of the webhook receiver's store (as in tap-bigcartel). "
                "When set, shops that deauthorized the app are not written back to; their "
                "shipments wait until the shop reconnects.",
            ),
        ).to_dict(),
        "target-fulfillment",
    )
    # What the type helpers cannot declare: a non-null shipping_codes, the shipstation_v2
    # backend's credentials (target_fulfillment.config).
    config_jsonschema = with_rules(config_jsonschema)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except ConfigValidationError as error:
            # The SDK's type check quotes the value it refuses, a secret's too.
            raise scrubbed(error, self.secrets) from None
        # The SDK's validation has added its built-in settings to the schema by now.
        errors = config_errors(self.config, self.config_jsonschema)
        if errors:
            raise ConfigValidationError("; ".join(errors), errors=errors)
        self.summary = RunSummary(dry_run=bool(self.config["dry_run"]))
        self._streams_seen: set[str] = set()

    @cached_property
    def ledger(self) -> Ledger:
        url = self.config["ledger_url"]
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return Ledger(url)

    @cached_property
    def order_cache(self) -> OrderCache:
        return OrderCache(self.ledger.engine)

    @cached_property
    def backend(self) -> Backend:
        try:
            return make_backend(self.config)
        except ValueError as error:
            raise ConfigValidationError(str(error), errors=[str(error)]) from None

    @cached_property
    def secrets(self) -> tuple[str, ...]:
        return config_secrets(self.config, self.config_jsonschema)

    def _disconnected_shops(self) -> dict[str, str]:
        """Shops that deauthorized the app, from the webhook store, with the reason to report."""
        url = self.config.get("webhook_db_url")
        if not url:
            return {}
        with consumer_errors(url):
            store = WebhookStore(url)
            try:
                found = store.disconnected()
            finally:
                store.close()
        return {
            account_id: f"the shop deauthorized the app ({d.reason}, {d.changed_at.isoformat()})"
            for account_id, d in found.items()
        }

    def _writer(self) -> BigCartelWriter | None:
        """A Big Cartel client for write-back, or None when no shop credentials are configured."""
        try:
            shops = shops_from_config(self.config)
        except ConfigError as error:
            if not any(self.config.get(k) for k in ("accounts", "access_token", "subdomain")):
                return None
            raise ConfigValidationError(str(error), errors=[str(error)]) from None
        user_agent = http_user_agent("target-fulfillment", self.config.get("user_agent"))
        auth_by_account = {}
        for shop in shops:
            account_id = shop.account_id or discover_account_id(
                shop, self.config["api_url"], user_agent, self.config["request_timeout"]
            )
            auth_by_account[account_id] = shop.auth
        return BigCartelWriter(
            self.config["api_url"],
            user_agent,
            auth_by_account,
            timeout=float(self.config["request_timeout"]),
            secrets=self.secrets,
        )

    def reject(self, stream: str, record: dict[str, t.Any], reason: str) -> None:
        """Keep a record the ledger cannot store as an order or product, and report it."""
        account_id = record.get("id" if stream == "accounts" else "account_id")
        # Without the metadata this target's SDK adds (times, sequence), a record sent again is
        # recognised as the same one.
        document = {
            k: v for k, v in record.items() if not k.startswith("_sdc_") or k == "_sdc_deleted_at"
        }
        self.ledger.reject(
            stream, printable(account_id), printable(record.get("id")), reason, document
        )
        self.summary.count("rejected")

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        self._streams_seen.add(stream_name)
        return SINKS.get(stream_name, IgnoredSink)

    def process_endofpipe(self) -> None:
        """Drain (orders durable, STATE emitted), then do the run's fulfillment work.

        Input of unrelated streams only (``meltano config test`` sends ``meltano_test_stream``)
        has no side effect at all; empty input still collects and writes back shipments.
        """
        super().process_endofpipe()
        if self._streams_seen and not self._streams_seen & SINKS.keys():
            self.logger.info("No Big Cartel stream in the input; nothing to do.")
            return
        self.run_fulfillment()
        failure = self.summary.failure_line()
        if failure:
            sys.stderr.write(failure + "\n")
            sys.stderr.flush()
            raise SystemExit(1)

    def run_fulfillment(self) -> None:
        writer = self._writer()
        settings = Settings(
            sku_overrides=dict(self.config["sku_overrides"]),
            shipping_codes=dict(self.config["shipping_codes"]),
            origin_country=self.config.get("origin_country"),
            max_concurrency=int(self.config["max_concurrency"]),
            dry_run=bool(self.config["dry_run"]),
            notify_customer=bool(self.config["notify_customer"]),
            disconnected=self._disconnected_shops(),
            product_attributes=product_attributes(self.config.get("product_attributes")),
            customs_contents=self.config["customs_contents"],
            customs_non_delivery=self.config["customs_non_delivery"],
            # V2 takes no shipment without a package weight (notes A3); v1 and files do.
            require_package_weight=self.config["backend"] == "shipstation_v2",
            package_weight=package_weight(
                self.config.get("default_package_weight"), "default_package_weight"
            ),
        )
        try:
            Fulfillment(
                ledger=self.ledger,
                cache=self.order_cache,
                backend=self.backend,
                writer=writer,
                settings=settings,
                summary=self.summary,
                logger=self.logger,
            ).run()
        finally:
            self.backend.close()
            if writer is not None:
                writer.close()
            holds = {e.order_key: e.hold_reason or "" for e in self.ledger.by_state("held")}
            rejected = {
                f"{r.stream} {r.account_id}/{r.record_id}": r.reason for r in self.ledger.rejected()
            }
            self.ledger.close()
            sys.stderr.write(self.summary.render(holds, rejected) + "\n")
            sys.stderr.flush()


if __name__ == "__main__":
    TargetFulfillment.cli()
