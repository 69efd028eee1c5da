"""The HTTP base stream: headers, per-shop auth, loss-free paging, retries and clear errors."""

from __future__ import annotations

import decimal
import json
import logging
import typing as t
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from urllib.parse import urlparse

import msgspec
import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext

from bigcartel_core import jsonapi
from bigcartel_core.errors import BigCartelAPIError, ShopUnavailableError, redact
from bigcartel_core.jsonapi import JSONAPI
from tap_bigcartel.coercion import (
    RecordValueError,
    decimal_coercer,
    parse_timestamp,
    root_conformer,
)
from tap_bigcartel.paging import AscendingSeekPager, DescendingPager, OffsetPager
from tap_bigcartel.prefetch import OnePageAhead

if t.TYPE_CHECKING:
    from backoff.types import Details
    from requests.auth import AuthBase
    from singer_sdk.helpers.types import Context, RequestFunc

    from bigcartel_core.auth import Shop
    from tap_bigcartel.tap import TapBigCartel

Pager = OffsetPager | AscendingSeekPager | DescendingPager
#: Singer's soft-delete column, set on delete records only.
DELETED_AT = "_sdc_deleted_at"
#: Partition state key of the deletes bookmark: an ISO time on the webhook store's clock.
DELETES_BOOKMARK = "deletes_received_before"
#: What singer-sdk logs, on its ``singer_sdk`` logger, for a record whose replication key is
#: null: once per delete record, which has no ``updated_at`` by design (the SDK then leaves the
#: bookmark alone, as it should). tests/tap/test_sdk_contract.py fails if the SDK rewords it.
NULL_REPLICATION_WARNING = "New replication value is null"


class _DeletesInFlight(logging.Filter):
    """Drops the SDK's null-replication-value warning while a delete record is being emitted,
    and only then: a null ``updated_at`` on any other record is still reported."""

    def __init__(self) -> None:
        super().__init__()
        self.active = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.active and record.getMessage() == NULL_REPLICATION_WARNING)

    @contextmanager
    def emitting(self) -> Iterator[None]:
        """Around the ``yield`` of a delete record: the SDK writes the record and updates the
        bookmark while the generator is suspended there."""
        logging.getLogger("singer_sdk").addFilter(self)  # once: a Filterer keeps no duplicates
        self.active = True
        try:
            yield
        finally:
            self.active = False


_DELETES_IN_FLIGHT = _DeletesInFlight()

#: Numbers with a fraction or exponent as exact decimals, as ``json.loads(parse_float=Decimal)``
#: reads them, several times faster.
_PAGE_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


def _decode(content: bytes) -> t.Any:
    """A page's JSON document; what msgspec refuses and the standard library takes (``NaN``, a
    lone surrogate escape) is read by the latter, so every page reads as it always did."""
    try:
        return _PAGE_DECODER.decode(content)
    except msgspec.DecodeError:
        return json.loads(content, parse_float=decimal.Decimal)


@dataclass
class _Listing:
    """One partition's walk through a list endpoint.

    The SDK's request loop (``RESTStream.request_records``) gives ``parse_response``,
    ``authenticator`` and ``get_new_paginator`` no context; they reach the partition's shop,
    context, pager and the page fetched ahead through this, set by
    :meth:`BigCartelStream.request_records` for as long as it runs.
    """

    context: Context | None
    shop: Shop
    pager: Pager
    #: Made by :meth:`BigCartelStream.request_decorator`, with the SDK's request function.
    ahead: OnePageAhead | None = None


class PageToken:
    """The query of the next request.

    Compared by identity: the SDK's paginator takes two equal tokens in a row for a loop, but
    the seek pager may ask for the same page once more and raises StalledPagingError itself
    if that one moves it nowhere either.
    """

    __slots__ = ("params",)

    def __init__(self, params: dict[str, t.Any]) -> None:
        self.params = params

    def __repr__(self) -> str:
        return f"PageToken({self.params!r})"


class PagerPaginator(BaseAPIPaginator[PageToken]):
    """A pager of :mod:`tap_bigcartel.paging` in the SDK's request loop.

    The pager sees each page's records (in ``parse_response``, which emits what it keeps), so
    by the time the SDK advances the paginator the pager has decided: finished, or its next
    query.
    """

    def __init__(self, pager: Pager) -> None:
        super().__init__(PageToken(pager.params()))
        self.pager = pager

    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page can emit nothing (every record already seen) and still not be the last."""
        return True

    def has_more(self, response: requests.Response) -> bool:
        return not self.pager.finished

    def get_next(self, response: requests.Response) -> PageToken:
        return PageToken(self.pager.params())


class BigCartelStream(RESTStream[dict[str, t.Any]]):
    """Base for every Big Cartel stream; subclasses only declare what they are.

    Subclasses set ``name``, ``path``, ``schema``, ``primary_keys`` and, where the API allows,
    ``replication_key`` with a ``paging`` of ``"seek"`` (ascending ``updated_at`` with a server-side
    filter) or ``"newest_first"`` (descending, stopping at the bookmark).
    """

    #: False for the one stream (countries) that is not scoped to a shop.
    account_scoped: t.ClassVar[bool] = True
    #: The webhook type that reports deletes, which the API never lists; read from the webhook
    #: store (``webhook_db_url``) after the API's records.
    deletes_topic: t.ClassVar[str | None] = None
    #: "offset", "seek" or "newest_first"; see :mod:`tap_bigcartel.paging`.
    paging: t.ClassVar[str] = "offset"
    #: To-many fields whose items always carry ``kind``: the subtype of their JSON:API type,
    #: set by the flattening for a namespaced type, null here when the API sent a plain one.
    kinded_fields: t.ClassVar[tuple[str, ...]] = ()
    primary_keys: t.ClassVar[list[str]] = ["account_id", "id"]
    #: A STATE message every 500 records (the SDK's default is 10,000), so a run killed halfway
    #: through a large shop resumes close to where it stopped.
    STATE_MSG_FREQUENCY = 500
    #: Records are conformed by :meth:`post_process` instead, as the SDK's ``ROOT_ONLY`` level
    #: would (nested values are JSON-ready when a record leaves ``_prepare``: API strings and
    #: numbers, exact decimals checked finite), at a fraction of its cost.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    #: Fetch the next page while this one is emitted (:mod:`tap_bigcartel.prefetch`); off, the
    #: SDK's request loop sends each request once the previous page is written.
    prefetch: t.ClassVar[bool] = True

    #: The partition being read, while :meth:`request_records` runs.
    _listing: _Listing | None = None

    @property
    def tap(self) -> TapBigCartel:
        """The tap this stream belongs to: its shops, failures, secrets and webhook facts.

        singer-sdk 0.54 keeps it only in the private ``Stream._tap`` (set by
        ``Stream.__init__(tap, ...)``, no public accessor), so this is the one place that
        reads it; tests/tap/test_sdk_contract.py fails if the SDK stops setting it.
        """
        return t.cast("TapBigCartel", self._tap)

    @property
    def url_base(self) -> str:
        return f"{self.config['api_url'].rstrip('/')}/v1"

    @property
    def user_agent(self) -> str:
        return self.tap.user_agent

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": JSONAPI, "User-Agent": self.user_agent}

    @property
    def timeout(self) -> int:
        return int(self.config["request_timeout"])

    @property
    def is_sorted(self) -> bool:
        """Seek paging emits in ``updated_at`` order, so its bookmark is resumable mid-stream."""
        return self.paging == "seek"

    @property
    def partitions(self) -> list[dict[str, t.Any]] | None:
        if not self.account_scoped:
            return None
        return [{"account_id": shop.account_id} for shop in self.tap.shops]

    @cached_property
    def _coerce_numbers(self) -> t.Callable[[dict[str, t.Any]], None]:
        return decimal_coercer(self.schema)

    @cached_property
    def _conform(self) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
        """Against the catalog's schema, which the SDK's conformance would use too."""
        return root_conformer(self.effective_schema, self._warn_unmapped)

    def _warn_unmapped(self, names: tuple[str, ...]) -> None:
        self.logger.warning(
            "Properties %s were present in the '%s' stream but not found in catalog schema. "
            "Ignoring.",
            names,
            self.name,
        )

    # Requests

    @property
    def authenticator(self) -> AuthBase:
        """The credentials of the shop being read (Bearer, or Basic for a personal project)."""
        if self._listing is None:
            return super().authenticator  # type: ignore[return-value]
        return self._listing.shop.auth

    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, t.Any]:
        return dict(next_page_token.params) if next_page_token else {}

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        request.safe_query_chars = "[]"
        return request

    def new_pager(self, context: Context | None) -> Pager:
        limit = int(self.config["page_size"])
        if self.paging == "seek":
            return AscendingSeekPager(limit, self.get_starting_timestamp(context))
        if self.paging == "newest_first":
            return DescendingPager(limit, self.get_starting_timestamp(context))
        start = self.get_starting_timestamp(context) if self.replication_key else None
        return OffsetPager(limit, start)

    def get_new_paginator(self) -> PagerPaginator:
        return PagerPaginator(self._current_listing().pager)

    def _current_listing(self) -> _Listing:
        if self._listing is None:
            msg = f"{self.name}: a page was requested outside request_records"
            raise RuntimeError(msg)
        return self._listing

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        yield from self.request_records(context)
        if self.deletes_topic and self.tap.webhooks is not None:
            yield from self._delete_records(context)

    def request_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The SDK's request loop (requests, retries, metrics) for one shop; a shop that cannot
        be read is given up on, and the others go on."""
        shop = self._active_shop(context)
        if shop is None:
            return
        self._listing = listing = _Listing(context, shop, self.new_pager(context))
        try:
            yield from super().request_records(context)
        except ShopUnavailableError as error:
            self._give_up_on_shop(shop, context, str(error))
        except (RetriableAPIError, requests.RequestException) as error:
            if not self.account_scoped:
                raise
            self._give_up_on_shop(shop, context, f"{self.name}: retries exhausted: {error}")
        finally:
            if listing.ahead is not None:
                listing.ahead.close()
            self._listing = None

    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """The SDK's retries around ``func``, whose try takes the answer fetched ahead when it
        is for this request: a prefetch that failed is retried, or ends the shop, as the SDK
        would any request (see :mod:`tap_bigcartel.prefetch`).

        The SDK's request loop asks for this once per partition, handing over the function that
        sends one request; pages are fetched ahead with that same function.
        """
        listing = self._listing
        ahead = None
        if listing is not None and self.prefetch:
            context = listing.context
            ahead = listing.ahead = OnePageAhead(lambda request: func(request, context))

        def send(request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            fetched = ahead.take(request) if ahead else None
            return fetched.result() if fetched is not None else func(request, context)

        return super().request_decorator(send)

    def _next_request(self, listing: _Listing) -> requests.PreparedRequest:
        """The request the SDK's loop sends next, built from the pager's next query as the loop
        builds it (``get_http_request``, then ``build_prepared_request``)."""
        token = PageToken(listing.pager.params())
        http = self.get_http_request(page=PageContext(listing.context, token))
        return self.build_prepared_request(
            method=http.method,
            url=http.url,
            params=http.encode_params(),
            headers=http.headers,
            data=http.data,
        )

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The page's records, prepared, less those the pager drops (seen, or past the
        bookmark); numbers are read as exact decimals.

        Once the pager has taken the page it knows the next query, so that page is fetched
        while these records are written; after the last one, the fetch is waited for, as the
        SDK's loop then prepares its next request on the same session.
        """
        listing = self._current_listing()
        document = _decode(response.content)
        page = [self._prepare(record, listing.context) for record in jsonapi.records(document)]
        emitted = listing.pager.accept(page, jsonapi.total_count(document))
        if listing.ahead is not None and not listing.pager.finished:
            listing.ahead.start(self._next_request(listing))
        yield from emitted
        if listing.ahead is not None:
            listing.ahead.settle()

    def post_process(
        self, row: dict[str, t.Any], context: Context | None = None
    ) -> dict[str, t.Any] | None:
        """Each record leaves in the form the SDK's type conformance would give it (see
        ``TYPE_CONFORMANCE_LEVEL``). The SDK reads the bookmark from the record afterwards: the
        ``updated_at`` text it finds is the one it would have made of the datetime."""
        return self._conform(row)

    def _delete_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """One delete record per delete the receiver heard of since this shop's own deletes
        bookmark, which moves only once they are all emitted.

        The bookmark is the store's ``received_at``, our clock, so it is kept apart from the
        ``updated_at`` bookmark, which is Big Cartel's.
        """
        assert self.deletes_topic is not None and self.tap.webhooks is not None
        shop = self._active_shop(context)
        if shop is None:
            return
        state = self.get_context_state(context)
        stored = state.get(DELETES_BOOKMARK)
        since = parse_timestamp(stored, DELETES_BOOKMARK) if stored else self._start_date()
        cutoff = self.tap.webhooks.cutoff
        if since is not None and since >= cutoff:
            return
        for delete in self.tap.webhooks.deletes(self.deletes_topic, str(shop.account_id), since):
            with _DELETES_IN_FLIGHT.emitting():
                yield {
                    "id": delete.id,
                    "account_id": shop.account_id,
                    self.replication_key or "updated_at": None,
                    DELETED_AT: delete.deleted_at,
                }
        state[DELETES_BOOKMARK] = cutoff.isoformat()

    def _start_date(self) -> datetime | None:
        start = self.config.get("start_date")
        return parse_timestamp(start, "start_date") if start else None

    def _active_shop(self, context: Context | None) -> Shop | None:
        """The shop to read for, or None: every shop is disconnected, or this one failed."""
        if not self.tap.shops:
            return None
        shop = self._shop(context)
        return None if shop.account_id in self.tap.failed_shops else shop

    def _shop(self, context: Context | None) -> Shop:
        if context and context.get("account_id"):
            return self.tap.shop(context["account_id"])
        return self.tap.shops[0]

    def _give_up_on_shop(self, shop: Shop, context: Context | None, reason: str) -> None:
        """Stop this shop for the rest of the run, keeping its bookmark where it was.

        A newest-first stream that stopped halfway has seen the newest records but not the older
        changes, so its unfinished progress must not become the bookmark.
        """
        self.tap.record_failure(shop, redact(reason, self.tap.secrets))
        self.get_context_state(context).pop("progress_markers", None)

    def _prepare(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        try:
            if self.account_scoped and context:
                record["account_id"] = context["account_id"]
            if self.replication_key:
                record[self.replication_key] = parse_timestamp(
                    record.get(self.replication_key), self.replication_key
                )
            self._coerce_numbers(record)
            for name in self.kinded_fields:
                for item in record.get(name) or ():
                    if isinstance(item, dict):
                        item.setdefault(jsonapi.KIND, None)
        except RecordValueError as error:
            where = f"account {context['account_id']}, " if context else ""
            msg = f"{self.name} record {record.get('id')!r} ({where}path {self.path}): {error}"
            raise BigCartelAPIError(msg, 200) from error
        return record

    # Errors and retries

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetriableAPIError(self._describe(response), response)
        if status in (401, 403):
            raise ShopUnavailableError(
                f"{self.name}: Big Cartel refused the credentials ({status} {response.reason}): "
                "the access token was revoked, the shop deauthorized the app, or the password "
                f"changed. API said: {self._api_words(response)}",
                status,
            )
        if status == 404 and self.account_scoped:
            raise ShopUnavailableError(
                f"{self.name}: {self._path_of(response)} was not found (404): the account does "
                "not exist or was closed.",
                status,
            )
        if status >= 400:
            raise BigCartelAPIError(self._describe(response), status)

    def _describe(self, response: requests.Response) -> str:
        return redact(
            f"{self.name}: {response.request.method} {self._path_of(response)} answered "
            f"{response.status_code} {response.reason}: {self._api_words(response)}",
            self.tap.secrets,
        )

    @staticmethod
    def _path_of(response: requests.Response) -> str:
        return urlparse(response.url).path

    def _api_words(self, response: requests.Response) -> str:
        try:
            detail = jsonapi.error_detail(response.json())
        except ValueError:
            detail = None
        words = detail or response.text[:300] or "(empty body)"
        return redact(words, self.tap.secrets)

    def response_error_message(self, response: requests.Response) -> str:
        return self._describe(response)

    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:
        return self.tap.retry_policy.wait_times()

    def backoff_jitter(self, value: float) -> float:
        """The policy's waits are already jittered; add nothing on top."""
        return value

    def backoff_max_tries(self) -> int:
        return self.tap.retry_policy.max_retries + 1

    def backoff_handler(self, details: Details) -> None:
        error = details.get("exception")
        self.logger.warning(
            "%s: retrying in %.2fs after try %d: %s",
            self.name,
            details.get("wait") or 0.0,
            details.get("tries"),
            redact(str(error), self.tap.secrets) if error else "unknown error",
        )
