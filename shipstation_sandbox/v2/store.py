"""The V2 sandbox's account: shipments, labels, and the switch that fakes a lost answer.

One lock guards everything, so HTTP handlers on many threads and a test playing the warehouse
(``create_label``, ``split_shipment``, ``void_label``) see one consistent history. Every method
hands out copies.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipstation_sandbox.faults import LostAnswers
from shipstation_sandbox.v2 import dates
from shipstation_sandbox.v2.validation import (
    MAX_EXTERNAL_SHIPMENT_ID,
    Problem,
    check_shipment,
)

# Not settled by the docs: how V2 numbers shipments and labels. The migration guide says V1
# orderId N is shipment_id se-N and V1 shipmentId N is label_id se-N; distinct ranges make a
# shipment_id passed as a label_id stand out.
FIRST_SHIPMENT_NUMBER = 100_000_001
FIRST_LABEL_NUMBER = 500_000_001

# Not settled by the docs: what a label names when neither the control call nor the shipment
# does.
DEFAULT_CARRIER_ID = "se-1000001"
DEFAULT_CARRIER_CODE = "stamps_com"
DEFAULT_SERVICE_CODE = "usps_priority_mail"

# Fields the server owns: a create or update never sets them from the body (notes A5 lists
# shipment_id, created_at, modified_at, shipment_status, tags and total_weight as unchangeable).
SERVER_FIELDS = ("shipment_id", "created_at", "modified_at", "tags", "total_weight")
# Statuses in which a shipment has no label yet and may change (notes A5: "before a label is
# bought"). Not settled by the docs: whether "processing" allows an update; it does here, since
# only label_purchased and cancelled are named as final.
OPEN_STATUSES = ("pending", "processing")

# Not settled by the docs: total_weight's unit when packages mix units; it is then in ounces.
_OUNCES_PER = {"ounce": 1.0, "pound": 16.0, "gram": 0.03527396195, "kilogram": 35.27396195}


class ShipmentNotFoundError(LookupError):
    """No shipment has the given shipment_id or external_shipment_id."""


class LabelNotFoundError(LookupError):
    """No label has the given label_id."""


class InvalidStatusError(Exception):
    """The shipment or label is in a status that does not allow the change."""


class ShipmentInvalidError(ValueError):
    """An update body has problems; ``problems`` lists them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems[0].message if problems else "The shipment is invalid.")
        self.problems = list(problems)


class ConflictError(ValueError):
    """A request would break a uniqueness or immutability rule (error_code identifier_conflict)."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


@dataclass
class BatchResult:
    """What one create call did: the answer entries, their problems, the number created."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    problems: list[list[Problem]] = field(default_factory=list)
    created: int = 0

    @property
    def has_errors(self) -> bool:
        return any(self.problems)


class ShipStationV2Store:
    """Thread-safe in-memory ShipStation V2 account: the state behind the HTTP routes.

    ``clock`` gives the current time (aware); tests pass one to control created_at/modified_at.
    """

    def __init__(self, clock: Callable[[], datetime] = dates.utc_now) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._shipments: dict[str, dict[str, Any]] = {}
        self._ids_by_external: dict[str, str] = {}
        self._labels: dict[str, dict[str, Any]] = {}
        self._next_shipment = itertools.count(FIRST_SHIPMENT_NUMBER)
        self._next_label = itertools.count(FIRST_LABEL_NUMBER)
        self._lost_answers = LostAnswers()

    # -- shipments -----------------------------------------------------------------------------

    def create_shipments(self, payloads: Sequence[Any]) -> BatchResult:
        """Apply one ``POST /v2/shipments`` batch: each valid shipment is created.

        Returns the answer's ``shipments`` entries in request order (each with its own
        ``errors``), each entry's problems, and how many were created. An invalid shipment, or
        one whose external_shipment_id is taken (by an earlier shipment or earlier in the same
        batch), gets its errors and is not created; the others are.
        """
        batch = BatchResult()
        with self._lock:
            for payload in payloads:
                fields, problems = check_shipment(payload)
                external_id = fields.get("external_shipment_id")
                if not problems and external_id in self._ids_by_external:
                    # Not settled by the docs: the text and placement of a duplicate's error
                    # (notes A3: "posting a duplicate returns an error"). It is this shipment's
                    # own errors entry; the rest of the batch goes on.
                    problems = [
                        Problem(
                            "identifier_conflict",
                            "external_shipment_id",
                            f"A shipment with external_shipment_id '{external_id}' already exists.",
                        )
                    ]
                batch.problems.append(problems)
                if problems:
                    batch.entries.append(_refused_entry(fields, problems))
                    continue
                shipment = self._new_shipment(fields)
                batch.entries.append(
                    {**copy.deepcopy(shipment), "errors": [], "address_validation": None}
                )
                batch.created += 1
        return batch

    def _new_shipment(self, fields: dict[str, Any]) -> dict[str, Any]:
        shipment_id = f"se-{next(self._next_shipment)}"
        moment = dates.format_datetime(self._clock())
        # The docs: without external_shipment_id the system fills it from the shipment_id.
        external_id = fields.get("external_shipment_id") or shipment_id
        shipment = _shipment_record(
            fields,
            shipment_id=shipment_id,
            external_shipment_id=external_id,
            status=fields.get("shipment_status") or "pending",
            created_at=moment,
            modified_at=moment,
            tags=[],
        )
        self._shipments[shipment_id] = shipment
        self._ids_by_external[external_id] = shipment_id
        return shipment

    def shipments(self) -> list[dict[str, Any]]:
        """Every shipment, oldest first."""
        with self._lock:
            return [copy.deepcopy(shipment) for shipment in self._shipments.values()]

    def get_shipment(self, shipment_id: str) -> dict[str, Any]:
        """The shipment with this shipment_id; raises ``ShipmentNotFoundError``."""
        with self._lock:
            return copy.deepcopy(self._shipment(shipment_id))

    def get_by_external_id(self, external_shipment_id: str) -> dict[str, Any]:
        """The shipment with this external_shipment_id; raises ``ShipmentNotFoundError``.

        Not settled by the docs: whether a lookup truncates an id longer than 50 characters as
        a create does; it does not, so only the stored (truncated) id is found.
        """
        with self._lock:
            return copy.deepcopy(self._shipment_by_external(external_shipment_id))

    def find_shipments(
        self,
        *,
        shipment_status: str | None = None,
        external_shipment_id: str | None = None,
        shipment_number: str | None = None,
        store_id: str | None = None,
        created_at_start: datetime | None = None,
        created_at_end: datetime | None = None,
        modified_at_start: datetime | None = None,
        modified_at_end: datetime | None = None,
        sort_by: str = "created_at",
        sort_dir: str = "desc",
    ) -> list[dict[str, Any]]:
        """Shipments matching the ``GET /v2/shipments`` filters, in the asked order.

        Not settled by the docs: whether the date ranges include their ends (here both do), and
        whether text filters are exact (here they are, case-sensitive).
        """

        def matches(shipment: dict[str, Any]) -> bool:
            return (
                (shipment_status is None or shipment["shipment_status"] == shipment_status)
                and (
                    external_shipment_id is None
                    or shipment["external_shipment_id"] == external_shipment_id
                )
                and (shipment_number is None or shipment["shipment_number"] == shipment_number)
                and (store_id is None or shipment.get("store_id") == store_id)
                and _in_range(shipment["created_at"], created_at_start, created_at_end)
                and _in_range(shipment["modified_at"], modified_at_start, modified_at_end)
            )

        with self._lock:
            found = [copy.deepcopy(s) for s in self._shipments.values() if matches(s)]
        # Ties (same millisecond) keep creation order, reversed with the rest for desc.
        found.sort(key=lambda s: (dates.parse_stored(s[sort_by]), _number(s["shipment_id"])))
        if sort_dir == "desc":
            found.reverse()
        return found

    def update_shipment(self, shipment_id: str, payload: Any) -> dict[str, Any]:
        """Apply ``PUT /v2/shipments/{id}``: replace the whole shipment while it has no label.

        The docs conflict (notes A5): the guide calls every field optional, ShipStation's MCP
        tool says the PUT needs the complete shipment. This is a full replacement, as the MCP
        tool says: the body is checked like a create, and fields left out are cleared. Kept
        from the stored shipment whatever the body says: shipment_id, created_at,
        shipment_status, tags, total_weight (computed); modified_at becomes now.
        external_shipment_id is immutable here (the external-identifiers page), so a body with a
        different one is refused; leaving it out keeps it.

        Raises ``ShipmentNotFoundError``, ``InvalidStatusError`` (label_purchased or cancelled),
        ``ShipmentInvalidError`` and ``ConflictError``.
        """
        with self._lock:
            previous = self._shipment(shipment_id)
            if previous["shipment_status"] not in OPEN_STATUSES:
                raise InvalidStatusError(
                    f"Shipment {shipment_id} is {previous['shipment_status']} and can no longer"
                    " be updated."
                )
            fields, problems = check_shipment(payload, for_update=True)
            if problems:
                raise ShipmentInvalidError(problems)
            external_id = fields.get("external_shipment_id")
            if external_id is not None and external_id != previous["external_shipment_id"]:
                raise ConflictError(
                    "external_shipment_id cannot be changed after the shipment is created.",
                    "external_shipment_id",
                )
            shipment = _shipment_record(
                fields,
                shipment_id=shipment_id,
                external_shipment_id=previous["external_shipment_id"],
                status=previous["shipment_status"],
                created_at=previous["created_at"],
                modified_at=dates.format_datetime(self._clock()),
                tags=previous["tags"],
            )
            self._shipments[shipment_id] = shipment
            return copy.deepcopy(shipment)

    def cancel_shipment(self, shipment_id: str) -> None:
        """Apply ``PUT /v2/shipments/{id}/cancel``.

        The docs: labels must be voided first, so a shipment with an unvoided label
        (label_purchased) raises ``InvalidStatusError``. Not settled by the docs: cancelling a
        cancelled shipment; it succeeds and changes nothing.
        """
        with self._lock:
            shipment = self._shipment(shipment_id)
            if self._active_label(shipment_id) is not None:
                raise InvalidStatusError(
                    f"Shipment {shipment_id} has a label; void the label before cancelling."
                )
            if shipment["shipment_status"] != "cancelled":
                shipment["shipment_status"] = "cancelled"
                shipment["modified_at"] = dates.format_datetime(self._clock())

    def split_shipment(
        self,
        shipment_id: str,
        selections: Sequence[dict[str, Any]],
        *,
        new_external_shipment_id: str | None = None,
        packages: list[dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split chosen items off a pending shipment into a new shipment, as a warehouse user.

        The docs say only that "split orders are separate shipments". Not settled, and chosen
        here: each selection ``{sku | external_order_item_id, quantity?}`` takes the first item
        line that matches and is not taken yet, whole or ``quantity`` units of it; items keep
        every field (external_order_id, external_order_item_id ...). The new shipment copies the
        original's addresses, warehouse, carrier, service, customs, notes and options, gets
        ``packages`` (default: a copy of the original's first package), no amount_paid /
        shipping_paid / tax_paid (those stay on the original), the original's shipment_number,
        and external_shipment_id ``new_external_shipment_id`` or ``<original>-<n>`` (n = 2, 3 ...,
        the first free one, the original cut to fit 50 characters). Both are then pending shipments
        that can get their own labels. At least one unit must stay on the original.

        Raises ``ShipmentNotFoundError``, ``InvalidStatusError``, ``ValueError`` (a selection
        that matches nothing or empties the original) and ``ConflictError``.
        """
        with self._lock:
            original = self._shipment(shipment_id)
            if original["shipment_status"] not in OPEN_STATUSES:
                raise InvalidStatusError(
                    f"Shipment {shipment_id} is {original['shipment_status']}; only a shipment"
                    " without a label can be split."
                )
            if not selections:
                raise ValueError("Choose at least one item to split off.")
            kept = copy.deepcopy(original["items"] or [])
            moved: list[dict[str, Any]] = []
            taken: set[int] = set()
            for selection in selections:
                index = _select_item(kept, selection, taken)
                item = kept[index]
                quantity = selection.get("quantity")
                have = item.get("quantity", 1)
                taken.add(index)
                if quantity is None or quantity == have:
                    moved.append(item)
                elif (
                    isinstance(quantity, int)
                    and not isinstance(quantity, bool)
                    and 0 < quantity < have
                ):
                    moved.append({**item, "quantity": quantity})
                    kept[index] = {**item, "quantity": have - quantity}
                    # The rest of a partly split line stays on the original.
                    taken.discard(index)
                else:
                    raise ValueError(
                        f"Cannot split {quantity!r} units off an item with quantity {have}."
                    )
            remaining = [item for index, item in enumerate(kept) if index not in taken]
            if not remaining:
                raise ValueError("A split must leave at least one item on the original shipment.")
            external_id = new_external_shipment_id or self._split_external_id(
                original["external_shipment_id"]
            )
            if len(external_id) > MAX_EXTERNAL_SHIPMENT_ID:
                external_id = external_id[:MAX_EXTERNAL_SHIPMENT_ID]
            if external_id in self._ids_by_external:
                raise ConflictError(
                    f"A shipment with external_shipment_id '{external_id}' already exists.",
                    "external_shipment_id",
                )
            fields = {
                key: copy.deepcopy(value)
                for key, value in original.items()
                if key not in ("amount_paid", "shipping_paid", "tax_paid")
            }
            fields.update(
                items=moved,
                packages=copy.deepcopy(packages)
                if packages is not None
                else copy.deepcopy(original["packages"][:1]),
                external_shipment_id=external_id,
                shipment_status="pending",
            )
            checked, problems = check_shipment(fields)
            if problems:
                raise ValueError("; ".join(problem.message for problem in problems))
            part = self._new_shipment(checked)
            original["items"] = remaining
            original["modified_at"] = dates.format_datetime(self._clock())
            return copy.deepcopy(original), copy.deepcopy(part)

    def _split_external_id(self, original: str) -> str:
        for n in itertools.count(2):
            suffix = f"-{n}"
            candidate = original[: MAX_EXTERNAL_SHIPMENT_ID - len(suffix)] + suffix
            if candidate not in self._ids_by_external:
                return candidate
        raise AssertionError("unreachable")  # pragma: no cover

    # -- labels --------------------------------------------------------------------------------

    def create_label(
        self,
        *,
        shipment_id: str | None = None,
        external_shipment_id: str | None = None,
        package_count: int | None = None,
        tracking_numbers: Sequence[str] | None = None,
        carrier_id: str | None = None,
        carrier_code: str | None = None,
        service_code: str | None = None,
    ) -> dict[str, Any]:
        """Buy a label for a shipment from the warehouse side; the shipment is label_purchased.

        A multi-package shipment gets one label with several ``packages`` (notes A6), each
        with its own tracking number and sequence. Not settled by the docs, chosen here: the
        label's package count is ``package_count``, else the number of ``tracking_numbers``,
        else the shipment's package count; package n copies the shipment's package n (or its
        last one); the label's ``tracking_number`` is the first package's (the master);
        a shipment with a label that is not voided cannot get another one.

        Raises ``ShipmentNotFoundError``, ``InvalidStatusError`` and ``ValueError``.
        """
        with self._lock:
            if shipment_id is not None:
                shipment = self._shipment(shipment_id)
            elif external_shipment_id is not None:
                shipment = self._shipment_by_external(external_shipment_id)
            else:
                raise ValueError("shipment_id or external_shipment_id is required.")
            if shipment["shipment_status"] not in OPEN_STATUSES:
                raise InvalidStatusError(
                    f"Shipment {shipment['shipment_id']} is {shipment['shipment_status']};"
                    " it cannot get a label."
                )
            count = package_count
            if count is None:
                count = len(tracking_numbers) if tracking_numbers else len(shipment["packages"])
            if count < 1:
                raise ValueError("A label needs at least one package.")
            if tracking_numbers and len(tracking_numbers) != count:
                raise ValueError("Give one tracking number per package.")
            number = next(self._next_label)
            label_id = f"se-{number}"
            carrier = carrier_code or DEFAULT_CARRIER_CODE
            label_packages = []
            for sequence in range(1, count + 1):
                source = shipment["packages"][min(sequence, len(shipment["packages"])) - 1]
                # Not settled by the docs: the form of a generated tracking number; 22 digits
                # like a USPS number, naming the label and the package.
                tracking = (
                    tracking_numbers[sequence - 1]
                    if tracking_numbers
                    else f"9400{number:014d}{sequence:04d}"
                )
                label_packages.append(
                    {
                        "package_code": source.get("package_code") or "package",
                        "weight": copy.deepcopy(source.get("weight")),
                        "dimensions": copy.deepcopy(source.get("dimensions")),
                        "external_package_id": source.get("external_package_id"),
                        "tracking_number": tracking,
                        "sequence": sequence,
                    }
                )
            moment = self._clock()
            master = label_packages[0]["tracking_number"]
            label = {
                "label_id": label_id,
                "status": "completed",
                "shipment_id": shipment["shipment_id"],
                "external_shipment_id": shipment["external_shipment_id"],
                # Not settled by the docs: the ship date of a label for a shipment without one;
                # the day it was bought (UTC).
                "ship_date": shipment.get("ship_date") or dates.format_date(moment.date()),
                "created_at": dates.format_datetime(moment),
                # Not settled by the docs: costs; the sandbox charges nothing.
                "shipment_cost": {"currency": "usd", "amount": 0.0},
                "insurance_cost": {"currency": "usd", "amount": 0.0},
                "tracking_number": master,
                # Not settled by the docs: the tracking URL; a placeholder that names carrier
                # and number (ShipStation links the carrier's own page).
                "tracking_url": f"https://tracking.sandbox.invalid/{carrier}/{master}",
                # A new label has not been scanned by the carrier yet.
                "tracking_status": "unknown",
                "carrier_id": carrier_id or shipment.get("carrier_id") or DEFAULT_CARRIER_ID,
                "carrier_code": carrier,
                "service_code": service_code
                or shipment.get("service_code")
                or DEFAULT_SERVICE_CODE,
                "voided": False,
                "voided_at": None,
                "packages": label_packages,
            }
            self._labels[label_id] = label
            shipment["shipment_status"] = "label_purchased"
            shipment["modified_at"] = dates.format_datetime(moment)
            return copy.deepcopy(label)

    def labels(self) -> list[dict[str, Any]]:
        """Every label, oldest first."""
        with self._lock:
            return [copy.deepcopy(label) for label in self._labels.values()]

    def get_label(self, label_id: str) -> dict[str, Any]:
        """The label with this label_id; raises ``LabelNotFoundError``."""
        with self._lock:
            return copy.deepcopy(self._label(label_id))

    def find_labels(
        self,
        *,
        shipment_id: str | None = None,
        label_status: str | None = None,
        tracking_number: str | None = None,
        carrier_id: str | None = None,
        service_code: str | None = None,
        created_at_start: datetime | None = None,
        created_at_end: datetime | None = None,
        sort_dir: str = "desc",
    ) -> list[dict[str, Any]]:
        """Labels matching the ``GET /v2/labels`` filters; newest first by default (the docs).

        Not settled by the docs: whether tracking_number matches a package's own number too;
        it does, so a multi-package label is found by any of its numbers.
        """

        def matches(label: dict[str, Any]) -> bool:
            numbers = {label["tracking_number"]} | {
                package["tracking_number"] for package in label["packages"]
            }
            return (
                (shipment_id is None or label["shipment_id"] == shipment_id)
                and (label_status is None or label["status"] == label_status)
                and (tracking_number is None or tracking_number in numbers)
                and (carrier_id is None or label["carrier_id"] == carrier_id)
                and (service_code is None or label["service_code"] == service_code)
                and _in_range(label["created_at"], created_at_start, created_at_end)
            )

        with self._lock:
            found = [copy.deepcopy(label) for label in self._labels.values() if matches(label)]
        found.sort(
            key=lambda label: (dates.parse_stored(label["created_at"]), _number(label["label_id"]))
        )
        if sort_dir == "desc":
            found.reverse()
        return found

    def void_label(self, label_id: str) -> dict[str, Any]:
        """Apply ``PUT /v2/labels/{id}/void``: the answer ``{approved, message}``.

        Not settled by the docs, chosen here: voiding is approved at once (status voided,
        voided_at set); a label voided already answers approved false and changes nothing;
        once its shipment has no other unvoided label, the shipment is pending again, so it can
        be updated, labelled again or cancelled. Raises ``LabelNotFoundError``.
        """
        with self._lock:
            label = self._label(label_id)
            if label["voided"]:
                return {"approved": False, "message": f"Label {label_id} is already voided."}
            moment = dates.format_datetime(self._clock())
            label.update(status="voided", voided=True, voided_at=moment)
            shipment = self._shipments[label["shipment_id"]]
            if self._active_label(shipment["shipment_id"]) is None:
                shipment["shipment_status"] = "pending"
                shipment["modified_at"] = moment
            return {"approved": True, "message": f"Label {label_id} has been voided."}

    # -- the lost-answer switch ------------------------------------------------------------------

    def timeout_next_create(self, n: int = 1) -> None:
        """Make the next ``n`` creating ``POST /v2/shipments`` calls store but never answer."""
        self._lost_answers.arm(n)

    @property
    def pending_create_timeouts(self) -> int:
        """How many of the timeouts asked for have not fired yet."""
        return self._lost_answers.pending

    def take_create_timeout(self) -> bool:
        """Consume one pending timeout; true when the current create must go unanswered."""
        return self._lost_answers.take()

    # -- helpers -------------------------------------------------------------------------------

    def _shipment(self, shipment_id: str) -> dict[str, Any]:
        try:
            return self._shipments[shipment_id]
        except KeyError:
            raise ShipmentNotFoundError(f"Shipment {shipment_id} was not found.") from None

    def _shipment_by_external(self, external_shipment_id: str) -> dict[str, Any]:
        shipment_id = self._ids_by_external.get(external_shipment_id)
        if shipment_id is None:
            raise ShipmentNotFoundError(
                f"No shipment has external_shipment_id '{external_shipment_id}'."
            )
        return self._shipments[shipment_id]

    def _label(self, label_id: str) -> dict[str, Any]:
        try:
            return self._labels[label_id]
        except KeyError:
            raise LabelNotFoundError(f"Label {label_id} was not found.") from None

    def _active_label(self, shipment_id: str) -> dict[str, Any] | None:
        for label in self._labels.values():
            if label["shipment_id"] == shipment_id and not label["voided"]:
                return label
        return None


def _shipment_record(
    fields: dict[str, Any],
    *,
    shipment_id: str,
    external_shipment_id: str,
    status: str,
    created_at: str,
    modified_at: str,
    tags: list[Any],
) -> dict[str, Any]:
    """A full shipment: documented fields defaulted, every field sent kept, server fields set."""
    # Not settled by the docs: what an answer shows for fields left out; documented ones are
    # present as null/empty so a client can read them without guarding every key.
    record: dict[str, Any] = {
        "shipment_id": shipment_id,
        "carrier_id": None,
        "service_code": None,
        "external_shipment_id": external_shipment_id,
        # The spec: shipment_number defaults to external_shipment_id and is not unique. The
        # shipment-numbers guide says unique; the spec is followed (notes A3 conflict).
        "shipment_number": None,
        "ship_date": None,
        "created_at": created_at,
        "modified_at": modified_at,
        "shipment_status": status,
        "ship_to": None,
        "ship_from": None,
        "warehouse_id": None,
        "customs": None,
        "advanced_options": {},
        "insurance_provider": "none",
        "tags": copy.deepcopy(tags),
        "packages": [],
        "total_weight": None,
        "items": [],
        "notes_from_buyer": None,
        "notes_to_buyer": None,
        "notes_for_gift": None,
        "internal_notes": None,
        "is_gift": False,
        "amount_paid": None,
        "shipping_paid": None,
        "tax_paid": None,
        "store_id": None,
        "assigned_user": None,
    }
    record.update({key: copy.deepcopy(value) for key, value in fields.items()})
    record.update(
        shipment_id=shipment_id,
        external_shipment_id=external_shipment_id,
        shipment_status=status,
        created_at=created_at,
        modified_at=modified_at,
        tags=copy.deepcopy(tags),
        total_weight=_total_weight(record["packages"]),
    )
    if record["shipment_number"] is None:
        record["shipment_number"] = external_shipment_id
    # validate_address is a request option, not a shipment field.
    record.pop("validate_address", None)
    return record


def _refused_entry(fields: dict[str, Any], problems: Sequence[Problem]) -> dict[str, Any]:
    """The answer entry of a shipment that was not created.

    Not settled by the docs: what such an entry holds besides its errors. It echoes what was
    sent, with shipment_id and shipment_status null, so a client can match it to its input (the
    entries are in request order).
    """
    return {
        **fields,
        "shipment_id": None,
        "shipment_status": None,
        "errors": [problem.message for problem in problems],
        "address_validation": None,
    }


def _total_weight(packages: list[dict[str, Any]]) -> dict[str, Any] | None:
    weights: list[dict[str, Any]] = [p["weight"] for p in packages if isinstance(p, dict)]
    if not weights:
        return None
    units = {weight["unit"] for weight in weights}
    if len(units) == 1:
        [unit] = units
        return {"value": round(sum(w["value"] for w in weights), 4), "unit": unit}
    ounces = sum(w["value"] * _OUNCES_PER[w["unit"]] for w in weights)
    return {"value": round(ounces, 4), "unit": "ounce"}


def _number(identifier: str) -> int:
    return int(identifier.removeprefix("se-"))


def _in_range(stamp: str, start: datetime | None, end: datetime | None) -> bool:
    if start is None and end is None:
        return True
    moment = dates.parse_stored(stamp)
    return (start is None or moment >= start) and (end is None or moment <= end)


def _select_item(items: list[dict[str, Any]], selection: dict[str, Any], taken: set[int]) -> int:
    keys = [key for key in ("external_order_item_id", "sku") if selection.get(key) is not None]
    if not keys:
        raise ValueError("Each item to split off needs sku or external_order_item_id.")
    key = keys[0]
    for index, item in enumerate(items):
        if index not in taken and item.get(key) == selection[key]:
            return index
    raise ValueError(f"No item with {key} '{selection[key]}' is left on the shipment.")
