"""The HTTP base stream: headers, per-shop auth, loss-free paging, retries and clear errors."""

from __future__ import annotations

import decimal
import json
import typing as t
from collections.abc import Iterable
from datetime import datetime
from functools import cached_property
from urllib.parse import urlparse

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import HTTPRequest, PageContext

from bigcartel_core import jsonapi
from bigcartel_core.errors import BigCartelAPIError, ShopUnavailableError, redact
from bigcartel_core.jsonapi import JSONAPI
from bigcartel_core.retry import wait_times
from tap_bigcartel.coercion import RecordValueError, decimal_coercer, parse_timestamp
from tap_bigcartel.paging import AscendingSeekPager, DescendingPager, OffsetPager

if t.TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from bigcartel_core.auth import Shop
    from tap_bigcartel.tap import TapBigCartel

Pager = OffsetPager | AscendingSeekPager | DescendingPager
#: Singer's soft-delete column, set on delete records only.
DELETED_AT = "_sdc_deleted_at"
#: Partition state key of the deletes bookmark: an ISO time on the webhook store's clock.
DELETES_BOOKMARK = "deletes_received_before"


class BigCartelStream(RESTStream[dict]):
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
    primary_keys: t.ClassVar[list[str]] = ["account_id", "id"]
    #: A STATE message every 500 records (the SDK's default is 10,000), so a run killed halfway
    #: through a large shop resumes close to where it stopped.
    STATE_MSG_FREQUENCY = 500
    #: Nested values are already JSON-ready when a record leaves ``_prepare`` (API strings and
    #: numbers, exact decimals checked finite), so the SDK only needs to conform the top level;
    #: its recursive pass over every item of every order was half of the tap's CPU time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    _tap: TapBigCartel

    @property
    def url_base(self) -> str:
        return f"{self.config['api_url'].rstrip('/')}/v1"

    @property
    def user_agent(self) -> str:  # type: ignore[override]
        return self._tap.user_agent

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
    def partitions(self) -> list[dict] | None:
        if not self.account_scoped:
            return None
        return [{"account_id": shop.account_id} for shop in self._tap.shops]

    @cached_property
    def _coerce_numbers(self) -> t.Callable[[dict], None]:
        return decimal_coercer(self.schema)

    # Requests

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        return dict(next_page_token or {})

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
        return OffsetPager(limit)

    def get_new_paginator(self) -> None:
        """Paging is driven by :meth:`request_records`, which sees the records of each page."""
        return None

    def get_records(self, context: Context | None) -> Iterable[dict]:
        yield from self.request_records(context)
        if self.deletes_topic and self._tap.webhooks is not None:
            yield from self._delete_records(context)

    def request_records(self, context: Context | None) -> Iterable[dict]:
        shop = self._active_shop(context)
        if shop is None:
            return
        pager = self.new_pager(context)
        send = self.request_decorator(self._request)
        try:
            with self.get_http_request_counter() as counter:
                counter.with_context(context)
                while not pager.finished:
                    request = self.get_http_request(
                        page=PageContext(stream_context=context, next_page_token=pager.params())
                    )
                    prepared = self.build_prepared_request(
                        method=request.method,
                        url=request.url,
                        params=request.encode_params(),
                        headers=request.headers,
                        auth=shop.auth,
                    )
                    response = send(prepared, context)
                    counter.increment()
                    document = json.loads(response.content, parse_float=decimal.Decimal)
                    page = [self._prepare(record, context) for record in jsonapi.records(document)]
                    yield from pager.accept(page, jsonapi.total_count(document))
        except ShopUnavailableError as error:
            self._give_up_on_shop(shop, context, str(error))
        except (RetriableAPIError, requests.RequestException) as error:
            if not self.account_scoped:
                raise
            self._give_up_on_shop(shop, context, f"{self.name}: retries exhausted: {error}")

    def _delete_records(self, context: Context | None) -> Iterable[dict]:
        """One delete record per delete the receiver heard of since this shop's own deletes
        bookmark, which moves only once they are all emitted.

        The bookmark is the store's ``received_at``, our clock, so it is kept apart from the
        ``updated_at`` bookmark, which is Big Cartel's.
        """
        assert self.deletes_topic is not None and self._tap.webhooks is not None
        shop = self._active_shop(context)
        if shop is None:
            return
        state = self.get_context_state(context)
        stored = state.get(DELETES_BOOKMARK)
        since = parse_timestamp(stored, DELETES_BOOKMARK) if stored else self._start_date()
        cutoff = self._tap.webhooks.cutoff
        if since is not None and since >= cutoff:
            return
        for delete in self._tap.webhooks.deletes(self.deletes_topic, str(shop.account_id), since):
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

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """Delete records carry no ``updated_at``; their bookmark is set in _delete_records.

        Overrides a private SDK hook (singer-sdk is pinned to 0.54.x) only to spare the log a
        "New replication value is null" warning per delete; the SDK would skip them anyway.
        """
        if latest_record.get(DELETED_AT) is None:
            super()._increment_stream_state(latest_record, context=context)

    def _active_shop(self, context: Context | None) -> Shop | None:
        """The shop to read for, or None: every shop is disconnected, or this one failed."""
        if not self._tap.shops:
            return None
        shop = self._shop(context)
        return None if shop.account_id in self._tap.failed_shops else shop

    def _shop(self, context: Context | None) -> Shop:
        if context and context.get("account_id"):
            return self._tap.shop(context["account_id"])
        return self._tap.shops[0]

    def _give_up_on_shop(self, shop: Shop, context: Context | None, reason: str) -> None:
        """Stop this shop for the rest of the run, keeping its bookmark where it was.

        A newest-first stream that stopped halfway has seen the newest records but not the older
        changes, so its unfinished progress must not become the bookmark.
        """
        self._tap.record_failure(shop, redact(reason, self._tap.secrets))
        self.get_context_state(context).pop("progress_markers", None)

    def _prepare(self, record: dict, context: Context | None) -> dict:
        try:
            if self.account_scoped and context:
                record["account_id"] = context["account_id"]
            if self.replication_key:
                record[self.replication_key] = parse_timestamp(
                    record.get(self.replication_key), self.replication_key
                )
            self._coerce_numbers(record)
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
            self._tap.secrets,
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
        return redact(words, self._tap.secrets)

    def response_error_message(self, response: requests.Response) -> str:
        return self._describe(response)

    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:
        return wait_times(
            float(self.config["backoff_factor"]), float(self.config["max_retry_wait"])
        )

    def backoff_jitter(self, value: float) -> float:
        """:func:`bigcartel_core.retry.wait_times` already jitters; add nothing on top."""
        return value

    def backoff_max_tries(self) -> int:
        return int(self.config["max_retries"]) + 1

    def backoff_handler(self, details: Details) -> None:
        error = details.get("exception")
        self.logger.warning(
            "%s: retrying in %.2fs after try %d: %s",
            self.name,
            details.get("wait") or 0.0,
            details.get("tries"),
            redact(str(error), self._tap.secrets) if error else "unknown error",
        )
