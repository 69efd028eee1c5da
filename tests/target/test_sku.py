"""SKU rules from eFulfillment's Big Cartel module: all text after the last 'SKU:'."""

from __future__ import annotations

import pytest

from target_fulfillment.sku import SkuResult, base_sku, derive_sku


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        # plain text
        ("A soft tee. SKU:SHIRT-", "SHIRT-"),
        ("A soft tee. SKU: SHIRT-", "SHIRT-"),
        ("SKU:TEE-1", "TEE-1"),
        # case
        ("A soft tee. sku: TEE-1", "TEE-1"),
        ("A soft tee. Sku: TEE-1", "TEE-1"),
        ("A soft tee. sKu:TEE-1", "TEE-1"),
        # several markers: the last wins
        ("Old SKU: OLD-1. New SKU: NEW-1", "NEW-1"),
        ("<p>SKU: A</p><p>sku: B</p>", "B"),
        # HTML: tags, nesting, line-breaking tags, entities
        ("<p>A soft tee.</p><p>SKU: TEE-1</p>", "TEE-1"),
        ("<p>A soft tee.</p>\n<p>SKU: TEE-1</p>\n", "TEE-1"),
        ("<b>SKU:</b> TEE-1", "TEE-1"),
        ("<p><strong>SKU:</strong> <em>TEE-1</em></p>", "TEE-1"),
        ("<div><p>Tee<br/>SKU:<span><b>TEE</b>-1</span></p></div>", "TEE-1"),
        ("SKU: <strong>TEE</strong>-<em>1</em>", "TEE-1"),
        ("SKU:<br>TEE-1", "TEE-1"),
        ("SKU: TEE-1<br/>", "TEE-1"),
        ("SKU: TEE&amp;CO", "TEE&CO"),
        ("SKU: R&D-1", "R&D-1"),
        ("SKU:&nbsp;TEE-1&nbsp;", "TEE-1"),
        ("SKU: TEE&#45;1", "TEE-1"),
        ("SKU: TEE&lt;1&gt;", "TEE<1>"),
        # a marker in an attribute or comment is not text
        ('<a title="SKU: WRONG">Tee</a> SKU: TEE-1', "TEE-1"),
        ('SKU: TEE-1 <img alt="SKU: WRONG">', "TEE-1"),
        ("SKU: TEE-1<!-- SKU: WRONG -->", "TEE-1"),
        # whitespace: stripped around, runs collapse to one space, following text is kept
        ("SKU:   TEE-1   ", "TEE-1"),
        ("SKU:\n\tTEE-1\n", "TEE-1"),
        ("SKU: TEE-\nSome more text", "TEE- Some more text"),
        ("SKU: TEE-1<br>Machine wash", "TEE-1 Machine wash"),
        ("<p>SKU: TEE-1</p><p>Machine wash</p>", "TEE-1 Machine wash"),
        ("SKU: TEE  1", "TEE 1"),
        ("SKU: TEE&nbsp;&nbsp;1", "TEE 1"),
    ],
)
def test_base_sku(description: str, expected: str) -> None:
    assert base_sku(description) == expected


@pytest.mark.parametrize(
    "description",
    [
        None,
        "",
        "A soft tee.",
        "A soft tee. SKU TEE-1",
        "<p>A soft tee.</p>",
        '<a title="SKU: TEE-1">A soft tee.</a>',
        "<!-- SKU: TEE-1 -->",
        # nothing after the last marker
        "SKU:",
        "A soft tee. SKU:   ",
        "<p>SKU:</p><p> </p>",
        "SKU:&nbsp;<br/>\n",
        "SKU: TEE-1 and sku:",
    ],
)
def test_base_sku_none(description: str | None) -> None:
    assert base_sku(description) is None


SHIRT = "<p>A soft shirt.</p><p>SKU: SHIRT-</p>"


@pytest.mark.parametrize(
    ("option_id", "description", "option_name", "option_count", "overrides", "expected"),
    [
        # single option: the base alone, whatever the option is called
        ("11", "SKU: MUG-1", "Default", 1, {}, "MUG-1"),
        ("11", "SKU: MUG-1", None, 1, {}, "MUG-1"),
        (None, "SKU: MUG-1", None, 0, {}, "MUG-1"),
        # several options: base + option name, the name stripped
        ("11", SHIRT, "SMALL", 2, {}, "SHIRT-SMALL"),
        ("12", SHIRT, "X-LARGE", 3, {}, "SHIRT-X-LARGE"),
        ("12", SHIRT, "  X-LARGE\n", 3, {}, "SHIRT-X-LARGE"),
        # overrides: option-level first, then product-level, and they beat the description
        ("11", SHIRT, "SMALL", 2, {"7": "P-7"}, "P-7"),
        ("11", SHIRT, "SMALL", 2, {"7:11": "O-11"}, "O-11"),
        ("11", SHIRT, "SMALL", 2, {"7": "P-7", "7:11": "O-11"}, "O-11"),
        ("12", SHIRT, "LARGE", 2, {"7": "P-7", "7:11": "O-11"}, "P-7"),
        ("11", SHIRT, "SMALL", 2, {"8": "P-8", "8:11": "O-8-11", "7:12": "O-12"}, "SHIRT-SMALL"),
        (None, SHIRT, None, 2, {"7": "P-7"}, "P-7"),
        ("11", None, None, 2, {"7:11": "O-11"}, "O-11"),
    ],
)
def test_derive_sku(
    option_id: str | None,
    description: str | None,
    option_name: str | None,
    option_count: int,
    overrides: dict[str, str],
    expected: str,
) -> None:
    result = derive_sku(
        product_id="7",
        option_id=option_id,
        description=description,
        option_name=option_name,
        option_count=option_count,
        overrides=overrides,
    )
    assert result == SkuResult(expected)


@pytest.mark.parametrize(
    ("option_id", "description", "option_name", "option_count", "reason"),
    [
        ("11", None, "SMALL", 2, "product 7 has no 'SKU:' in its description"),
        ("11", "A soft shirt.", "SMALL", 1, "product 7 has no 'SKU:' in its description"),
        ("11", "<p>SKU:</p>", None, 1, "product 7 has nothing after 'SKU:' in its description"),
        (
            "11",
            SHIRT,
            None,
            2,
            "product 7 has several options but the item (option 11) has no option name",
        ),
        (
            "11",
            SHIRT,
            "  ",
            2,
            "product 7 has several options but the item (option 11) has no option name",
        ),
        (None, SHIRT, "", 2, "product 7 has several options but the item has no option name"),
    ],
)
def test_derive_sku_reason(
    option_id: str | None,
    description: str | None,
    option_name: str | None,
    option_count: int,
    reason: str,
) -> None:
    result = derive_sku(
        product_id="7",
        option_id=option_id,
        description=description,
        option_name=option_name,
        option_count=option_count,
        overrides={"8": "OTHER", "7:99": "OTHER"},
    )
    assert result == SkuResult(None, reason)
