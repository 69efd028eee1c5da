"""Labels bought from the warehouse side, their lists and lookups, multi-package, split, void."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from v2_helpers import ApiSession, ManualClock, assert_error_body

from shipstation_sandbox.v2 import ShipStationV2Sandbox

Create = Callable[..., dict[str, Any]]


def buy(api: ApiSession, **body: Any) -> dict[str, Any]:
    response = api.post("/_sandbox/label", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_single_package_label(api: ApiSession, create: Create, clock: ManualClock) -> None:
    shipment = create(service_code="usps_ground_advantage", carrier_id="se-42")
    clock.advance(hours=1)
    label = buy(api, external_shipment_id="bigcartel-ABCD-1001", carrier_code="usps")

    assert label["label_id"] == "se-500000001"
    assert label["status"] == "completed"
    assert label["shipment_id"] == shipment["shipment_id"]
    assert label["external_shipment_id"] == "bigcartel-ABCD-1001"
    assert (label["carrier_code"], label["carrier_id"], label["service_code"]) == (
        "usps",
        "se-42",
        "usps_ground_advantage",
    )
    assert label["created_at"] == "2026-05-01T13:00:00.000Z"
    assert label["ship_date"] == "2026-05-01"
    assert (label["voided"], label["voided_at"]) == (False, None)
    [package] = label["packages"]
    assert package["sequence"] == 1
    assert package["tracking_number"] == label["tracking_number"]
    assert package["weight"] == {"value": 12, "unit": "ounce"}
    assert label["tracking_url"].endswith(label["tracking_number"])
    assert set(label) >= {"shipment_cost", "insurance_cost", "tracking_status"}

    after = api.get(f"/v2/shipments/{shipment['shipment_id']}").json()
    assert after["shipment_status"] == "label_purchased"
    assert after["modified_at"] == "2026-05-01T13:00:00.000Z"
    fetched = api.get(f"/v2/labels/{label['label_id']}").json()
    assert {k: v for k, v in fetched.items() if k != "label_download"} == label
    assert fetched["label_download"]["pdf"].endswith(".pdf")


def test_inline_download_gives_the_label_data(api: ApiSession, create: Create) -> None:
    create()
    label = buy(api, external_shipment_id="bigcartel-ABCD-1001")
    inline = api.get(f"/v2/labels/{label['label_id']}", params={"label_download_type": "inline"})
    assert base64.b64decode(inline.json()["label_data"]).startswith(b"%PDF")
    bad = api.get(f"/v2/labels/{label['label_id']}", params={"label_download_type": "zip"})
    assert_error_body(bad, 400, "invalid_field_value")


def test_multi_package_is_one_label_with_a_tracking_number_per_package(
    api: ApiSession, create: Create
) -> None:
    create(
        packages=[
            {"weight": {"value": 1, "unit": "pound"}, "external_package_id": "box-a"},
            {"weight": {"value": 2, "unit": "pound"}, "external_package_id": "box-b"},
        ]
    )
    label = buy(
        api,
        external_shipment_id="bigcartel-ABCD-1001",
        tracking_numbers=["1Z0001", "1Z0002", "1Z0003"],
    )
    assert [(p["sequence"], p["tracking_number"]) for p in label["packages"]] == [
        (1, "1Z0001"),
        (2, "1Z0002"),
        (3, "1Z0003"),
    ]
    assert [p["external_package_id"] for p in label["packages"]] == ["box-a", "box-b", "box-b"]
    assert label["tracking_number"] == "1Z0001"
    listed = api.get("/v2/labels", params={"tracking_number": "1Z0002"}).json()["labels"]
    assert [found["label_id"] for found in listed] == [label["label_id"]]


def test_package_count_generates_distinct_tracking_numbers(api: ApiSession, create: Create) -> None:
    create()
    label = buy(api, external_shipment_id="bigcartel-ABCD-1001", packages=2)
    numbers = [p["tracking_number"] for p in label["packages"]]
    assert len(set(numbers)) == 2
    assert all(len(number) == 22 and number.isdigit() for number in numbers)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"external_shipment_id": "nobody"}, 404),
        ({"shipment_id": "se-1"}, 404),
        ({}, 400),
        ({"external_shipment_id": "bigcartel-ABCD-1001", "packages": 0}, 400),
        (
            {
                "external_shipment_id": "bigcartel-ABCD-1001",
                "packages": 2,
                "tracking_numbers": ["1"],
            },
            400,
        ),
        ({"external_shipment_id": "bigcartel-ABCD-1001", "tracking_numbers": "1Z"}, 400),
    ],
)
def test_bad_label_requests(
    api: ApiSession, create: Create, sandbox: ShipStationV2Sandbox, body: Any, status: int
) -> None:
    create()
    assert api.post("/_sandbox/label", json=body).status_code == status
    assert sandbox.store.labels() == []


def test_no_second_label_and_none_for_a_cancelled_shipment(
    api: ApiSession, create: Create, sandbox: ShipStationV2Sandbox
) -> None:
    first = create()["shipment_id"]
    second = create(external_shipment_id="other")["shipment_id"]
    buy(api, shipment_id=first)
    assert api.post("/_sandbox/label", json={"shipment_id": first}).status_code == 409
    api.put(f"/v2/shipments/{second}/cancel")
    assert api.post("/_sandbox/label", json={"shipment_id": second}).status_code == 409
    assert len(sandbox.store.labels()) == 1


def test_label_list_filters_and_newest_first(
    api: ApiSession, create: Create, clock: ManualClock
) -> None:
    labels = []
    for n in range(3):
        create(external_shipment_id=f"s{n}")
        clock.advance(minutes=1)
        labels.append(buy(api, external_shipment_id=f"s{n}"))
    api.put(f"/v2/labels/{labels[1]['label_id']}/void")

    def listed(**params: Any) -> list[str]:
        response = api.get("/v2/labels", params=params)
        assert response.status_code == 200, response.text
        return [label["external_shipment_id"] for label in response.json()["labels"]]

    assert listed() == ["s2", "s1", "s0"]
    assert listed(sort_dir="asc") == ["s0", "s1", "s2"]
    assert listed(shipment_id=labels[0]["shipment_id"]) == ["s0"]
    assert listed(label_status="voided") == ["s1"]
    assert listed(label_status="completed") == ["s2", "s0"]
    assert listed(tracking_number=labels[2]["tracking_number"]) == ["s2"]
    assert listed(created_at_start="2026-05-01T12:02:00Z") == ["s2", "s1"]
    assert listed(created_at_end="2026-05-01T12:01:00Z") == ["s0"]
    page = api.get("/v2/labels", params={"page_size": 2, "page": 2}).json()
    assert (page["total"], page["pages"], [x["external_shipment_id"] for x in page["labels"]]) == (
        3,
        2,
        ["s0"],
    )
    assert_error_body(
        api.get("/v2/labels", params={"label_status": "new"}), 400, "invalid_field_value"
    )


def test_unknown_label_is_a_404(api: ApiSession) -> None:
    assert_error_body(api.get("/v2/labels/se-1"), 404, "not_found")
    assert_error_body(api.put("/v2/labels/se-1/void"), 404, "not_found")


def test_void_over_the_api(api: ApiSession, create: Create, clock: ManualClock) -> None:
    shipment_id = create()["shipment_id"]
    label = buy(api, shipment_id=shipment_id)
    clock.advance(minutes=10)

    voided = api.put(f"/v2/labels/{label['label_id']}/void")
    assert voided.status_code == 200
    assert voided.json()["approved"] is True
    after = api.get(f"/v2/labels/{label['label_id']}").json()
    assert (after["status"], after["voided"], after["voided_at"]) == (
        "voided",
        True,
        "2026-05-01T12:10:00.000Z",
    )
    # With its only label voided the shipment is pending again and can get a new label.
    assert api.get(f"/v2/shipments/{shipment_id}").json()["shipment_status"] == "pending"
    again = api.put(f"/v2/labels/{label['label_id']}/void")
    assert again.json()["approved"] is False
    assert buy(api, shipment_id=shipment_id)["label_id"] == "se-500000002"


def test_void_from_the_control_side(api: ApiSession, create: Create) -> None:
    shipment_id = create()["shipment_id"]
    label = buy(api, shipment_id=shipment_id)
    assert api.post("/_sandbox/void", json={"label_id": label["label_id"]}).json()["approved"]
    assert api.get(f"/v2/labels/{label['label_id']}").json()["voided"] is True
    assert api.post("/_sandbox/void", json={"label_id": "se-1"}).status_code == 404
    assert api.post("/_sandbox/void", json={}).status_code == 400


def test_split_then_a_label_for_each_part(
    api: ApiSession, create: Create, clock: ManualClock
) -> None:
    original = create()
    clock.advance(minutes=1)
    response = api.post(
        "/_sandbox/split",
        json={"external_shipment_id": "bigcartel-ABCD-1001", "items": [{"sku": "MUG"}]},
    )
    assert response.status_code == 200, response.text
    parts = response.json()
    kept, split = parts["original"], parts["split"]

    assert [item["sku"] for item in kept["items"]] == ["TEE-M"]
    assert split["items"] == [original["items"][1]]
    assert split["items"][0]["external_order_id"] == "ABCD-1001"
    assert split["items"][0]["external_order_item_id"] == "li-2"
    assert split["external_shipment_id"] == "bigcartel-ABCD-1001-2"
    assert split["shipment_number"] == original["shipment_number"]
    assert split["shipment_status"] == "pending"
    assert split["ship_to"] == original["ship_to"]
    assert split["amount_paid"] is None
    assert kept["amount_paid"] == original["amount_paid"]
    assert kept["modified_at"] == "2026-05-01T12:01:00.000Z"
    assert api.get(f"/v2/shipments/{original['shipment_id']}").json() == kept
    assert api.get("/v2/shipments/external_shipment_id/bigcartel-ABCD-1001-2").json() == split

    first = buy(api, shipment_id=kept["shipment_id"])
    second = buy(api, shipment_id=split["shipment_id"])
    assert first["tracking_number"] != second["tracking_number"]
    statuses = {
        s["external_shipment_id"]: s["shipment_status"]
        for s in api.get("/v2/shipments").json()["shipments"]
    }
    assert statuses == {
        "bigcartel-ABCD-1001": "label_purchased",
        "bigcartel-ABCD-1001-2": "label_purchased",
    }


def test_split_part_of_a_line_by_external_order_item_id(api: ApiSession, create: Create) -> None:
    shipment_id = create()["shipment_id"]
    parts = api.post(
        "/_sandbox/split",
        json={
            "shipment_id": shipment_id,
            "items": [{"external_order_item_id": "li-1", "quantity": 1}],
            "new_external_shipment_id": "bigcartel-ABCD-1001-b",
            "packages": [{"weight": {"value": 5, "unit": "ounce"}}],
        },
    ).json()
    assert [(i["sku"], i["quantity"]) for i in parts["original"]["items"]] == [
        ("TEE-M", 1),
        ("MUG", 1),
    ]
    assert [(i["sku"], i["quantity"]) for i in parts["split"]["items"]] == [("TEE-M", 1)]
    assert parts["split"]["external_shipment_id"] == "bigcartel-ABCD-1001-b"
    assert parts["split"]["total_weight"] == {"value": 5, "unit": "ounce"}
    again = api.post(
        "/_sandbox/split", json={"shipment_id": shipment_id, "items": [{"sku": "MUG"}]}
    ).json()
    # The generated id skips nothing taken: -2 is the first free suffix.
    assert again["split"]["external_shipment_id"] == "bigcartel-ABCD-1001-2"


@pytest.mark.parametrize(
    ("items", "status"),
    [
        ([{"sku": "TEE-M"}, {"sku": "MUG"}], 400),
        ([{"sku": "NOPE"}], 400),
        ([{"external_order_item_id": "li-1", "quantity": 5}], 400),
        ([{"quantity": 1}], 400),
        ([], 400),
    ],
)
def test_bad_splits_change_nothing(
    api: ApiSession,
    create: Create,
    sandbox: ShipStationV2Sandbox,
    items: list[dict[str, Any]],
    status: int,
) -> None:
    shipment_id = create()["shipment_id"]
    before = sandbox.store.shipments()
    response = api.post("/_sandbox/split", json={"shipment_id": shipment_id, "items": items})
    assert response.status_code == status
    assert sandbox.store.shipments() == before


def test_no_split_after_a_label(api: ApiSession, create: Create) -> None:
    shipment_id = create()["shipment_id"]
    buy(api, shipment_id=shipment_id)
    response = api.post(
        "/_sandbox/split", json={"shipment_id": shipment_id, "items": [{"sku": "MUG"}]}
    )
    assert response.status_code == 409
    taken = api.post(
        "/_sandbox/split",
        json={
            "external_shipment_id": "nobody",
            "items": [{"sku": "MUG"}],
        },
    )
    assert taken.status_code == 404
