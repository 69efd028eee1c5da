"""What the target does with each stream's records as they arrive.

Every sink makes its batch durable in the ledger database before the SDK drains and emits STATE,
so a crash never acknowledges an order the target has not stored. Decisions come later, at the
end of the run, when the catalog of the same run is complete (the tap emits orders before
products).
"""

from __future__ import annotations

import datetime as dt
import typing as t
from collections.abc import Callable

import sqlalchemy as sa
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink

from target_fulfillment.ledger import describe_error
from target_fulfillment.validation import key_problem, record_id_problem, storable_text

if t.TYPE_CHECKING:
    from target_fulfillment.target import TargetFulfillment

Record = dict[str, t.Any]


class _LedgerSink(BatchSink):
    """Records are checked by the fulfillment rules, which name the order at fault; the SDK's
    schema validation would stop the whole run on one bad record instead."""

    MAX_SIZE_DEFAULT = 500

    def __init__(
        self,
        target: TargetFulfillment,
        stream_name: str,
        schema: dict[str, t.Any],
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._target = target

    def get_validator(self) -> None:
        return None

    @property
    def datetime_error_treatment(self) -> DatetimeErrorTreatmentEnum:
        return DatetimeErrorTreatmentEnum.NULL

    def preprocess_record(self, record: Record, context: dict[str, t.Any]) -> Record:
        """A record without its key properties reaches ``_keyed``, to be kept as rejected: the
        SDK would otherwise stop the whole run on it (MissingKeyPropertiesError)."""
        for name in self.key_properties or ():
            record.setdefault(name, None)
        return record

    def _records(self, context: dict[str, t.Any]) -> list[Record]:
        return context.get("records") or []

    def _keyed(self, context: dict[str, t.Any], account_field: str = "account_id") -> list[Record]:
        """The batch's records that can be keyed; the others are kept as rejected records."""
        keyed = []
        for record in self._records(context):
            problem = key_problem(record.get(account_field), record.get("id"), self.stream_name)
            if problem:
                self._target.reject(self.stream_name, record, problem)
            else:
                keyed.append(record)
        return keyed

    def _store_each(self, records: list[Record], store: Callable[[Record], object]) -> None:
        """Store record by record; one the database refuses is rejected, the others go on.

        The reason is the database's own first line (``describe_error``): never the statement's
        parameters, which hold customer data.
        """
        for record in records:
            try:
                store(record)
            except (sa.exc.StatementError, sa.exc.DBAPIError, ValueError) as error:
                reason = f"the ledger could not store it: {describe_error(error)}"
                self._target.reject(self.stream_name, record, reason)


class AccountsSink(_LedgerSink):
    """Each shop's country decides which orders are domestic."""

    def process_batch(self, context: dict[str, t.Any]) -> None:
        ledger = self._target.ledger

        def store(record: Record) -> None:
            country = record.get("country") or {}
            code = country.get("id") if isinstance(country, dict) else country
            ledger.upsert_shop(
                str(record["id"]),
                _catalog_text(code, 64),
                _catalog_text(record.get("store_name")),
            )

        # An accounts record is the shop itself: its id is the account id.
        self._store_each(self._keyed(context, account_field="id"), store)


class ProductsSink(_LedgerSink):
    """The catalog (description, options) that SKUs are derived from, kept across runs.

    Delete records (``_sdc_deleted_at``) leave the product in the catalog: orders placed before
    the delete still need its SKU.
    """

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Keep ``_sdc_deleted_at``, which the SDK strips by default, to tell deletes apart."""
        return True

    def process_batch(self, context: dict[str, t.Any]) -> None:
        ledger = self._target.ledger
        products = []
        for record in self._keyed(context):
            if record.get("_sdc_deleted_at"):
                continue
            problem = _options_problem(record.get("options") or [])
            if problem:
                self._target.reject(self.stream_name, record, f"products record: {problem}")
            else:
                products.append(record)

        def store(record: Record) -> None:
            updated_at = record.get("updated_at")
            ledger.upsert_product(
                str(record["account_id"]),
                str(record["id"]),
                _catalog_text(record.get("name")),
                _catalog_text(record.get("description")),
                [
                    (str(option["id"]), _catalog_text(option.get("name")) or "")
                    for option in record.get("options") or []
                ],
                updated_at.isoformat() if isinstance(updated_at, dt.date) else updated_at,
            )

        self._store_each(products, store)


class OrdersSink(_LedgerSink):
    """Orders go to the durable order cache; the run's end decides what to send."""

    def process_batch(self, context: dict[str, t.Any]) -> None:
        cache = self._target.order_cache
        records = self._keyed(context)
        try:
            cache.put_many(records)
        except (sa.exc.StatementError, sa.exc.DBAPIError):
            # Find the one the database refuses; the batch's transaction stored none of them.
            self._store_each(records, lambda record: cache.put_many([record]))


def _options_problem(options: t.Any) -> str | None:
    if not isinstance(options, list):
        return "options is not a list"
    for option in options:
        problem = record_id_problem(
            option.get("id") if isinstance(option, dict) else None, "option"
        )
        if problem:
            return problem
    return None


def _catalog_text(value: t.Any, limit: int | None = None) -> str | None:
    """Catalog text any database stores (``storable_text``); a SKU made of a replaced
    character is then held by the order rules, not sent."""
    if value is None:
        return None
    text = storable_text(value if isinstance(value, str) else str(value))
    return text[:limit] if limit and text else text


class IgnoredSink(BatchSink):
    """Streams the target does not use (artists, countries, meltano_test_stream...): dropped."""

    def get_validator(self) -> None:
        return None

    def process_record(self, record: Record, context: dict[str, t.Any]) -> None:
        """Nothing to keep."""

    def process_batch(self, context: dict[str, t.Any]) -> None:
        """Nothing to write."""


SINKS: dict[str, type[BatchSink]] = {
    "accounts": AccountsSink,
    "products": ProductsSink,
    "orders": OrdersSink,
}
