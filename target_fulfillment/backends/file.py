"""File exchange with a warehouse (3PL): order files out, shipment confirmation files in.

Many warehouses collect order files from a folder (often over SFTP), delete what they collected,
and answer with shipment confirmation files in another folder. This backend needs no service.

Folders, created when missing. Names starting with ``.`` are the target's own and the warehouse
must ignore them::

    <file_outbox_dir>/<key>.json              an order waiting to be collected (and deleted)
    <file_outbox_dir>/<key>.cancel.json       a request to cancel an order already collected
    <file_outbox_dir>/.sent/<key>.json        the last version of each order handed over
    <file_outbox_dir>/.sent/<key>.*.json      working copies while a file is placed, and an
                                              order taken back before collection (withdrawn)
    <file_inbox_dir>/<name>.json              a shipment confirmation from the warehouse
    <file_inbox_dir>/.processed/<key>.<name>  a confirmation the target has recorded
    <file_inbox_dir>/.rejected/<name>         an unreadable confirmation, with <name>.error.txt

Every file appears whole: it is written under a hidden name, flushed to disk, then renamed. The
warehouse must write its confirmations the same way (a hidden name, or one not ending in
``.json``, then a rename), because a confirmation read half-written is rejected. Order files and
cancellation requests both end in ``.json``; their ``format`` tells them apart.

Order file, format ``bigcartel-fulfillment/order@1``. Amounts are decimal strings, so they stay
exact; times are ISO-8601 with an offset; ``null`` where Big Cartel has nothing::

    {
      "format": "bigcartel-fulfillment/order@1",
      "key": "bigcartel-123-ABCD-1001",
      "account_id": "123",
      "order_id": "ABCD-1001",
      "order_date": "2024-05-01T17:15:00+00:00",
      "payment_date": "2024-05-01T17:16:00+00:00",
      "customer_email": "ada@example.com",
      "customer_note": "Please leave it at the back door.",
      "currency": "USD",
      "amount_paid": "30.00",
      "shipping_amount": "5.00",
      "ship_to": {"name": "Ada Buyer", "company": null, "street1": "1 Main St",
                  "street2": null, "city": "Portland", "state": "OR", "postal_code": "97201",
                  "country": "US", "phone": null, "email": null},
      "bill_to": {... as ship_to ...},
      "items": [{"line_item_key": "5501", "sku": "TEE-M", "name": "Tee", "quantity": 2,
                 "unit_price": "12.50", "option_name": "Medium"}],
      "shipping": {"code": "DOMESTIC_DEFAULT", "carrier_code": "usps",
                   "service_code": "usps_priority_mail"}
    }

Fields added to ``order@1`` later, which a reader of the first documents may ignore (the
format keeps its name: no field changed its meaning): ``customer_note``, the buyer's note
(``null`` when none; control characters dropped, at most 1,000 characters); per item
``weight``, one unit's ``{"value": "<decimal>", "unit": "ounce|pound|gram|kilogram"}``, and
``customs`` ``{"description", "hs_code", "country_of_origin"}`` (international orders only);
``package_weight``, the items' weights times their quantities summed, in their unit when they
share one and in grams otherwise (``null`` unless every item has a weight); and ``customs``,
``{"contents", "non_delivery"}`` on an international order (``null`` otherwise). All come from
the ``product_attributes`` and ``customs_*`` settings; each is ``null`` when not configured.

A new file with the same key replaces the order while it waits; once the warehouse has collected
it the exchange has no update channel, and updates are refused with ``OrderLockedError``.

Cancellation request, format ``bigcartel-fulfillment/cancel@1``, written only for an order
already collected (one still waiting is simply taken back)::

    {"format": "bigcartel-fulfillment/cancel@1", "key": "bigcartel-123-ABCD-1001",
     "account_id": "123", "order_id": "ABCD-1001", "requested_at": "2024-05-02T09:00:00+00:00"}

Shipment confirmation, format ``bigcartel-fulfillment/shipment@1``, one file per parcel. Only
``format`` and ``order_key`` are required; an item needs ``line_item_key`` or ``sku``; no items
means every unit not yet shipped. ``shipment_id``, the warehouse's id of the parcel, makes a
confirmation sent twice (in two files) one shipment, and lets a later file void it
(``"voided": true``); without it each file is a shipment of its own::

    {"format": "bigcartel-fulfillment/shipment@1", "order_key": "bigcartel-123-ABCD-1001",
     "shipment_id": "PARCEL-77", "carrier": "USPS", "tracking_number": "9400100000000000000000",
     "tracking_url": "https://tools.usps.com/...", "shipped_at": "2024-05-02T15:00:00Z",
     "items": [{"line_item_key": "5501", "sku": "TEE-M", "quantity": 2}]}

    {"format": "bigcartel-fulfillment/shipment@1", "order_key": "bigcartel-123-ABCD-1001",
     "shipment_id": "PARCEL-77", "voided": true}
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bigcartel_core import timestamps
from bigcartel_core.timestamps import as_utc
from target_fulfillment.backends.base import BackendError, OrderLockedError, Submission
from target_fulfillment.domain import (
    FulfillmentOrder,
    RemoteOrder,
    RemoteStatus,
    Shipment,
    ShippedItem,
    Weight,
    decimal_text,
    total_weight,
)

ORDER_FORMAT = "bigcartel-fulfillment/order@1"
CANCEL_FORMAT = "bigcartel-fulfillment/cancel@1"
SHIPMENT_FORMAT = "bigcartel-fulfillment/shipment@1"

# Keys become file names: no separators, not hidden, and no dots, which the suffixes below use.
# The length leaves room for those suffixes and temporary names within 255 bytes.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,179}")
# A warehouse's parcel id. No dots: a file's shipment is known by its name, which ends ".json",
# so the id of a parcel ("shipment:<id>") and of a file can never be the same.
_SHIPMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:/#-]{0,127}")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Paths:
    """Where one order's files live; see ``FileBackend._complete`` for how they move."""

    placed: Path  # <outbox>/<key>.json: what the warehouse collects
    cancel_request: Path  # <outbox>/<key>.cancel.json
    record: Path  # .sent/<key>.json: the version handed over
    next: Path  # .sent/<key>.next.json: the version being handed over, until it is in place
    staged: Path  # .sent/<key>.staged.json: the same, renamed into the outbox to place it
    claimed: Path  # .sent/<key>.claimed.json: the version being replaced, taken from the outbox
    withdrawn: Path  # .sent/<key>.withdrawn.json: an order taken back before collection


class FileBackend:
    """Orders as files in ``outbox_dir``, confirmations as files in ``inbox_dir``.

    Safe for the caller's thread pool: one lock serializes the file moves of every order.
    """

    name = "file"
    #: Orders placed per ``submit_batch``: the directory fsyncs are shared by a batch.
    batch_size = 100

    def __init__(self, outbox_dir: str | os.PathLike[str], inbox_dir: str | os.PathLike[str]):
        self.outbox = Path(outbox_dir)
        self.inbox = Path(inbox_dir)
        self._sent = self.outbox / ".sent"
        self._processed = self.inbox / ".processed"
        self._rejected = self.inbox / ".rejected"
        for folder in (self._sent, self._processed, self._rejected):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        #: The inbox files of each shipment the last ``shipments`` call read.
        self._files: dict[str, list[Path]] = {}

    def __repr__(self) -> str:
        return f"FileBackend(outbox={str(self.outbox)!r}, inbox={str(self.inbox)!r})"

    def submit_batch(self, submissions: Sequence[Submission]) -> dict[str, str | BackendError]:
        """Place each order file, or replace the one still waiting; the key is the backend id.

        The batch goes through the steps of ``_complete`` together, each step's names made
        durable (one directory fsync) before the next step starts, so a crash leaves every
        order's files in a state ``_complete`` settles, as for a single order. The cost kept:
        two file fsyncs per order (its two copies); the directory fsyncs are per batch.
        """
        answers: dict[str, str | BackendError] = {}
        batch: list[tuple[str, _Paths, bytes]] = []
        with self._lock:
            for submission in submissions:
                key = submission.order.key
                try:
                    paths = self._paths(key)
                except BackendError as error:
                    answers[key] = error
                    continue
                self._complete(paths, new_order=False)
                if paths.record.exists() and not paths.placed.exists():
                    answers[key] = OrderLockedError(
                        f"{key}: {self._gone(paths)}; the file exchange cannot update it"
                    )
                    continue
                batch.append((key, paths, _dump(order_document(submission.order))))
            if not batch:
                return answers
            # staged before next: "next without staged" means placed (see _complete).
            _write_all([(paths.staged, data) for _, paths, data in batch], self._sent)
            _write_all([(paths.next, data) for _, paths, data in batch], self._sent)
            placing, updates = [], False
            for key, paths, _ in batch:
                # An update first takes the waiting version out; gone means collected.
                if paths.record.exists():
                    updates = True
                    if not _rename(paths.placed, paths.claimed):
                        _unlink(paths.next, paths.staged)
                        answers[key] = OrderLockedError(
                            f"{key}: collected by the warehouse while it was being updated;"
                            " the warehouse has the previous version"
                        )
                        continue
                placing.append((key, paths))
            if updates:
                _fsync_dir(self.outbox, self._sent)
            for _, paths in placing:
                _rename(paths.staged, paths.placed)
            _fsync_dir(self.outbox, self._sent)
            for _, paths in placing:
                _rename(paths.next, paths.record)
            _fsync_dir(self._sent)
            for key, paths in placing:
                answers[key] = key
                if updates:
                    paths.claimed.unlink(missing_ok=True)
            if updates:
                _fsync_dir(self._sent)
        return answers

    def lookup_many(self, keys: Sequence[str]) -> dict[str, RemoteOrder]:
        """What became of the orders handed over, even after the warehouse collected them."""
        found = {}
        with self._lock:
            for key in keys:
                paths = self._paths(key)
                self._complete(paths, new_order=False)
                if not paths.record.exists():
                    continue
                status: RemoteStatus = "open"
                if self._shipped(key):
                    status = "shipped"
                elif paths.withdrawn.exists() or paths.cancel_request.exists():
                    status = "cancelled"
                found[key] = RemoteOrder(key=key, backend_order_id=key, status=status)
        return found

    def cancel(self, key: str) -> bool:
        """Take back a waiting order (True), or ask the warehouse to cancel a collected one.

        The request may not be honoured, so it returns False: the caller reports the order.
        None is written for an order already shipped. An order never handed over has nothing
        to cancel: True.
        """
        paths = self._paths(key)
        with self._lock:
            self._complete(paths, new_order=False)
            if not paths.record.exists() or paths.withdrawn.exists():
                return True
            if _move(paths.placed, paths.withdrawn):
                return True
            if not paths.cancel_request.exists() and not self._shipped(key):
                sent = json.loads(paths.record.read_bytes())
                request = {
                    "format": CANCEL_FORMAT,
                    "key": key,
                    "account_id": sent.get("account_id"),
                    "order_id": sent.get("order_id"),
                    "requested_at": timestamps.now().isoformat(),
                }
                _write_atomic(paths.cancel_request, _dump(request))
        return False

    def shipments(self, since: dt.datetime | None) -> list[Shipment]:
        """Every confirmation waiting in the inbox; ``since`` is unused, the inbox is the queue.

        An unreadable confirmation is moved to ``.rejected/`` with a note and logged, so one bad
        file never blocks the others.
        """
        found = []
        files: dict[str, list[Path]] = {}
        for path in sorted(self.inbox.iterdir()):
            if path.name.startswith(".") or path.suffix != ".json" or not path.is_file():
                continue
            try:
                shipment = read_confirmation(path.read_bytes(), source_id=path.name)
            except ValueError as error:
                self._reject(path, str(error))
                continue
            found.append(shipment)
            files.setdefault(shipment.source_id, []).append(path)
        with self._lock:
            self._files = files
        return found

    def acknowledge(self, shipment: Shipment) -> None:
        """Move the shipment's files to ``.processed/``, named by order key so lookup finds
        them."""
        with self._lock:
            for path in self._files.pop(shipment.source_id, []):
                _move(path, self._processed / f"{shipment.key}.{path.name}")

    def close(self) -> None:
        """Nothing to release: each file is closed as soon as it is written."""

    # How an order file moves, so that a crash at any point leaves files that say one thing.
    #
    # A submit writes the new version twice into .sent/, ``staged`` then ``next``; takes the
    # waiting version back out of the outbox (``claimed``) if there is one; renames ``staged``
    # into the outbox (the order is now placed); renames ``next`` over ``record`` (it is now
    # recorded); and drops ``claimed``. As placing is a rename out of .sent/, ``staged`` exists
    # exactly until the order is placed. Claiming by rename, rather than overwriting in place,
    # notices a file the warehouse collected meanwhile instead of putting it back, which would
    # have the warehouse receive the order twice.
    #
    # Before anything else touches a key, ``_complete`` settles what a crash left:
    # - ``staged`` without ``next``: staging was cut short, undo it;
    # - ``staged`` with the slot held (``claimed``) or free to take (the waiting version is
    #   still there): finish, so the warehouse gets the version the caller recorded as sent;
    # - ``staged`` of a new order, or of an update whose waiting file was collected: undo; for
    #   a new order lookup then says the warehouse never had it, and the caller decides again;
    # - ``next`` without ``staged``: it was placed, so record it;
    # - ``claimed`` alone: left by a finished submit, drop it.

    def _complete(self, paths: _Paths, *, new_order: bool) -> bool:
        """Carry a staged version into the outbox and the record; False when it was undone."""
        if paths.staged.exists():
            if not (paths.next.exists() and self._take_slot(paths, new_order=new_order)):
                # next first: "next without staged" would read as placed.
                _unlink(paths.next, paths.staged)
                return False
            _move(paths.staged, paths.placed)
        if paths.next.exists():
            _move(paths.next, paths.record)
        _unlink(paths.claimed)
        return True

    @staticmethod
    def _take_slot(paths: _Paths, *, new_order: bool) -> bool:
        """Whether the staged version may be placed without the warehouse getting the order twice.

        An update must first take the waiting version out of the outbox; if it is gone, the
        warehouse has it. A new order may be placed only by a submit, never by recovery.
        """
        if paths.claimed.exists():
            return True
        if paths.record.exists():
            return _move(paths.placed, paths.claimed)
        return new_order

    def _paths(self, key: str) -> _Paths:
        if not _KEY.fullmatch(key):
            raise BackendError(f"order key {key!r} cannot be used as a file name")
        return _Paths(
            placed=self.outbox / f"{key}.json",
            cancel_request=self.outbox / f"{key}.cancel.json",
            record=self._sent / f"{key}.json",
            next=self._sent / f"{key}.next.json",
            staged=self._sent / f"{key}.staged.json",
            claimed=self._sent / f"{key}.claimed.json",
            withdrawn=self._sent / f"{key}.withdrawn.json",
        )

    def _shipped(self, key: str) -> bool:
        # Keys have no dots, so "<key>.*" cannot match another key's confirmations.
        return any(self._processed.glob(f"{key}.*"))

    @staticmethod
    def _gone(paths: _Paths) -> str:
        if paths.withdrawn.exists():
            return "cancelled before the warehouse collected it"
        if paths.cancel_request.exists():
            return "collected by the warehouse, and a cancellation was requested"
        return "collected by the warehouse"

    def _reject(self, path: Path, reason: str) -> None:
        target = self._rejected / path.name
        _write_atomic(self._rejected / f"{path.name}.error.txt", f"{reason}\n".encode())
        _move(path, target)
        logger.error("Rejected shipment confirmation %s: %s (moved to %s)", path, reason, target)


def order_document(order: FulfillmentOrder) -> dict[str, Any]:
    """The ``bigcartel-fulfillment/order@1`` document of an order (see the module docstring)."""
    return {
        "format": ORDER_FORMAT,
        "key": order.key,
        "account_id": order.account_id,
        "order_id": order.order_id,
        "order_date": as_utc(order.order_date).isoformat(),
        "payment_date": as_utc(order.payment_date).isoformat() if order.payment_date else None,
        "customer_email": order.customer_email,
        "customer_note": order.customer_note,
        "currency": order.currency,
        "amount_paid": decimal_text(order.amount_paid),
        "shipping_amount": decimal_text(order.shipping_amount),
        "ship_to": dataclasses.asdict(order.ship_to),
        "bill_to": dataclasses.asdict(order.bill_to),
        "items": [
            {
                "line_item_key": item.line_item_key,
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price": decimal_text(item.unit_price),
                "option_name": item.option_name,
                "weight": _weight(item.weight),
                "customs": dataclasses.asdict(item.customs) if item.customs else None,
            }
            for item in order.items
        ],
        "package_weight": _weight(total_weight(order.items)),
        "customs": dataclasses.asdict(order.customs) if order.customs else None,
        "shipping": {
            "code": order.shipping_code,
            "carrier_code": order.carrier_code,
            "service_code": order.service_code,
        },
    }


def _weight(weight: Weight | None) -> dict[str, str] | None:
    return {"value": decimal_text(weight.value), "unit": weight.unit} if weight else None


def read_confirmation(data: bytes, source_id: str) -> Shipment:
    """Parse a ``bigcartel-fulfillment/shipment@1`` file; ``ValueError`` says what is wrong."""
    document = json.loads(data)
    if not isinstance(document, dict) or document.get("format") != SHIPMENT_FORMAT:
        raise ValueError(f'"format" is not "{SHIPMENT_FORMAT}"')
    key = document.get("order_key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f'"order_key" is missing or not an order key: {key!r}')
    shipped_at = _text(document.get("shipped_at"), "shipped_at")
    try:
        shipped = timestamps.parse(shipped_at) if shipped_at else None
    except ValueError:
        raise ValueError(f'"shipped_at" is not an ISO-8601 time: {shipped_at!r}') from None
    items = document.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ValueError('"items" is not a list')
    shipment_id = document.get("shipment_id")
    if shipment_id is not None and (
        not isinstance(shipment_id, str) or not _SHIPMENT_ID.fullmatch(shipment_id)
    ):
        raise ValueError(f'"shipment_id" is not a parcel id: {shipment_id!r}')
    voided = document.get("voided", False)
    if not isinstance(voided, bool):
        raise ValueError(f'"voided" is not true or false: {voided!r}')
    if voided and shipment_id is None:
        raise ValueError('"voided" needs the "shipment_id" of the shipment it voids')
    return Shipment(
        key=key,
        carrier=_text(document.get("carrier"), "carrier"),
        tracking_number=_text(document.get("tracking_number"), "tracking_number"),
        tracking_url=_text(document.get("tracking_url"), "tracking_url"),
        shipped_at=shipped,
        items=tuple(_shipped_item(item, f"items[{index}]") for index, item in enumerate(items)),
        source_id=f"shipment:{shipment_id}" if shipment_id else source_id,
        voided=voided,
    )


def _shipped_item(item: Any, where: str) -> ShippedItem:
    if not isinstance(item, dict):
        raise ValueError(f'"{where}" is not an object')
    line_item_key = item.get("line_item_key")
    if isinstance(line_item_key, int) and not isinstance(line_item_key, bool):
        # Big Cartel ids are numeric strings; a warehouse may well write them as numbers.
        line_item_key = str(line_item_key)
    line_item_key = _text(line_item_key, f"{where}.line_item_key")
    sku = _text(item.get("sku"), f"{where}.sku")
    if line_item_key is None and sku is None:
        raise ValueError(f'"{where}" has neither "line_item_key" nor "sku"')
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValueError(f'"{where}.quantity" is not a positive whole number: {quantity!r}')
    return ShippedItem(line_item_key=line_item_key, sku=sku, quantity=quantity)


def _text(value: Any, name: str) -> str | None:
    """A string field; empty counts as absent."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f'"{name}" is not a string: {value!r}')
    return value or None


def _dump(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so it never exists half-written and survives a power cut."""
    _write_all([(path, data)], path.parent)


def _write_all(files: list[tuple[Path, bytes]], folder: Path) -> None:
    """Write files of ``folder`` whole and durably, their names made durable by one fsync.

    The temporary names are hidden and end in ``.tmp``, so the warehouse skips them.
    ``open(x)`` rather than ``mkstemp``: a file gets the umask's permissions, not 0600, which a
    warehouse's own login could not read.
    """
    for path, data in files:
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temp, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    if files:
        _fsync_dir(folder)


def _move(source: Path, target: Path) -> bool:
    """Rename atomically and durably; False when ``source`` is gone (the warehouse took it)."""
    if not _rename(source, target):
        return False
    _fsync_dir(target.parent, source.parent)
    return True


def _rename(source: Path, target: Path) -> bool:
    """Rename atomically, not yet durably; False when ``source`` is gone."""
    try:
        os.replace(source, target)
    except FileNotFoundError:
        return False
    return True


def _unlink(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            _fsync_dir(path.parent)


def _fsync_dir(*folders: Path) -> None:
    """Make new, renamed and removed names in these folders durable, not only file contents."""
    if os.name == "nt":  # Windows cannot open a directory to fsync it.
        return
    for folder in dict.fromkeys(folders):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
