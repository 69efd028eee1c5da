"""Reading the Big Cartel emulator through its own API, for comparison with what was loaded."""

from __future__ import annotations

import typing as t

import requests

from bigcartel_sandbox import Sandbox
from bigcartel_sandbox.models import Shop

PAGE = 100


def documents(sandbox: Sandbox, shop: Shop, path: str) -> t.Iterator[dict]:
    """Every page of a list (``/v1/...``) as its JSON:API document, with plain requests."""
    offset = 0
    while True:
        response = requests.get(
            f"{sandbox.url}{path}",
            params={"page[limit]": PAGE, "page[offset]": offset},
            headers={
                "Accept": "application/vnd.api+json",
                "User-Agent": "tests",
                "Authorization": f"Bearer {shop.access_token}",
            },
            timeout=30,
        )
        response.raise_for_status()
        document = response.json()
        yield document
        if len(document["data"]) < PAGE:
            return
        offset += PAGE


def emulator_ids(sandbox: Sandbox, resource: str) -> list[tuple[str, str]]:
    """What the emulator holds, as (account_id, id); ``accounts`` are the shops, and countries
    carry no account."""
    if resource == "accounts":
        return [(shop.account_id, shop.account_id) for shop in sandbox.shops]
    if resource == "countries":
        pages = documents(sandbox, sandbox.shops[0], "/v1/countries")
        return [("", item["id"]) for page in pages for item in page["data"]]
    return [
        (shop.account_id, item["id"])
        for shop in sandbox.shops
        for page in documents(sandbox, shop, f"/v1/accounts/{shop.account_id}/{resource}")
        for item in page["data"]
    ]
