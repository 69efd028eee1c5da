"""ShipStation API v1: orders go in with createorder; label shipments and shipped orders come out.

Exactly once rests on ``orderKey``, set to the order's key: createorder creates the order with
that key, or replaces it while it is open (shipped and cancelled orders are locked). A createorder
whose answer is lost may or may not have stored the order, so it raises ``AmbiguousSubmitError``
and is not retried here; the caller settles it with ``lookup``, which finds the order by key.

Requests: one ``requests.Session`` per thread, as a Session is not documented as thread-safe.
urllib3's ``Retry`` retries only what cannot store an order twice: connections that failed before
sending, 5xx answers and read timeouts of GETs, and 503 (not taken) of createorder. The rate
budget (``X-Rate-Limit-*``, about 40 requests a minute per account) is shared by all threads:
when an answer says it is spent, every thread waits for the reset, and a 429 is retried after
that wait.

Times: ShipStation reads and writes timestamps without an offset, in Pacific time; they are
converted both ways here (a naive datetime from the caller is UTC).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.util.retry import Retry

from bigcartel_core import timestamps
from bigcartel_core.errors import redact
from bigcartel_core.timestamps import as_utc
from target_fulfillment.backends.base import (
    AmbiguousSubmitError,
    BackendError,
    OrderLockedError,
)
from target_fulfillment.domain import (
    Address,
    FulfillmentOrder,
    LineItem,
    RemoteOrder,
    RemoteStatus,
    Shipment,
    ShippedItem,
    decimal_text,
)

DEFAULT_API_URL = "https://ssapi.shipstation.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
# ShipStation's window is a minute, so a reset never needs longer; the cap guards against a
# malformed header parking the run.
DEFAULT_RATE_LIMIT_MAX_WAIT = 60.0
PAGE_SIZE = 500  # the documented maximum
BACKOFF_MAX = 30.0
CREATE_ORDER = "/orders/createorder"
USER_AGENT = "target-fulfillment (bigcartel-fulfillment)"

OPEN_STATUSES = frozenset({"awaiting_payment", "awaiting_shipment", "on_hold"})
KEY_PREFIX = "bigcartel-"
# bigcartel-<account_id>-<order_id>: account ids are digits, order ids may contain "-".
_KEY = re.compile(r"bigcartel-([^-]+)-(.+)")

_USPS = ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}")
#: carrierCode → (the carrier's name for the buyer, its tracking page); stamps_com labels are USPS.
CARRIERS: dict[str, tuple[str, str]] = {
    "usps": _USPS,
    "stamps_com": _USPS,
    "ups": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl_express": (
        "DHL Express",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    ),
}

try:
    PACIFIC: dt.tzinfo = ZoneInfo("America/Los_Angeles")
except ZoneInfoNotFoundError:  # no tz database (Windows without tzdata): standard time only
    PACIFIC = dt.timezone(dt.timedelta(hours=-8), "PST")

logger = logging.getLogger(__name__)


class _RateBudget:
    """The account's request budget as the last answer reported it, shared by every thread."""

    def __init__(self, max_wait: float, sleep: Callable[[float], None]) -> None:
        self._max_wait = max_wait
        self._sleep = sleep
        self._lock = threading.Lock()
        self._resume_at = 0.0  # time.monotonic() before which no request is sent

    def wait(self) -> None:
        with self._lock:
            delay = self._resume_at - time.monotonic()
        if delay > 0:
            self._sleep(delay)

    def update(self, response: requests.Response) -> None:
        """Pause every thread until the window resets once an answer says the budget is spent."""
        remaining = _number(response.headers.get("X-Rate-Limit-Remaining"))
        if response.status_code != 429 and remaining != 0:
            return
        reset = _number(response.headers.get("X-Rate-Limit-Reset"))
        pause = self._max_wait if reset is None else min(max(reset, 0.0), self._max_wait)
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + pause)
        logger.info("ShipStation's rate budget is spent; pausing requests for %.1f s", pause)


class ShipStationBackend:
    """Orders in a ShipStation account, through API v1 with the account's key and secret."""

    name = "shipstation"

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        api_url: str = DEFAULT_API_URL,
        store_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = 1.0,
        rate_limit_max_wait: float = DEFAULT_RATE_LIMIT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._auth = (api_key, api_secret)
        self._api_url = api_url.rstrip("/")
        self._store_id = store_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._read_retry = _retry(max_retries, backoff_factor, "GET", {500, 502, 503, 504})
        # A createorder that was sent is never retried after a lost answer (read=False), nor
        # after a 5xx that may follow a stored order; 503 says the service did not take it.
        self._create_retry = _retry(max_retries, backoff_factor, "POST", {503}, read=False)
        self._budget = _RateBudget(rate_limit_max_wait, sleep)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ShipStationBackend(api_url={self._api_url!r}, store_id={self._store_id!r})"

    def submit(self, order: FulfillmentOrder) -> str:
        """Create or update the order with this key; ShipStation's orderId."""
        return self._create(_json_bytes(self._order_body(order)), order.key, order.order_id)

    def lookup(self, key: str) -> RemoteOrder | None:
        """The order with this key, by ShipStation's orderId; None when it never arrived."""
        found = self._find(key, _order_number(key))
        if found is None:
            return None
        return RemoteOrder(key=key, backend_order_id=str(found["orderId"]), status=_status(found))

    def shipments(self, since: dt.datetime | None) -> list[Shipment]:
        """Label shipments created since ``since``, and orders marked shipped without a label.

        Only orders whose key starts with ``bigcartel-``: an account holds other stores' too.
        """
        found: list[Shipment] = []
        labelled = set()
        params = {"includeShipmentItems": "true"}
        if since is not None:
            params["createDateStart"] = _pacific(since)
        for record in self._pages("/shipments", params, "shipments"):
            if record.get("voided") or not _ours(record):
                continue
            labelled.add(record.get("orderId"))
            found.append(_label_shipment(record))
        params = {"orderStatus": "shipped"}
        if since is not None:
            # modifyDateStart is in ShipStation's public docs though not in the project's notes;
            # the same bound is applied here, for an API that ignores it.
            params["modifyDateStart"] = _pacific(since)
        for order in self._pages("/orders", params, "orders"):
            if not _ours(order) or order.get("orderId") in labelled:
                continue
            modified = _time(order.get("modifyDate"))
            if since is not None and modified is not None and modified < as_utc(since):
                continue
            found.append(_marked_shipment(order))
        return found

    def acknowledge(self, shipment: Shipment) -> None:
        """Nothing to do: ShipStation keeps its shipments, ``since`` moves past them."""

    def cancel(self, key: str) -> bool:
        """Cancel an open order by sending it back with orderStatus ``cancelled``.

        v1 has no cancel call. False for a shipped order, and for a key not found: the order
        may still exist under a number edited in ShipStation, so a person should look.
        """
        found = self._find(key, _order_number(key))
        if found is None:
            logger.warning("%s: not found at ShipStation, so it could not be cancelled", key)
            return False
        status = found.get("orderStatus")
        if status == "cancelled":
            return True
        if status not in OPEN_STATUSES:
            return False
        # An update replaces the whole order, so it goes back as ShipStation has it.
        body = _json_bytes({**found, "orderStatus": "cancelled"})
        try:
            self._create(body, key, str(found.get("orderNumber") or ""))
        except OrderLockedError:
            return False
        return True

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _order_body(self, order: FulfillmentOrder) -> dict[str, Any]:
        body: dict[str, Any] = {
            "orderNumber": order.order_id,
            "orderKey": order.key,
            "orderDate": _pacific(order.order_date),
            "paymentDate": _pacific(order.payment_date) if order.payment_date else None,
            "orderStatus": "awaiting_shipment",
            "customerEmail": order.customer_email,
            "billTo": _address(order.bill_to),
            "shipTo": _address(order.ship_to),
            "items": [_item(item) for item in order.items],
            "amountPaid": order.amount_paid,
            "shippingAmount": order.shipping_amount,
            "requestedShippingService": order.shipping_code,
            "carrierCode": order.carrier_code,
            "serviceCode": order.service_code,
        }
        if self._store_id is not None:
            body["advancedOptions"] = {"storeId": self._store_id}
        return body

    def _create(self, body: bytes, key: str, order_number: str) -> str:
        """POST createorder once: the orderId, or an error saying whether the order may exist."""
        action = f"createorder for {key}"
        try:
            response = self._send("POST", CREATE_ORDER, body=body)
        except requests.RequestException as error:
            message = self._redact(f"ShipStation {action} failed: {error}")
            if _never_sent(error):
                raise BackendError(message) from error
            raise AmbiguousSubmitError(f"{message}; the order may exist") from error
        if response.status_code >= 500:
            raise AmbiguousSubmitError(f"{self._failure(response, action)}; the order may exist")
        if not response.ok:
            failure = self._failure(response, action)
            if response.status_code == 400:
                self._raise_if_locked(key, order_number, failure)
            raise BackendError(failure)
        try:
            return str(response.json()["orderId"])
        except (ValueError, KeyError, TypeError):
            raise AmbiguousSubmitError(
                f"ShipStation took {action} but answered without an orderId"
            ) from None

    def _raise_if_locked(self, key: str, order_number: str, failure: str) -> None:
        """Tell a locked order from an invalid one by looking, not by parsing the message."""
        try:
            found = self._find(key, order_number)
        except BackendError:
            return  # the refusal is still the error to report
        if found is not None and _status(found) != "open":
            raise OrderLockedError(
                f"{key} is {found.get('orderStatus')} at ShipStation (orderId {found['orderId']})"
                f" and takes no updates: {failure}"
            )

    def _find(self, key: str, order_number: str) -> dict[str, Any] | None:
        """The order with exactly this orderKey.

        v1 cannot filter by key, only by orderNumber (a prefix search), and other stores' orders
        in the account may share the number.
        """
        for order in self._pages("/orders", {"orderNumber": order_number}, "orders"):
            if order.get("orderKey") == key:
                return order
        return None

    def _pages(self, path: str, params: Mapping[str, str], field: str) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            document = self._get(path, {**params, "page": str(page), "pageSize": str(PAGE_SIZE)})
            yield from document.get(field) or []
            if page >= int(document.get("pages") or 0):
                return
            page += 1

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        action = f"GET {path}"
        try:
            response = self._send("GET", path, params=params)
        except requests.RequestException as error:
            raise BackendError(self._redact(f"ShipStation {action} failed: {error}")) from error
        if not response.ok:
            raise BackendError(self._failure(response, action))
        try:
            # Decimal keeps amounts exact when an order is sent back (cancel).
            document = response.json(parse_float=decimal.Decimal)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise BackendError(f"ShipStation {action} answered something other than an object")
        return document

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> requests.Response:
        """One call within the rate budget; a 429 is retried, other failures are the caller's."""
        attempts = 0
        while True:
            self._budget.wait()
            response = self._session().request(
                method,
                self._api_url + path,
                params=params,
                data=body,
                headers={"Content-Type": "application/json"} if body is not None else None,
                timeout=self._timeout,
            )
            self._budget.update(response)
            if response.status_code != 429 or attempts == self._max_retries:
                return response
            attempts += 1
            logger.warning(
                "ShipStation answered 429 to %s %s; retry %d of %d",
                method,
                path,
                attempts,
                self._max_retries,
            )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self._auth
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            session.mount("http://", HTTPAdapter(max_retries=self._read_retry))
            session.mount("https://", HTTPAdapter(max_retries=self._read_retry))
            # requests picks the adapter with the longest matching prefix.
            session.mount(self._api_url + CREATE_ORDER, HTTPAdapter(max_retries=self._create_retry))
            with self._sessions_lock:
                self._sessions.append(session)
            self._local.session = session
        return session

    def _failure(self, response: requests.Response, action: str) -> str:
        if response.status_code == 401:
            return (
                "ShipStation refused the API credentials (401): check the settings"
                " `shipstation_api_key` and `shipstation_api_secret`"
            )
        detail = _detail(response)
        return self._redact(f"ShipStation {action} answered {response.status_code}: {detail}")

    def _redact(self, text: str) -> str:
        return redact(text, self._auth)


def _retry(
    max_retries: int,
    backoff_factor: float,
    method: str,
    statuses: set[int],
    *,
    read: int | bool | None = None,
) -> Retry:
    return Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries if read is None else read,
        status=max_retries,
        other=0,
        allowed_methods=frozenset({method}),
        status_forcelist=frozenset(statuses),
        backoff_factor=backoff_factor,
        backoff_max=BACKOFF_MAX,
        # 429 is left to _RateBudget; an uncapped Retry-After on a 503 could park the run.
        respect_retry_after_header=False,
        raise_on_status=False,
    )


def _never_sent(error: requests.RequestException) -> bool:
    """Whether the request failed before reaching ShipStation, so nothing can have been stored.

    urllib3 gives up connecting with a MaxRetryError whose reason is a ConnectTimeoutError
    (NewConnectionError, for a refused connection, is one too). Anything else may have been sent.
    """
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)


def _order_number(key: str) -> str:
    """The Big Cartel order id in a key, which is the orderNumber at ShipStation."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"{key!r} is not a bigcartel-<account_id>-<order_id> key")
    return match.group(2)


def _status(order: Mapping[str, Any]) -> RemoteStatus:
    # Statuses other than these two (awaiting_*, on_hold, pending_fulfillment...) are orders
    # that exist and are not finished.
    status = order.get("orderStatus")
    if status == "shipped":
        return "shipped"
    if status == "cancelled":
        return "cancelled"
    return "open"


def _ours(record: Mapping[str, Any]) -> bool:
    key = record.get("orderKey")
    return isinstance(key, str) and key.startswith(KEY_PREFIX)


def _label_shipment(record: Mapping[str, Any]) -> Shipment:
    tracking = _text(record.get("trackingNumber"))
    carrier, tracking_url = _carrier(_text(record.get("carrierCode")), tracking)
    return Shipment(
        key=record["orderKey"],
        carrier=carrier,
        tracking_number=tracking,
        tracking_url=tracking_url,
        shipped_at=_time(record.get("shipDate")),
        items=_shipped_items(record.get("shipmentItems")),
        source_id=f"shipment-{record['shipmentId']}",
    )


def _marked_shipment(order: Mapping[str, Any]) -> Shipment:
    """An order marked shipped without a label: no tracking, and every item of the order."""
    return Shipment(
        key=order["orderKey"],
        carrier=None,
        tracking_number=None,
        tracking_url=None,
        shipped_at=_time(order.get("shipDate")),
        items=_shipped_items(order.get("items")),
        source_id=f"order-{order['orderId']}-shipped",
    )


def _shipped_items(items: list[Mapping[str, Any]] | None) -> tuple[ShippedItem, ...]:
    shipped = []
    for item in items or []:
        quantity = int(item.get("quantity") or 0)
        if quantity > 0:
            shipped.append(
                ShippedItem(
                    line_item_key=_text(item.get("lineItemKey")),
                    sku=_text(item.get("sku")),
                    quantity=quantity,
                )
            )
    return tuple(shipped)


def _carrier(code: str | None, tracking: str | None) -> tuple[str | None, str | None]:
    """The carrier's name and tracking page for common carriers, else the code and None."""
    known = CARRIERS.get((code or "").lower())
    if known is None:
        return code, None
    name, page = known
    return name, page.format(quote(tracking, safe="")) if tracking else None


def _address(address: Address) -> dict[str, Any]:
    return {
        "name": address.name,
        "company": address.company,
        "street1": address.street1,
        "street2": address.street2,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postal_code,
        "country": address.country,
        "phone": address.phone,
        "residential": None,  # unknown: ShipStation then decides by address validation
    }


def _item(item: LineItem) -> dict[str, Any]:
    return {
        "lineItemKey": item.line_item_key,
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unitPrice": item.unit_price,
        "options": [{"name": "Option", "value": item.option_name}] if item.option_name else [],
    }


def _pacific(moment: dt.datetime) -> str:
    """A time as ShipStation reads it: Pacific wall-clock time without an offset."""
    return as_utc(moment).astimezone(PACIFIC).replace(tzinfo=None).isoformat(timespec="seconds")


def _time(value: Any) -> dt.datetime | None:
    """A ShipStation timestamp or date (Pacific, no offset) in UTC; None when unreadable."""
    if not value:
        return None
    try:
        return timestamps.parse(str(value), naive_zone=PACIFIC)
    except ValueError:
        logger.warning("Ignoring an unreadable ShipStation time: %r", value)
        return None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _detail(response: requests.Response) -> str:
    """The API's own words: ``Message`` and the per-field ``ModelState`` of an ASP.NET answer."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return response.text[:300].strip() or response.reason
    message = str(document.get("Message") or "")
    model_state = document.get("ModelState")
    if isinstance(model_state, dict):
        fields = "; ".join(
            f"{field}: {' '.join(map(str, problems)) if isinstance(problems, list) else problems}"
            for field, problems in model_state.items()
        )
        message = f"{message} ({fields})" if message else fields
    return message or response.text[:300].strip()


def _json_bytes(value: Any) -> bytes:
    return _json_text(value).encode("utf-8")


def _json_text(value: Any) -> str:
    """JSON in which a Decimal is the exact number it holds; ``json`` would need a float."""
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if isinstance(value, Mapping):
        members = (f"{json.dumps(str(name))}:{_json_text(item)}" for name, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    return json.dumps(value)
