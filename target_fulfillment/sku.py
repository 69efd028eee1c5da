"""Derive warehouse SKUs for Big Cartel order items.

Big Cartel keeps no SKU, so (following eFulfillment's Big Cartel module) the merchant ends each
product description with ``SKU:`` and the SKU; ALL text after it is the base SKU. A product with
several options (sizes, colours) gets the base SKU followed by the option name: base ``SHIRT-``
with options ``SMALL`` and ``X-LARGE`` gives ``SHIRT-SMALL`` and ``SHIRT-X-LARGE``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser

_SKU_MARKER = re.compile("sku:", re.IGNORECASE | re.ASCII)

# Tags that break a line when rendered. They become a space, so "TEE-<br>Care" keeps the two
# words apart, while inline tags (<strong>, <span>) add nothing, so "<b>TEE</b>-1" stays "TEE-1".
_BREAKING_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)


class _TextExtractor(HTMLParser):
    """Collect the visible text of an HTML fragment, entities unescaped, comments dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")


def _visible_text(description: str) -> str:
    parser = _TextExtractor()
    parser.feed(description)
    parser.close()  # flushes text still buffered while entities are being resolved
    return "".join(parser.parts)


def _text_after_last_marker(description: str | None) -> str | None:
    """The text ``base_sku`` reads; None without a marker, "" when nothing follows it."""
    if not description:
        return None
    parts = _SKU_MARKER.split(_visible_text(description))
    if len(parts) == 1:
        return None
    return " ".join(parts[-1].split())


def base_sku(description: str | None) -> str | None:
    """The base SKU: all text after the last ``SKU:`` (any case), or None when there is none.

    Markup is removed first, so ``<b>SKU:</b> TEE-`` works and a ``SKU:`` inside a tag attribute
    or comment doesn't count. Runs of whitespace (newlines, ``&nbsp;``) collapse to one space:
    the docs say ALL following text is the SKU, so text after a line break is kept, but in the
    storefront a line break or several spaces render as one space, and that rendering is what the
    merchant sees and types into the warehouse. A SKU spoiled by trailing text then fails to match
    at the warehouse loudly instead of being silently truncated into a guess.
    """
    return _text_after_last_marker(description) or None


@dataclass(frozen=True)
class SkuResult:
    """A derived SKU, or why none could be derived (the target holds the order with the reason)."""

    sku: str | None
    reason: str | None = None


def derive_sku(
    *,
    product_id: str,
    option_id: str | None,
    description: str | None,
    option_name: str | None,
    option_count: int,
    overrides: Mapping[str, str],
) -> SkuResult:
    """The warehouse SKU for an order item.

    An override ``"<product_id>:<option_id>"``, then ``"<product_id>"``, wins, so a merchant can
    fix a product without editing its description. Otherwise the base SKU is used, followed by the
    option name when the product has several options (``option_count > 1``); a single-option
    product gets the base SKU alone, as its one option is not a variant to tell apart.
    Keyword-only because several arguments are interchangeable strings.
    """
    keys = [product_id] if option_id is None else [f"{product_id}:{option_id}", product_id]
    for key in keys:
        if key in overrides:
            return SkuResult(overrides[key])

    base = _text_after_last_marker(description)
    if base is None:
        return SkuResult(None, f"product {product_id} has no 'SKU:' in its description")
    if not base:
        return SkuResult(None, f"product {product_id} has nothing after 'SKU:' in its description")
    if option_count <= 1:
        return SkuResult(base)
    name = (option_name or "").strip()
    if not name:
        option = "" if option_id is None else f" (option {option_id})"
        return SkuResult(
            None,
            f"product {product_id} has several options but the item{option} has no option name",
        )
    return SkuResult(base + name)
