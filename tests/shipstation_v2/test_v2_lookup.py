"""Lookups by shipment_id and external_shipment_id, and the filtered, paged shipment list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from v2_helpers import ApiSession, ManualClock, assert_error_body

Create = Callable[..., dict[str, Any]]


def test_lookups_by_either_id(api: ApiSession, create: Create) -> None:
    created = create()
    shipment = {k: v for k, v in created.items() if k not in ("errors", "address_validation")}

    by_id = api.get(f"/v2/shipments/{created['shipment_id']}")
    by_external = api.get("/v2/shipments/external_shipment_id/bigcartel-ABCD-1001")

    assert by_id.status_code == by_external.status_code == 200
    assert by_id.json() == by_external.json() == shipment


@pytest.mark.parametrize(
    "path", ["/v2/shipments/se-999", "/v2/shipments/external_shipment_id/nobody"]
)
def test_unknown_shipment_is_a_404_error_body(api: ApiSession, create: Create, path: str) -> None:
    create()
    assert_error_body(api.get(path), 404, "not_found")


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [shipment["external_shipment_id"] for shipment in response.json()["shipments"]]


@pytest.fixture
def five(create: Create, clock: ManualClock) -> list[dict[str, Any]]:
    """s1..s5 created a minute apart from 12:00."""
    made = []
    for n in range(1, 6):
        made.append(create(external_shipment_id=f"s{n}"))
        clock.advance(minutes=1)
    return made


def test_list_is_newest_first_by_default_and_sorts_as_asked(
    api: ApiSession, five: list[dict[str, Any]], clock: ManualClock
) -> None:
    assert ids(api.get("/v2/shipments")) == ["s5", "s4", "s3", "s2", "s1"]
    assert ids(api.get("/v2/shipments", params={"sort_dir": "asc"})) == [
        "s1",
        "s2",
        "s3",
        "s4",
        "s5",
    ]
    # An update moves s2's modified_at past the others.
    api.post("/_sandbox/split", json={"external_shipment_id": "s2", "items": [{"sku": "MUG"}]})
    assert ids(api.get("/v2/shipments", params={"sort_by": "modified_at"}))[:2] == ["s2-2", "s2"]
    assert ids(api.get("/v2/shipments", params={"sort_by": "created_at"}))[:2] == ["s2-2", "s5"]


def test_filters(api: ApiSession, five: list[dict[str, Any]], clock: ManualClock) -> None:
    api.put("/v2/shipments/se-100000003/cancel")
    assert ids(api.get("/v2/shipments", params={"shipment_status": "cancelled"})) == ["s3"]
    assert ids(api.get("/v2/shipments", params={"shipment_status": "pending"})) == [
        "s5",
        "s4",
        "s2",
        "s1",
    ]
    assert ids(api.get("/v2/shipments", params={"external_shipment_id": "s4"})) == ["s4"]
    window = {"created_at_start": "2026-05-01T12:01:00Z", "created_at_end": "2026-05-01T12:03:00Z"}
    assert ids(api.get("/v2/shipments", params=window)) == ["s4", "s3", "s2"]
    # A naive date is UTC; an offset is converted.
    assert ids(
        api.get("/v2/shipments", params={"created_at_start": "2026-05-01T05:04:00-07:00"})
    ) == ["s5"]
    assert ids(api.get("/v2/shipments", params={"created_at_end": "2026-05-01 12:00:00"})) == ["s1"]
    # s3 was modified (cancelled) at 12:05.
    assert ids(api.get("/v2/shipments", params={"modified_at_start": "2026-05-01T12:05:00Z"})) == [
        "s3"
    ]
    assert ids(api.get("/v2/shipments", params={"modified_at_end": "2026-05-01T12:00:59Z"})) == [
        "s1"
    ]


def test_paging_and_links(api: ApiSession, five: list[dict[str, Any]]) -> None:
    first = api.get("/v2/shipments", params={"page_size": 2, "sort_dir": "asc"})
    body = first.json()
    assert ids(first) == ["s1", "s2"]
    assert (body["total"], body["page"], body["pages"]) == (5, 1, 3)
    assert body["links"]["prev"] == {}

    def query(link: dict[str, str]) -> dict[str, list[str]]:
        parts = urlsplit(link["href"])
        assert parts.path == "/v2/shipments"
        return parse_qs(parts.query)

    assert query(body["links"]["first"])["page"] == ["1"]
    assert query(body["links"]["last"])["page"] == ["3"]
    assert query(body["links"]["next"]) == {"page": ["2"], "page_size": ["2"], "sort_dir": ["asc"]}

    second = api.get(body["links"]["next"]["href"].removeprefix(api.base_url))
    assert ids(second) == ["s3", "s4"]
    assert query(second.json()["links"]["prev"])["page"] == ["1"]
    third = api.get(second.json()["links"]["next"]["href"].removeprefix(api.base_url))
    assert ids(third) == ["s5"]
    assert third.json()["links"]["next"] == {}

    past = api.get("/v2/shipments", params={"page": 9, "page_size": 2})
    assert ids(past) == []
    assert past.json()["total"] == 5


def test_default_page_size_is_25(api: ApiSession, make_shipment: Any) -> None:
    batch = [make_shipment(external_shipment_id=f"p{n}") for n in range(30)]
    assert api.post("/v2/shipments", json={"shipments": batch}).status_code == 200
    body = api.get("/v2/shipments").json()
    assert (len(body["shipments"]), body["total"], body["pages"]) == (25, 30, 2)


def test_empty_list(api: ApiSession) -> None:
    body = api.get("/v2/shipments").json()
    assert (body["shipments"], body["total"], body["page"], body["pages"]) == ([], 0, 1, 0)
    assert body["links"]["next"] == {}


@pytest.mark.parametrize(
    "params",
    [
        {"shipment_status": "shipped"},
        {"sort_by": "ship_date"},
        {"sort_dir": "up"},
        {"page": "0"},
        {"page_size": "501"},
        {"page_size": "ten"},
        {"created_at_start": "yesterday"},
    ],
)
def test_bad_parameters_are_refused(api: ApiSession, params: dict[str, str]) -> None:
    error = assert_error_body(api.get("/v2/shipments", params=params), 400, "invalid_field_value")
    assert error["field_name"] == next(iter(params))


def test_page_size_500_is_allowed(api: ApiSession) -> None:
    assert api.get("/v2/shipments", params={"page_size": 500}).status_code == 200
