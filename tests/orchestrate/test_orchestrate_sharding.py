"""orchestrate.sharding: shop sources, stable shards, the meltano command, state regrouping."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy

from orchestrate.sharding import (
    ShardReport,
    Shop,
    ShopSourceError,
    assign_shard,
    load_shops,
    regroup_state,
    shard,
    shard_command,
    state_id,
    strip_ansi,
    write_secret_json,
)
from tap_bigcartel.exceptions import ShopsFailedError


def make_shops(count: int, start: int = 1000) -> list[Shop]:
    return [Shop(str(start + i), f"secret-token-{start + i}") for i in range(count)]


def as_json(shops: list[Shop]) -> list[dict[str, str]]:
    return [shop.as_setting() for shop in shops]


# --- sources ----------------------------------------------------------------------------------


def test_file_source_plain_path_and_file_url(tmp_path: Path) -> None:
    shops = make_shops(5)
    path = tmp_path / "shops.json"
    path.write_text(json.dumps(as_json(list(reversed(shops)))))
    assert load_shops(str(path)) == shops
    assert [s.access_token for s in load_shops(path.as_uri())] == [s.access_token for s in shops]


def test_file_source_accepts_a_tap_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"api_url": "x", "accounts": [{"account_id": 7, "access_token": "t"}]})
    )
    assert load_shops(str(path)) == [Shop("7", "t")]


def test_env_source(monkeypatch: pytest.MonkeyPatch) -> None:
    shops = make_shops(3)
    monkeypatch.setenv("SHOPS_UNDER_TEST", json.dumps(as_json(shops)))
    loaded = load_shops("env:SHOPS_UNDER_TEST")
    assert [(s.account_id, s.access_token) for s in loaded] == [
        (s.account_id, s.access_token) for s in shops
    ]
    monkeypatch.delenv("SHOPS_UNDER_TEST")
    with pytest.raises(ShopSourceError, match="SHOPS_UNDER_TEST"):
        load_shops("env:SHOPS_UNDER_TEST")


def _fill_table(url: str, table: str, shops: list[Shop]) -> None:
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text(f"CREATE TABLE {table} (account_id TEXT, access_token TEXT, note TEXT)")
        )
        connection.execute(
            sqlalchemy.text(f"INSERT INTO {table} VALUES (:account_id, :access_token, 'x')"),
            as_json(shops),
        )
    engine.dispose()


def test_sqlite_table_source(tmp_path: Path) -> None:
    shops = make_shops(12)
    url = f"sqlite:///{tmp_path / 'shops.db'}"
    _fill_table(url, "shops", shops)
    loaded = load_shops(f"{url}#shops")
    assert loaded == shops
    assert [s.access_token for s in loaded] == [s.access_token for s in shops]
    with pytest.raises(ShopSourceError, match="no_such_table"):
        load_shops(f"{url}#no_such_table")
    with pytest.raises(ShopSourceError, match="table"):
        load_shops(f"{url}#shops; DROP TABLE shops")


def test_postgresql_table_source() -> None:
    url = os.environ.get(
        "FULFILLMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    table = f"orchestrate_shops_{uuid.uuid4().hex[:8]}"
    shops = make_shops(4)
    _fill_table(url, table, shops)
    try:
        assert load_shops(f"{url}#public.{table}") == shops
    finally:
        engine = sqlalchemy.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"DROP TABLE {table}"))
        engine.dispose()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"shops": []}, "JSON array"),
        ([{"account_id": "1", "access_token": "tok-A"}] * 2, "listed twice"),
        ([{"account_id": "1"}], "no access_token"),
        ([{"access_token": "tok-A"}], "no account_id"),
        (["tok-A"], "not an object"),
    ],
)
def test_invalid_lists_are_refused_without_tokens(payload: object, message: str) -> None:
    from orchestrate.sharding import parse_shops

    with pytest.raises(ShopSourceError, match=message) as caught:
        parse_shops(payload)
    assert "tok-A" not in str(caught.value)


def test_bad_json_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "shops.json"
    path.write_text('[{"account_id": "1", "access_token": "tok-LEAK"')
    with pytest.raises(ShopSourceError, match="not valid JSON") as caught:
        load_shops(str(path))
    assert "tok-LEAK" not in str(caught.value)
    with pytest.raises(ShopSourceError, match="cannot read"):
        load_shops(str(tmp_path / "missing.json"))
    with pytest.raises(ShopSourceError, match="scheme"):
        load_shops("https://example.invalid/shops.json")


def test_shop_repr_hides_the_token() -> None:
    shop = Shop("1001", "tok-hidden")
    assert "tok-hidden" not in repr(shop)
    assert "tok-hidden" not in repr([shop])


# --- assignment -------------------------------------------------------------------------------


def test_every_shop_exactly_once() -> None:
    shops = make_shops(1000)
    groups = shard(shops, 7)
    assert len(groups) == 7
    flat = [shop.account_id for group in groups for shop in group]
    assert sorted(flat) == sorted(shop.account_id for shop in shops)
    assert len(flat) == len(set(flat))
    for index, group in enumerate(groups):
        assert group == sorted(group)
        assert all(assign_shard(shop.account_id, 7) == index for shop in group)


def test_assignment_is_stable() -> None:
    shops = make_shops(300)
    first = shard(shops, 4)
    # Another order, shops added and removed: no remaining shop moves.
    more = list(reversed(shops[50:])) + make_shops(100, start=5000)
    second = shard(more, 4)
    where = {shop.account_id: i for i, group in enumerate(second) for shop in group}
    for index, group in enumerate(first):
        for shop in group:
            if shop.account_id in where:
                assert where[shop.account_id] == index
    # Pinned values: a change of hash function would silently move every shop's state.
    assert [assign_shard(a, 4) for a in ("1001", "1002", "1003")] == [2, 3, 0]


def test_balance() -> None:
    shops = make_shops(4000)
    sizes = [len(group) for group in shard(shops, 4)]
    assert all(abs(size - 1000) <= 100 for size in sizes), sizes
    sizes = [len(group) for group in shard(shops, 16)]
    assert all(abs(size - 250) <= 60 for size in sizes), sizes


def test_growing_k_moves_few_shops_and_only_to_the_new_shard() -> None:
    shops = make_shops(4000)
    moved = Counter()
    for shop in shops:
        before, after = assign_shard(shop.account_id, 4), assign_shard(shop.account_id, 5)
        if before != after:
            moved[after] += 1
    assert set(moved) == {4}
    assert 0.15 < moved[4] / len(shops) < 0.25  # about 1/5


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        shard(make_shops(2), 0)


# --- command ----------------------------------------------------------------------------------


def test_shard_command_passes_tokens_in_env_only() -> None:
    shops = make_shops(3)
    argv, env = shard_command(2, shops, "prod")
    assert argv == [
        "meltano",
        "--environment",
        "prod",
        "run",
        "tap-bigcartel",
        "target-fulfillment",
        "--state-id-suffix",
        "shard-2",
    ]
    assert not any("secret-token" in arg for arg in argv)
    assert set(env) == {"TAP_BIGCARTEL_ACCOUNTS", "TARGET_FULFILLMENT_ACCOUNTS"}
    assert json.loads(env["TAP_BIGCARTEL_ACCOUNTS"]) == as_json(shops)
    assert env["TARGET_FULFILLMENT_ACCOUNTS"] == env["TAP_BIGCARTEL_ACCOUNTS"]
    assert state_id("prod", 2) == "prod:tap-bigcartel-to-target-fulfillment:shard-2"


def test_shard_command_options() -> None:
    argv, env = shard_command(
        0, make_shops(1), "dev", meltano=["bash", "scripts/meltano.sh"], write_back=False
    )
    assert argv[:4] == ["bash", "scripts/meltano.sh", "--environment", "dev"]
    assert set(env) == {"TAP_BIGCARTEL_ACCOUNTS"}
    with pytest.raises(ValueError):
        shard_command(0, [], "dev")


def test_write_secret_json_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_secret_json(path, {"accounts": as_json(make_shops(1))})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["accounts"][0]["account_id"] == "1000"


# --- state regrouping -------------------------------------------------------------------------


def _state(account_ids: list[str]) -> dict:
    return {
        "bookmarks": {
            "orders": {
                "partitions": [
                    {
                        "context": {"account_id": a},
                        "replication_key": "updated_at",
                        "replication_key_value": f"2025-01-01T00:00:{a[-2:]}+00:00",
                    }
                    for a in account_ids
                ]
            },
            "countries": {"replication_key_value": "x"},
        }
    }


def test_regroup_state_moves_each_partition_to_its_new_shard() -> None:
    shops = make_shops(200)
    old = shard(shops, 4)
    old_states = [{"singer_state": _state([s.account_id for s in group])} for group in old]
    new_states = regroup_state(old_states, shops[:-10], 6)  # 10 shops left the list
    assert len(new_states) == 6
    seen = []
    for index, state in enumerate(new_states):
        assert state["bookmarks"]["countries"] == {"replication_key_value": "x"}
        for partition in state["bookmarks"]["orders"]["partitions"]:
            account_id = partition["context"]["account_id"]
            assert assign_shard(account_id, 6) == index
            assert partition["replication_key_value"].endswith(f"{account_id[-2:]}+00:00")
            seen.append(account_id)
    assert sorted(seen) == sorted(s.account_id for s in shops[:-10])


def test_shard_report_names_the_shops_the_tap_could_not_sync() -> None:
    # The tap's own message, as Meltano relays it (a log line) and as it ends a bare tap run.
    error = ShopsFailedError(
        {"1002": "accounts: Big Cartel refused the credentials (401)", "1007": "orders: 503; x"}
    )
    report = ShardReport(["1001", "1002", "1007", "10"])
    report.read("2026-12-02T01:55:40Z [info     ] tap-bigcartel Beginning sync of 'orders'")
    assert report.failed_shops == []
    report.read(f"2026-12-02T01:55:40Z [error    ] tap-bigcartel {error} plugin_exc_message=...")
    report.read(f"tap_bigcartel.exceptions.ShopsFailedError: {error}")
    # A line the terminal width wrapped inside an id names no shop; an id not in the shard is
    # never reported (the report holds only ids the plan already has).
    report.read("ShopsFailedError: 1 shop(s) could not be synced: account 10")
    report.read("1 shop(s) could not be synced: account 9999: accounts: refused")
    assert report.failed_shops == ["1002", "1007"]
    assert report.skipped_shops == []


def test_shard_report_names_skipped_deauthorized_shops() -> None:
    report = ShardReport(["1001", "1002", "1003"])
    report.read(
        "2026-12-02T01:55:41Z [info     ] tap-bigcartel tap-bigcartel: skipped deauthorized "
        "shops: 1001, 1003, 4040 (reconnect with tap-bigcartel-connect --webhook-db-url or "
        "bigcartel-webhooks reconnect ID)"
    )
    assert report.skipped_shops == ["1001", "1003"]
    assert report.failed_shops == []


def test_strip_ansi_leaves_the_text_of_a_styled_line() -> None:
    styled = (
        "\x1b[1mShopsFailedError: \x1b[0m\x1b[1m1\x1b[0m \x1b[38;2;255;0;0mshop\x1b[0m "
        "\x1b]8;;file:///x\x1b\\link\x1b]8;;\x1b\\ \x1b[2m/work/\x1b[0m"
    )
    assert strip_ansi(styled) == "ShopsFailedError: 1 shop link /work/"
    assert strip_ansi("plain: account 1002: 401") == "plain: account 1002: 401"
