"""What the target does with each stream's records as they arrive.

Every sink makes its batch durable in the ledger database before the SDK drains and emits STATE,
so a crash never acknowledges an order the target has not stored. Decisions come later, at the
end of the run, when the catalog of the same run is complete (the tap emits orders before
products).
"""

from __future__ import annotations

import typing as t

from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import DatetimeErrorTreatmentEnum

if t.TYPE_CHECKING:
    from target_fulfillment.target import TargetFulfillment


class _LedgerSink(BatchSink):
    """Records are checked by the fulfillment rules, which name the order at fault; the SDK's
    schema validation would stop the whole run on one bad record instead."""

    MAX_SIZE_DEFAULT = 500

    def __init__(
        self,
        target: TargetFulfillment,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._target = target

    def get_validator(self) -> None:
        return None

    @property
    def datetime_error_treatment(self) -> DatetimeErrorTreatmentEnum:
        return DatetimeErrorTreatmentEnum.NULL

    def _records(self, context: dict) -> list[dict]:
        return context.get("records") or []


class AccountsSink(_LedgerSink):
    """Each shop's country decides which orders are domestic."""

    def process_batch(self, context: dict) -> None:
        ledger = self._target.ledger
        for record in self._records(context):
            account_id = str(record.get("account_id") or record.get("id") or "")
            if not account_id:
                self.logger.error("accounts record without an id was ignored")
                continue
            country = record.get("country") or {}
            ledger.upsert_shop(
                account_id,
                (country.get("id") if isinstance(country, dict) else country) or None,
                record.get("store_name"),
            )


class ProductsSink(_LedgerSink):
    """The catalog (description, options) that SKUs are derived from, kept across runs.

    Delete records (``_sdc_deleted_at``) leave the product in the catalog: orders placed before
    the delete still need its SKU.
    """

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Keep ``_sdc_deleted_at``, which the SDK strips by default, to tell deletes apart."""
        return True

    def process_batch(self, context: dict) -> None:
        ledger = self._target.ledger
        for record in self._records(context):
            if record.get("_sdc_deleted_at"):
                continue
            account_id, product_id = record.get("account_id"), record.get("id")
            if not account_id or not product_id:
                self.logger.error(
                    "products record without account_id or id was ignored (id %r)", product_id
                )
                continue
            options = [
                (str(option["id"]), str(option.get("name") or ""))
                for option in record.get("options") or []
                if isinstance(option, dict) and option.get("id") is not None
            ]
            updated_at = record.get("updated_at")
            ledger.upsert_product(
                str(account_id),
                str(product_id),
                record.get("name"),
                record.get("description"),
                options,
                updated_at.isoformat() if hasattr(updated_at, "isoformat") else updated_at,
            )


class OrdersSink(_LedgerSink):
    """Orders go to the durable order cache; the run's end decides what to send."""

    def process_batch(self, context: dict) -> None:
        valid = []
        for record in self._records(context):
            if not record.get("account_id") or not record.get("id"):
                self._target.summary.count(
                    "failed",
                    f"orders record {record.get('id')!r}",
                    "order record without account_id or id; not stored",
                )
                continue
            valid.append(record)
        self._target.order_cache.put_many(valid)


class IgnoredSink(BatchSink):
    """Streams the target does not use (artists, countries, meltano_test_stream...): dropped."""

    def get_validator(self) -> None:
        return None

    def process_record(self, record: dict, context: dict) -> None:
        """Nothing to keep."""

    def process_batch(self, context: dict) -> None:
        """Nothing to write."""


SINKS: dict[str, type[BatchSink]] = {
    "accounts": AccountsSink,
    "products": ProductsSink,
    "orders": OrdersSink,
}
