"""The end-of-run work of the target: decide, send exactly once, then the shipments
(``writeback``).

Orders to send go in batches of the backend's ``batch_size`` (a warehouse's rate limit counts
requests, not orders). Every side effect goes through the ledger's two-phase protocol: a batch's
intents (``claim_many``, one transaction) are durable before the warehouse is called and each
order's result (``confirm_submitted``) after, so a crash at any point leaves ``submitting`` rows
that the next run settles by looking their keys up at the warehouse (``lookup_many``) before
anything is sent again.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from target_fulfillment.attributes import ProductAttributes
from target_fulfillment.backends.base import (
    AmbiguousSubmitError,
    Backend,
    BackendError,
    OrderLockedError,
    Submission,
)
from target_fulfillment.bigcartel import BigCartelWriter
from target_fulfillment.domain import FulfillmentOrder, RemoteOrder, Weight, order_key
from target_fulfillment.ledger import Claim
from target_fulfillment.orders import (
    CatalogProduct,
    Hold,
    InvalidOrderError,
    build_order,
    is_eligible,
    is_voided,
)
from target_fulfillment.writeback import ShipmentWork

if t.TYPE_CHECKING:
    from target_fulfillment.ledger import Ledger, OrderEntry
    from target_fulfillment.order_cache import OrderCache
    from target_fulfillment.summary import RunSummary

Record = dict[str, t.Any]
FINISHED = frozenset({"shipped", "written_back", "cancelled"})


@dataclass(frozen=True)
class _Send:
    """An order decided to be sent, with its ledger row as it was before the claim."""

    order: FulfillmentOrder
    entry: OrderEntry | None
    payload_hash: str

    @property
    def update(self) -> bool:
        return self.entry is not None and self.entry.state == "submitted"


@dataclass(frozen=True)
class Settings:
    """The config the rules need, read once."""

    sku_overrides: Mapping[str, str]
    shipping_codes: Mapping[str, Mapping[str, str]]
    origin_country: str | None
    max_concurrency: int
    dry_run: bool
    notify_customer: bool
    #: Shops not to write back to, with the reason: they deauthorized the app (webhook store).
    disconnected: Mapping[str, str] = field(default_factory=dict)
    #: Weights and customs data by SKU (``product_attributes``).
    product_attributes: Mapping[str, ProductAttributes] = field(default_factory=dict)
    customs_contents: str = "merchandise"
    customs_non_delivery: str = "return_to_sender"
    #: The backend takes no order without a package weight (ShipStation V2).
    require_package_weight: bool = False
    #: The package weight when the items are not all weighed (``default_package_weight``).
    package_weight: Weight | None = None


class Fulfillment:
    """One run's fulfillment work over the ledger, the order cache and a backend."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        cache: OrderCache,
        backend: Backend,
        writer: BigCartelWriter | None,
        settings: Settings,
        summary: RunSummary,
        logger: logging.Logger,
    ) -> None:
        self.ledger = ledger
        self.cache = cache
        self.backend = backend
        self.writer = writer
        self.settings = settings
        self.summary = summary
        self.logger = logger
        # The catalog as this run first read it: deciding is serial, and reading a product and
        # a shop's country for every order was most of a batched run's time.
        self._catalog: dict[tuple[str, str], CatalogProduct | None] = {}
        self._countries: dict[str, str | None] = {}

    def run(self) -> None:
        if not self.settings.dry_run:
            self.reconcile()
        self.evaluate()
        shipments = ShipmentWork(
            ledger=self.ledger,
            cache=self.cache,
            backend=self.backend,
            writer=self.writer,
            summary=self.summary,
            dry_run=self.settings.dry_run,
            notify_customer=self.settings.notify_customer,
            disconnected=self.settings.disconnected,
            concurrency=self.settings.max_concurrency,
        )
        shipments.collect()
        shipments.write_back()

    # Settling interrupted submits

    def reconcile(self) -> None:
        """Settle the ``submitting`` rows of gone workers by asking the warehouse for their keys,
        all in one ``lookup_many``.

        Rows of workers still running are theirs (``Ledger.in_doubt``): settling one while its
        request is in flight would send the order twice or fail an order the warehouse has.
        """
        entries = self.ledger.in_doubt(self.backend.name)
        if not entries:
            return
        try:
            found = self.backend.lookup_many([entry.order_key for entry in entries])
        except BackendError as error:
            for entry in entries:
                note = f"still in doubt, lookup failed: {error}"
                self.summary.count("failed", entry.order_key, note)
            return
        for entry in entries:
            remote = found.get(entry.order_key)
            if remote is None:
                # Never reached the warehouse: back to failed, so it is evaluated and sent below.
                self.ledger.fail(
                    entry.account_id, entry.order_id, "interrupted before the warehouse had it"
                )
                self.cache.flag_for_evaluation(entry.account_id, entry.order_id)
            elif remote.status == "cancelled":
                self.ledger.mark_cancelled(
                    entry.account_id, entry.order_id, "cancelled at the warehouse"
                )
            else:
                # An interrupted update may or may not have landed: record no hash, so the next
                # evaluation sees a difference and sends the update again (an idempotent upsert).
                was_update = bool(entry.backend_order_id)
                self.ledger.confirm_submitted(
                    entry.account_id,
                    entry.order_id,
                    remote.backend_order_id,
                    "" if was_update else entry.payload_hash or "",
                )
                if was_update:
                    self.cache.flag_for_evaluation(entry.account_id, entry.order_id)
                self.logger.info("%s: the warehouse had it; recorded as submitted", entry.order_key)

    # Deciding and sending

    def evaluate(self) -> None:
        """Decide every order received since it was last looked at, every held order and every
        order that failed before; send the ones to send in batches, ``max_concurrency`` at once."""
        size = max(1, self.backend.batch_size)
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency) as pool:
            in_flight: set[Future[None]] = set()
            batch: list[_Send] = []

            def flush() -> None:
                nonlocal in_flight
                if len(in_flight) >= 2 * self.settings.max_concurrency:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
                in_flight.add(pool.submit(self._send_batch, list(batch)))
                batch.clear()

            for record in self._orders_to_evaluate():
                send = self._decide_safely(record)
                if send is None:
                    continue
                batch.append(send)
                if len(batch) == size:
                    flush()
            if batch:
                flush()
            for future in in_flight:
                future.result()

    def _orders_to_evaluate(self) -> Iterator[Record]:
        seen = set()
        for entry in self.ledger.entries(states=("held", "failed")):
            record = self.cache.get(entry.account_id, entry.order_id)
            if record is not None:
                seen.add((entry.account_id, entry.order_id))
                yield record
        for record in self.cache.pending():
            if (str(record["account_id"]), str(record["id"])) not in seen:
                yield record

    def _decide_safely(self, record: Record) -> _Send | None:
        """``_decide``, with an unexpected error kept at its order: recorded in the ledger as
        ``failed`` (retried every run) and reported, while the other orders go on."""
        try:
            return self._decide(record)
        except Exception as error:
            account_id, order_id = str(record["account_id"]), str(record["id"])
            self._unexpected(account_id, order_id, "deciding", error)
            self.cache.mark_evaluated(account_id, order_id)
            return None

    def _unexpected(self, account_id: str, order_id: str, stage: str, error: Exception) -> None:
        """Record an error nobody foresaw at its order (``failed``, retried every run; a row
        being sent is left for settling) and report it. The message may quote the record, so
        only the key and the error's type are logged."""
        key = order_key(account_id, order_id)
        note = f"unexpected {type(error).__name__} while {stage}: {error}"[:500]
        self.logger.error("%s: unexpected %s while %s", key, type(error).__name__, stage)
        if not self.settings.dry_run:
            self.ledger.record_error(account_id, order_id, note)
        self.summary.count("failed", key, note)

    def _decide(self, record: Record) -> _Send | None:
        """Apply the rules to one order; what to send, if it is to be sent."""
        account_id, order_id = str(record["account_id"]), str(record["id"])
        key = order_key(account_id, order_id)
        entry = self.ledger.get(account_id, order_id)
        state = entry.state if entry else None
        if state in FINISHED or state == "submitting":
            self.summary.count("skipped")
            self.cache.mark_evaluated(account_id, order_id)
            return None
        if is_voided(record):
            self._void(record, entry)
            return None
        if not is_eligible(record):
            self.summary.count("skipped")
            self.cache.mark_evaluated(account_id, order_id)
            return None
        try:
            result = build_order(
                record,
                product=lambda product_id: self._product(account_id, product_id),
                shop_country=self._shop_country(account_id) or self.settings.origin_country,
                sku_overrides=self.settings.sku_overrides,
                shipping_codes=self.settings.shipping_codes,
                product_attributes=self.settings.product_attributes,
                customs_contents=self.settings.customs_contents,
                customs_non_delivery=self.settings.customs_non_delivery,
                require_package_weight=self.settings.require_package_weight,
                package_weight=self.settings.package_weight,
            )
        except InvalidOrderError as error:
            result = Hold(str(error))
        if isinstance(result, Hold):
            self.cache.mark_evaluated(account_id, order_id)
            if not self.settings.dry_run and state == "submitted":
                self.ledger.record_pending_change(account_id, order_id, result.reason)
                self.summary.count("reported", key, f"changed after it was sent: {result.reason}")
            elif self.settings.dry_run or self.ledger.hold(account_id, order_id, result.reason):
                self.summary.count("held", key, result.reason)
            return None
        payload_hash = result.payload_hash()
        if entry is not None and state == "submitted" and entry.payload_hash == payload_hash:
            self.summary.count("skipped")
            self.cache.mark_evaluated(account_id, order_id)
            return None
        if self.settings.dry_run:
            self.summary.count("updated" if state == "submitted" else "sent")
            return None
        return _Send(result, entry, payload_hash)

    def _product(self, account_id: str, product_id: str) -> CatalogProduct | None:
        if (account_id, product_id) not in self._catalog:
            product = self.ledger.product(account_id, product_id)
            self._catalog[account_id, product_id] = (
                None if product is None else CatalogProduct(product.description, product.options)
            )
        return self._catalog[account_id, product_id]

    def _shop_country(self, account_id: str) -> str | None:
        if account_id not in self._countries:
            self._countries[account_id] = self.ledger.shop_country(account_id)
        return self._countries[account_id]

    def _send_batch(self, batch: list[_Send]) -> None:
        """The two-phase submit of one batch, on a pool thread.

        Each order stays flagged for evaluation in the cache until the ledger holds its outcome,
        so a crash before the claim leaves it to the next run rather than losing it.
        """
        try:
            self._submit_batch(batch)
        except Exception as error:
            # Claimed rows stay ``submitting``: once this worker is gone, the next run settles
            # them by lookup. Orders not yet claimed are recorded ``failed``, to be tried again.
            for send in batch:
                self._unexpected(send.order.account_id, send.order.order_id, "sending", error)
        finally:
            for send in batch:
                self.cache.mark_evaluated(send.order.account_id, send.order.order_id)

    def _submit_batch(self, batch: list[_Send]) -> None:
        claims = {
            send.order.key: Claim(
                send.order.account_id,
                send.order.order_id,
                send.order.key,
                send.payload_hash,
                tuple((item.line_item_key, item.sku) for item in send.order.items),
            )
            for send in batch
        }
        won = self.ledger.claim_many(list(claims.values()), self.backend.name)
        for send in batch:
            if send.order.key not in won:
                self.summary.count("skipped")
        batch = [send for send in batch if send.order.key in won]
        if not batch:
            return
        doubt = ""
        try:
            answers = self._backend_submit(
                [
                    Submission(send.order, send.entry.backend_order_id if send.entry else None)
                    for send in batch
                ]
            )
        except AmbiguousSubmitError as error:
            answers, doubt = {}, str(error)
        except BackendError as error:
            answers = {send.order.key: error for send in batch}
        results = {send.order.key: answers.get(send.order.key) for send in batch}
        # One lookup for the keys in doubt and the locked ones (their warehouse id).
        looked_up = [
            k for k, result in results.items() if isinstance(result, OrderLockedError | None)
        ]
        found = self._lookup_quietly(looked_up) if looked_up else {}
        # The orders the warehouse took, in one transaction; the others one by one below.
        self.ledger.confirm_many(
            {claims[k]: result for k, result in results.items() if isinstance(result, str)}
        )
        for send in batch:
            try:
                self._record_result(send, results[send.order.key], found, doubt)
            except Exception as error:
                self._unexpected(send.order.account_id, send.order.order_id, "sending", error)

    def _record_result(
        self,
        send: _Send,
        result: str | BackendError | None,
        found: Mapping[str, RemoteOrder],
        doubt: str,
    ) -> None:
        """One order's outcome of its batch, in the ledger and the summary."""
        order, entry = send.order, send.entry
        account_id, order_id, key = order.account_id, order.order_id, order.key
        if isinstance(result, str):  # confirmed with its batch
            self.summary.count("updated" if send.update else "sent")
        elif result is None:
            remote = found.get(key)
            if remote is None or send.update:
                # Not found, or found but perhaps still the previous version (an update tells
                # nothing by being found): the row stays ``submitting`` for the next run's
                # settling, which sends an update again.
                note = f"in doubt, settled on the next run: {doubt or 'no result for it'}"
                self.summary.count("failed", key, note)
                return
            self.ledger.confirm_submitted(
                account_id, order_id, remote.backend_order_id, send.payload_hash
            )
            self.summary.count("updated" if send.update else "sent")
        elif isinstance(result, OrderLockedError):
            # The warehouse has the order and will not take changes: keep what it has.
            previous_hash = (entry.payload_hash if entry else None) or send.payload_hash
            remote = found.get(key)
            if remote is not None:
                backend_order_id = remote.backend_order_id
            else:
                backend_order_id = (entry.backend_order_id if entry else None) or ""
            self.ledger.confirm_submitted(account_id, order_id, backend_order_id, previous_hash)
            note = f"changed after the warehouse locked it, change not applied: {result}"
            self.ledger.record_pending_change(account_id, order_id, note)
            self.summary.count("reported", key, note)
        elif send.update and entry is not None:
            # The warehouse still holds the previous version, which will ship: keep the row
            # submitted (so its shipment is collected) and report the change not applied.
            self.ledger.confirm_submitted(
                account_id, order_id, entry.backend_order_id or "", entry.payload_hash or ""
            )
            note = f"update refused by the warehouse, previous version kept: {result}"
            self.ledger.record_pending_change(account_id, order_id, note)
            self.summary.count("failed", key, note)
        else:
            self.ledger.fail(account_id, order_id, str(result))
            self.summary.count("failed", key, str(result))

    def _backend_submit(self, submissions: Sequence[Submission]) -> dict[str, str | BackendError]:
        """``backend.submit_batch``; an error the backend did not declare leaves it unknown
        whether the orders arrived, so it is handled as an ambiguous answer: looked up, never
        dropped."""
        try:
            return self.backend.submit_batch(submissions)
        except (AmbiguousSubmitError, BackendError):
            raise
        except Exception as error:
            keys = ", ".join(submission.order.key for submission in submissions[:3])
            self.logger.error(
                "%s%s: unexpected %s while submitting",
                keys,
                f" and {len(submissions) - 3} more" if len(submissions) > 3 else "",
                type(error).__name__,
            )
            raise AmbiguousSubmitError(f"unexpected {type(error).__name__}: {error}") from error

    def _lookup_quietly(self, keys: Sequence[str]) -> dict[str, RemoteOrder]:
        try:
            return self.backend.lookup_many(keys)
        except (BackendError, AmbiguousSubmitError):
            return {}

    def _void(self, record: Record, entry: OrderEntry | None) -> None:
        """A failed or invalid payment: cancel what was sent, drop what was not."""
        account_id, order_id = str(record["account_id"]), str(record["id"])
        key = order_key(account_id, order_id)
        reason = f"payment {record.get('payment_status')}"
        if entry is None:
            self.summary.count("skipped")
        elif self.settings.dry_run:
            self.summary.count("cancelled")
        elif entry.state == "submitted":
            try:
                cancelled = self.backend.cancel(key)
            except (BackendError, AmbiguousSubmitError) as error:
                self.summary.count(
                    "failed", key, f"{reason}; cancel at the warehouse failed: {error}"
                )
                return
            if cancelled:
                self.ledger.mark_cancelled(account_id, order_id, reason)
                self.summary.count("cancelled")
            else:
                note = f"{reason} after it was sent; the warehouse did not allow a cancel"
                self.ledger.record_pending_change(account_id, order_id, note)
                self.summary.count("reported", key, note)
        else:
            self.ledger.mark_cancelled(account_id, order_id, reason)
            self.summary.count("cancelled")
        self.cache.mark_evaluated(account_id, order_id)
