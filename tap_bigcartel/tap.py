"""tap-bigcartel: every resource of one or many Big Cartel shops, incrementally and loss-free."""

from __future__ import annotations

import gc
import sys
import typing as t
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import EMIT_ACTIVATE_VERSION_CONFIG

from bigcartel_core.auth import Shop, discover_account_id, shops_from_config
from bigcartel_core.errors import ConfigError, ShopUnavailableError, redact, scrubbed
from bigcartel_core.http import RetryPolicy
from bigcartel_core.http import user_agent as http_user_agent
from bigcartel_core.settings import (
    account_id_error,
    config_secrets,
    database_url_error,
    http_url_error,
    iso_datetime_error,
    unknown_settings,
    with_shop_settings,
)
from tap_bigcartel.exceptions import ShopsFailedError
from tap_bigcartel.streams import STREAM_TYPES
from tap_bigcartel.writer import StateFlushingWriter

if t.TYPE_CHECKING:
    from bigcartel_core.webhook_store import Disconnection
    from tap_bigcartel.client import BigCartelStream
    from tap_bigcartel.webhooks import WebhookFacts

#: The taps built while :meth:`TapBigCartel.invoke` runs the SDK's CLI, which does not hand
#: back the tap it builds and syncs.
_INVOKED: ContextVar[list[TapBigCartel] | None] = ContextVar("_INVOKED", default=None)


class TapBigCartel(Tap):
    """Singer tap for the Big Cartel API v1.

    ``sync_all`` is the SDK's own (it is final); the run's verdict on its shops comes after it,
    from :meth:`report_shops`, which the CLI (:meth:`invoke`) calls.
    """

    name = "tap-bigcartel"
    package_name = "bigcartel-fulfillment"
    message_writer_class = StateFlushingWriter

    config_jsonschema = with_shop_settings(
        th.PropertiesList(
            th.Property(
                "start_date",
                th.DateTimeType,
                description="Oldest `updated_at` to extract on the first run (orders, products, "
                "accounts). Later runs start from the bookmark.",
            ),
            th.Property(
                "page_size",
                th.IntegerType(minimum=2, maximum=100),
                default=100,
                description="page[limit], 2 to 100. The pagers overlap pages, so they need 2; the "
                "API documents no maximum (clients use 100), and a page the API capped below the "
                "limit would pass for the last one.",
            ),
            th.Property(
                "request_timeout",
                th.IntegerType(minimum=1),
                default=60,
                description="Seconds per request.",
            ),
            th.Property(
                "max_retries",
                th.IntegerType(minimum=0),
                default=6,
                description="Retries of a request after a 429, a 5xx, a timeout or a dropped "
                "connection, before the shop is reported as failed.",
            ),
            th.Property(
                "backoff_factor",
                th.NumberType(minimum=0),
                default=1.0,
                description="Seconds; retry n waits a random time up to factor * 2^n, unless the "
                "API sent Retry-After.",
            ),
            th.Property(
                "max_retry_wait",
                th.NumberType(minimum=0),
                default=120,
                description="Upper bound in seconds of any single wait, Retry-After included.",
            ),
            th.Property(
                "webhook_db_url",
                th.StringType,
                secret=True,
                description="SQLAlchemy URL of the webhook receiver's store "
                "(bigcartel-webhooks). When set, shops that deauthorized the app are skipped, "
                "named in the run's last line on stderr, and products deleted in Big Cartel "
                "become delete records (`_sdc_deleted_at`) in `products`.",
            ),
            th.Property(
                "webhook_settle_seconds",
                th.IntegerType(minimum=0),
                default=60,
                description="Deletes received in the last this many seconds before the run are "
                "left to the next run, so a delivery still being committed is never passed over.",
            ),
        ).to_dict(),
        "tap-bigcartel",
    )

    def __init__(self, *, validate_config: bool = True, **kwargs: t.Any) -> None:
        """Refuse, all at once and each by name, what the SDK's schema check let through, when
        the config is to be validated (a sync, ``--test``).

        The SDK has checked the schema (types, bounds) and appended its built-in settings
        to ``config_jsonschema`` by now, so those are not unknown. Discovery builds the tap
        with ``validate_config`` off (the catalog does not depend on the config): it needs no
        credentials, so ``tap-bigcartel --discover`` and ``meltano select --list`` work before
        anything is configured. A tap built that way checks its credentials where the shops
        are first needed (:attr:`configured_shops`), with the same error.
        """
        try:
            super().__init__(validate_config=validate_config, **kwargs)
        except ConfigValidationError as error:
            # The SDK's type check quotes the value it refuses, a secret's too.
            raise scrubbed(error, self.secrets) from None
        self.failed_shops: dict[str, str] = {}
        #: Shops left out of this run because they deauthorized the app; not failures.
        self.disconnected_shops: dict[str, str] = {}
        if validate_config:
            self.check_settings()
        invoked = _INVOKED.get()
        if invoked is not None:
            invoked.append(self)

    def check_settings(self) -> None:
        """Every settings error at once, each naming its setting.

        Raises:
            ConfigValidationError: A setting is unknown or wrong, or the credentials do not
                name exactly one way to authenticate.
        """
        errors = settings_errors(self.config, self.config_jsonschema)
        try:
            self.configured_shops  # noqa: B018 - the credential check
        except ConfigValidationError as error:
            errors.extend(error.errors)
        if errors:
            raise ConfigValidationError("; ".join(errors), errors=errors)

    @cached_property
    def configured_shops(self) -> list[Shop]:
        """The shops the config names, account ids not yet resolved.

        Raises:
            ConfigValidationError: No way, or more than one, to authenticate is configured, or
                one is incomplete; the message names the settings.
        """
        try:
            return shops_from_config(self.config)
        except ConfigError as error:
            raise ConfigValidationError(str(error), errors=[str(error)]) from None

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, t.Any]) -> None:
        """The SDK's built-in settings, plus ``emit_activate_version_messages``: singer-sdk 0.54
        declares the activate-version capability for taps but adds no setting to switch it on,
        so without it the setting would be refused as unknown."""
        super().append_builtin_config(config_jsonschema)
        for name, prop in EMIT_ACTIVATE_VERSION_CONFIG["properties"].items():
            config_jsonschema["properties"].setdefault(name, prop)

    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:
        """The CLI: the SDK's own invocation (build the tap, ``sync_all``), then the verdict.

        Overrides the public CLI entry point, since ``sync_all`` is final; the SDK's
        ``invoke`` runs unchanged and its arguments pass through as they are.

        What the process has built by now (modules, schemas, the SDK) lives as long as it
        does, so it is frozen out of the garbage collector's passes: each page allocates tens
        of thousands of objects, and the full collections they set off, scanning all of it
        again, cost a sixth of a sync's CPU time.
        """
        gc.freeze()
        with _collecting_taps() as taps:
            super().invoke(**kwargs)
        for tap in taps:
            tap.report_shops()

    @cached_property
    def user_agent(self) -> str:
        return http_user_agent("tap-bigcartel", self.config.get("user_agent"))

    @cached_property
    def secrets(self) -> tuple[str, ...]:
        """Every secret in the config, for scrubbing messages before they are logged."""
        return config_secrets(self.config, self.config_jsonschema)

    @cached_property
    def webhooks(self) -> WebhookFacts | None:
        """The webhook store's facts for this run, when ``webhook_db_url`` is set."""
        url = self.config.get("webhook_db_url")
        if not url:
            return None
        from tap_bigcartel.webhooks import WebhookFacts  # here: SQLAlchemy only for a store

        return WebhookFacts(url, float(self.config["webhook_settle_seconds"]))

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """The retry settings, for the streams and the account lookup alike."""
        return RetryPolicy(
            max_retries=int(self.config["max_retries"]),
            backoff_factor=float(self.config["backoff_factor"]),
            max_wait=float(self.config["max_retry_wait"]),
        )

    @cached_property
    def shops(self) -> list[Shop]:
        """The configured shops, with account ids asked of the API where the config has none,
        less the shops that deauthorized the app."""
        disconnected = self.webhooks.disconnected() if self.webhooks else {}
        resolved = []
        for shop in self.configured_shops:
            if self._is_disconnected(shop.account_id, disconnected):
                continue
            if shop.account_id is None:
                try:
                    account_id = discover_account_id(
                        shop,
                        self.config["api_url"],
                        self.user_agent,
                        self.config["request_timeout"],
                        policy=self.retry_policy,
                    )
                except ShopUnavailableError as error:
                    raise ShopsFailedError(
                        {"(unknown)": redact(str(error), self.secrets)}
                    ) from None
                shop = Shop(account_id, shop.auth, shop.source)
                if self._is_disconnected(account_id, disconnected):
                    continue
            resolved.append(shop)
        return resolved

    def _is_disconnected(
        self, account_id: str | None, disconnected: dict[str, Disconnection]
    ) -> bool:
        found = disconnected.get(str(account_id)) if account_id is not None else None
        if found is None:
            return False
        reason = (
            f"the shop deauthorized the app ({found.reason}, {found.changed_at.isoformat()}); "
            "its state is kept. Reconnect it with tap-bigcartel-connect."
        )
        self.logger.warning("Skipping account %s: %s", account_id, reason)
        self.disconnected_shops[str(account_id)] = reason
        return True

    def shop(self, account_id: str) -> Shop:
        for shop in self.shops:
            if shop.account_id == account_id:
                return shop
        msg = f"account {account_id} is in the state or context but not in the config"
        raise KeyError(msg)

    def record_failure(self, shop: Shop, reason: str) -> None:
        if shop.account_id not in self.failed_shops:
            self.logger.error(
                "Skipping account %s for the rest of this run: %s", shop.account_id, reason
            )
            self.failed_shops[str(shop.account_id)] = reason

    def discover_streams(self) -> list[BigCartelStream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def report_shops(self) -> None:
        """After ``sync_all``: name the deauthorized shops it skipped; then fail the run, naming
        them, if any shop could not be synced.

        Raises:
            ShopsFailedError: A shop could not be synced; every other shop was.
        """
        if self.disconnected_shops:
            self._report_skipped()
        if self.failed_shops:
            raise ShopsFailedError(self.failed_shops)

    def _report_skipped(self) -> None:
        """One plain last line on stderr, whatever the log format: a skipped shop is not a
        failure, so the exit code (0) cannot tell whoever reads the end of the run about it."""
        print(
            f"{self.name}: skipped deauthorized shops: {', '.join(self.disconnected_shops)} "
            "(reconnect with tap-bigcartel-connect --webhook-db-url or "
            "bigcartel-webhooks reconnect ID)",
            file=sys.stderr,
            flush=True,
        )


@contextmanager
def _collecting_taps() -> Iterator[list[TapBigCartel]]:
    taps: list[TapBigCartel] = []
    token = _INVOKED.set(taps)
    try:
        yield taps
    finally:
        _INVOKED.reset(token)


def settings_errors(config: Mapping[str, t.Any], schema: Mapping[str, t.Any]) -> list[str]:
    """Unknown settings, then the values JSON Schema cannot judge, in the order of the settings.

    Account ids are checked here rather than by a schema ``pattern``, whose error would show a
    regular expression instead of saying what an account id is.
    """
    accounts = config.get("accounts")
    entries = accounts if isinstance(accounts, list) else []
    found = [
        account_id_error("account_id", config.get("account_id")),
        *(
            account_id_error(f"accounts[{index}].account_id", entry.get("account_id"))
            for index, entry in enumerate(entries)
            if isinstance(entry, Mapping)
        ),
        iso_datetime_error("start_date", config.get("start_date")),
        http_url_error("api_url", config.get("api_url"), "https://api.bigcartel.com"),
        database_url_error("webhook_db_url", config.get("webhook_db_url")),
    ]
    return unknown_settings(config, schema) + [error for error in found if error]


if __name__ == "__main__":
    TapBigCartel.cli()
