"""Split many Big Cartel shops into K shards, one ``meltano run`` per shard. No Airflow here.

Everything in this module is pure (or touches only the shop source it is pointed at), so it is
tested in the project venv and imported by the Airflow DAG (``orchestrate/dags``) unchanged.

Shops
    ``load_shops(source)`` reads ``[{account_id, access_token}, ...]`` from a JSON file, an
    environment variable or a SQL table (see its docstring). Tokens are secrets: a ``Shop``'s repr
    hides its token, error messages name account ids only, and the DAG passes tokens to ``meltano``
    through the environment of the child process (never argv, task ids, XCom or templates).

Assignment, and what happens when K changes
    A shop's shard is ``jump_hash(sha256(account_id), K)`` (Lamping & Veach's jump consistent
    hash). It depends on the account id and K only: adding or removing other shops never moves a
    shop, and the order of the source does not matter. Balance is statistical (a binomial spread
    around ``n/K``: for 1,000 shops in 4 shards, within a few percent), not exact; that is the price
    of stability, since an exact split (sorted round-robin) moves shops whenever one is added.

    State is per shard: Meltano keeps it under
    ``<env>:tap-bigcartel-to-target-fulfillment:shard-<i>`` and inside it the tap keeps one
    partition per ``account_id``. Changing K moves shops between shards: with jump hashing, going
    from K to K+1 moves only about 1/(K+1) of the shops (mod-K hashing would move K/(K+1) of them),
    and shrinking K moves the shops of the removed shards. A moved shop finds no bookmark under its
    new shard id and re-syncs from ``start_date``; that is safe (target-fulfillment's ledger never
    sends an order twice) but costs a full read of those shops. To avoid it, migrate the state
    before the first run with the new K: ``regroup_state(old_states, shops, new_k)`` merges every
    shop's partitions into the state of its new shard; ``python -m orchestrate.sharding regroup
    --env prod --old-k 4 --new-k 8 SOURCE``
    does it through ``meltano state get`` / ``meltano state set --force``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "DEFAULT_SHARDS",
    "ShardReport",
    "Shop",
    "ShopSourceError",
    "assign_shard",
    "load_shops",
    "parse_shops",
    "regroup_state",
    "shard",
    "shard_command",
    "shard_suffix",
    "state_id",
    "strip_ansi",
    "write_secret_json",
]

DEFAULT_SHARDS = 4
TAP = "tap-bigcartel"
TARGET = "target-fulfillment"
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class ShopSourceError(ValueError):
    """The shop list cannot be read or is invalid. Messages never contain a token."""


@dataclass(frozen=True, order=True)
class Shop:
    """One Big Cartel shop. The token is left out of repr and comparisons."""

    account_id: str
    access_token: str = field(repr=False, compare=False)

    def as_setting(self) -> dict[str, str]:
        """The shop as an element of the tap's / target's ``accounts`` setting."""
        return {"account_id": self.account_id, "access_token": self.access_token}


# --- loading -----------------------------------------------------------------------------------


def load_shops(source: str) -> list[Shop]:
    """Read the shop list named by ``source``, sorted by account id.

    ``source`` is one of:

    * ``env:VARNAME``: the environment variable holds the JSON;
    * ``file:///path/shops.json`` or a plain path: a JSON file;
    * ``<SQLAlchemy URL>#<table>``, e.g. ``sqlite:////srv/shops.db#shops`` or
      ``postgresql+psycopg://user@host/db#public.shops``: the table's ``account_id`` and
      ``access_token`` columns (rows with an empty token are refused, not skipped).

    The JSON is a list of ``{"account_id", "access_token"}`` objects, or an object with such a
    list under ``accounts`` (a tap config). Account ids must be unique.
    """
    source = source.strip()
    if not source:
        raise ShopSourceError("no shop source given")
    if source.startswith("env:"):
        name = source[len("env:") :]
        if name not in os.environ:
            raise ShopSourceError(f"environment variable {name!r} is not set")
        return parse_shops(_json(os.environ[name], f"environment variable {name!r}"))
    scheme = source.split(":", 1)[0].split("+", 1)[0].lower() if ":" in source else ""
    if scheme in _SQL_SCHEMES:
        return _load_sql(source)
    if scheme == "file":
        path = Path(unquote(urlsplit(source).path))
    elif scheme and "://" in source:
        raise ShopSourceError(f"unsupported shop source scheme {scheme!r}")
    else:
        path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ShopSourceError(f"cannot read shop file {str(path)!r}: {error.strerror}") from None
    return parse_shops(_json(text, f"shop file {str(path)!r}"))


def parse_shops(data: Any) -> list[Shop]:
    """Validate decoded JSON (or rows) into shops, sorted by account id."""
    if isinstance(data, Mapping) and "accounts" in data:
        data = data["accounts"]
    if not isinstance(data, list):
        raise ShopSourceError("the shop list must be a JSON array of {account_id, access_token}")
    shops: dict[str, Shop] = {}
    for position, entry in enumerate(data):
        if not isinstance(entry, Mapping):
            raise ShopSourceError(f"shop #{position} is not an object")
        account_id = entry.get("account_id")
        if isinstance(account_id, int) and not isinstance(account_id, bool):
            account_id = str(account_id)
        if not isinstance(account_id, str) or not account_id.strip():
            raise ShopSourceError(f"shop #{position} has no account_id")
        account_id = account_id.strip()
        token = entry.get("access_token")
        if not isinstance(token, str) or not token:
            raise ShopSourceError(f"shop {account_id!r} has no access_token")
        if account_id in shops:
            raise ShopSourceError(f"shop {account_id!r} is listed twice")
        shops[account_id] = Shop(account_id, token)
    return sorted(shops.values())


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # The message of a JSONDecodeError holds no document text, only the position.
        raise ShopSourceError(
            f"{what} is not valid JSON ({error.msg}, line {error.lineno})"
        ) from None


def _load_sql(source: str) -> list[Shop]:
    url, sep, table = source.rpartition("#")
    if not sep or not url or not _TABLE_NAME.match(table):
        raise ShopSourceError(
            "a SQL shop source is '<SQLAlchemy URL>#<table>' (table: name or schema.name)"
        )
    import sqlalchemy  # only SQL sources need it

    try:
        engine = sqlalchemy.create_engine(url)
    except Exception as error:  # bad URL or missing driver; never echo the URL (password)
        raise ShopSourceError(f"cannot open the shop database: {type(error).__name__}") from None
    schema, _, name = table.rpartition(".")
    shops_table = sqlalchemy.table(
        name,
        sqlalchemy.column("account_id"),
        sqlalchemy.column("access_token"),
        schema=schema or None,
    )
    query = sqlalchemy.select(shops_table.c.account_id, shops_table.c.access_token)
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    except sqlalchemy.exc.SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or type(error).__name__).splitlines()[0]
        raise ShopSourceError(f"cannot read table {table!r}: {detail}") from None
    finally:
        engine.dispose()
    return parse_shops([{"account_id": row[0], "access_token": row[1]} for row in rows])


# --- assignment ----------------------------------------------------------------------------------


def _jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash (Lamping & Veach 2014): a bucket in ``range(buckets)``."""
    bucket, jump = -1, 0
    while jump < buckets:
        bucket = jump
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        jump = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def assign_shard(account_id: str, k: int) -> int:
    """The shard (``0 <= shard < k``) of a shop: a function of its account id and ``k`` only."""
    if k < 1:
        raise ValueError("the number of shards must be at least 1")
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return _jump_hash(int.from_bytes(digest[:8], "big"), k)


def shard(shops: Iterable[Shop], k: int) -> list[list[Shop]]:
    """Split shops into ``k`` lists (some may be empty), each sorted by account id."""
    groups: list[list[Shop]] = [[] for _ in range(k if k >= 1 else 0)]
    if not groups:
        raise ValueError("the number of shards must be at least 1")
    for shop in shops:
        groups[assign_shard(shop.account_id, k)].append(shop)
    for group in groups:
        group.sort()
    return groups


# --- running a shard -----------------------------------------------------------------------------


def shard_suffix(shard_index: int) -> str:
    return f"shard-{shard_index}"


def state_id(env: str, shard_index: int, tap: str = TAP, target: str = TARGET) -> str:
    """Meltano's state id of a shard's runs: ``<env>:<tap>-to-<target>:shard-<i>``."""
    return f"{env}:{tap}-to-{target}:{shard_suffix(shard_index)}"


def _env_var(plugin: str, setting: str) -> str:
    """Meltano's environment variable of a plugin setting (``TAP_BIGCARTEL_ACCOUNTS``)."""
    return re.sub(r"[^A-Za-z0-9]", "_", f"{plugin}_{setting}").upper()


def shard_command(
    shard_index: int,
    shops: Sequence[Shop],
    env: str,
    *,
    meltano: str | Sequence[str] = "meltano",
    tap: str = TAP,
    target: str = TARGET,
    write_back: bool = True,
) -> tuple[list[str], dict[str, str]]:
    """The ``meltano run`` of one shard: ``(argv, environment variables to add)``.

    The shard's shops go into ``<TAP>_ACCOUNTS`` (and ``<TARGET>_ACCOUNTS`` for write-back) as a
    JSON array: Meltano parses an ``array`` setting given in an environment variable with
    ``json.loads`` and env vars win over meltano.yml. argv holds no token; the env vars do, so give
    them to the child process only (never log them).
    """
    if not shops:
        raise ValueError(f"shard {shard_index} has no shops")
    prefix = [meltano] if isinstance(meltano, str) else list(meltano)
    argv = [
        *prefix,
        "--environment",
        env,
        "run",
        tap,
        target,
        "--state-id-suffix",
        shard_suffix(shard_index),
    ]
    accounts = json.dumps([shop.as_setting() for shop in shops], separators=(",", ":"))
    env_vars = {_env_var(tap, "accounts"): accounts}
    if write_back:
        env_vars[_env_var(target, "accounts")] = accounts
    return argv, env_vars


def write_secret_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write JSON to a file created readable by its owner only (0600), whatever the umask."""
    target = Path(path)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return target


# ECMA-48 escape sequences: CSI (``ESC [ ... final``, colours and styles), OSC (``ESC ] ... BEL``
# or ``ESC \\``, e.g. hyperlinks) and the two-byte ones.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences (a task log is no terminal)."""
    return _ANSI.sub("", text)


class ShardReport:
    """What a shard's output says about its shops: read it line by line as it is relayed.

    tap-bigcartel ends a run on one plain stderr line (``report_shops`` in ``tap_bigcartel/tap.py``;
    Meltano relays it as a log line of ``tap-bigcartel``):

    * a failed run: ``... N shop(s) could not be synced: account 1002: <why>; account 1007: <why>``
    * a run that skipped deauthorized shops: ``... skipped deauthorized shops: 1001, 1002 (...)``

    Only account ids of the shard itself are kept (the reason text is the tap's, scrubbed of
    tokens; it is never copied here), so a report holds nothing but ids the plan already has.
    """

    _FAILED = re.compile(r"shop\(s\) could not be synced: (.*)")
    _FAILED_ACCOUNT = re.compile(r"(?:^|; )account ([^\s:;]+): ")
    _SKIPPED = re.compile(r"skipped deauthorized shops: ([^(]*)")

    def __init__(self, account_ids: Iterable[str]) -> None:
        self._ids = set(account_ids)
        self._failed: set[str] = set()
        self._skipped: set[str] = set()

    def read(self, line: str) -> None:
        failed = self._FAILED.search(line)
        if failed:
            found = self._FAILED_ACCOUNT.findall(failed.group(1))
            self._failed.update(found_id for found_id in found if found_id in self._ids)
        skipped = self._SKIPPED.search(line)
        if skipped:
            found = (part.strip() for part in skipped.group(1).split(","))
            self._skipped.update(found_id for found_id in found if found_id in self._ids)

    @property
    def failed_shops(self) -> list[str]:
        """The shard's shops the tap named as not synced, sorted."""
        return sorted(self._failed)

    @property
    def skipped_shops(self) -> list[str]:
        """The shard's deauthorized shops the tap skipped (not a failure), sorted."""
        return sorted(self._skipped)


# --- state migration when K changes --------------------------------------------------------------


def regroup_state(
    states: Iterable[Mapping[str, Any] | None], shops: Iterable[Shop], new_k: int
) -> list[dict[str, Any]]:
    """Singer states of ``new_k`` shards from the states of the old shards.

    Every per-shop partition (``context.account_id``) goes to the new shard of its shop; shops no
    longer listed are dropped. Bookmarks that are not per shop (e.g. ``countries``) are copied to
    every new shard. Accepts Meltano's ``{"singer_state": ...}`` wrapper or a bare Singer state,
    and returns bare Singer states (wrap them for ``meltano state set``).
    """
    by_shop = {shop.account_id: assign_shard(shop.account_id, new_k) for shop in shops}
    result: list[dict[str, Any]] = [{"bookmarks": {}} for _ in range(new_k)]
    for state in states:
        if not state:
            continue
        singer_state = state.get("singer_state", state)
        for stream, bookmark in (singer_state.get("bookmarks") or {}).items():
            partitions = bookmark.get("partitions") if isinstance(bookmark, Mapping) else None
            shared = {key: value for key, value in bookmark.items() if key != "partitions"}
            for new_state in result:
                entry = new_state["bookmarks"].setdefault(stream, {})
                for key, value in shared.items():
                    entry.setdefault(key, copy.deepcopy(value))
                if partitions is not None:
                    entry.setdefault("partitions", [])
            for partition in partitions or []:
                account_id = str((partition.get("context") or {}).get("account_id", ""))
                if account_id in by_shop:
                    target = result[by_shop[account_id]]["bookmarks"][stream]["partitions"]
                    target.append(copy.deepcopy(partition))
    for new_state in result:
        for bookmark in new_state["bookmarks"].values():
            bookmark.get("partitions", []).sort(
                key=lambda partition: json.dumps(partition.get("context"), sort_keys=True)
            )
    return result


def _regroup_cli(args: argparse.Namespace) -> int:  # pragma: no cover - exercised by hand
    shops = load_shops(args.source)
    meltano = args.meltano.split()
    old_states = []
    for index in range(args.old_k):
        result = subprocess.run(
            [*meltano, "--environment", args.env, "state", "get", state_id(args.env, index)],
            capture_output=True,
            text=True,
            check=False,
        )
        old_states.append(json.loads(result.stdout) if result.returncode == 0 else None)
    new_states = regroup_state(old_states, shops, args.new_k)
    for index, new_state in enumerate(new_states):
        payload = json.dumps({"singer_state": new_state})
        if args.dry_run:
            print(f"{state_id(args.env, index)} {payload}")
            continue
        subprocess.run(
            [
                *meltano,
                "--environment",
                args.env,
                "state",
                "set",
                "--force",
                state_id(args.env, index),
                payload,
            ],
            check=True,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI
    parser = argparse.ArgumentParser(prog="python -m orchestrate.sharding")
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="print which shard each shop goes to (no tokens)")
    plan.add_argument("source")
    plan.add_argument("-k", type=int, default=DEFAULT_SHARDS)
    regroup = commands.add_parser("regroup", help="move per-shop state from K_old to K_new shards")
    regroup.add_argument("source")
    regroup.add_argument("--env", required=True)
    regroup.add_argument("--old-k", type=int, required=True)
    regroup.add_argument("--new-k", type=int, required=True)
    regroup.add_argument("--meltano", default="meltano")
    regroup.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "plan":
        for index, group in enumerate(shard(load_shops(args.source), args.k)):
            print(json.dumps({"shard": index, "account_ids": [s.account_id for s in group]}))
        return 0
    return _regroup_cli(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
