"""Edit variables of a dotenv file safely while other processes may be editing it too.

The file is read with python-dotenv's own parser, the one Meltano reads it with, so the
assignment edited is the one in effect (the last one) and everything else (comments, other
lines, their order, multi-line values) is written back exactly as it was. The edit happens under
an exclusive lock and the file is replaced atomically, through a symlink to its real target.

``update_env_file`` is the one edit made through it: adding or removing a shop in the Meltano
variables that list the shops' tokens (``ENV_VARS``).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dotenv.parser import Binding, parse_stream

from bigcartel_core.oauth import Grant

_BOM = "\ufeff"
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPORT = re.compile(r"export[^\S\r\n]+")
_COMMENT_START = re.compile(r"[^\S\r\n]+#")

#: The Meltano env vars of the tap and the target, each a JSON array of
#: ``{account_id, access_token}``; a shop is added to or removed from both at once.
ENV_VARS = ("TAP_BIGCARTEL_ACCOUNTS", "TARGET_FULFILLMENT_ACCOUNTS")


class EnvFileError(Exception):
    """The env file cannot be updated; the message says why in words for the user."""


def quote(value: str) -> str:
    """Single quotes: dotenv does not interpolate ``${...}`` there; only ``\\`` and ``'`` escape."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class EnvFile:
    """The bindings of one env file as read; ``set`` rewrites only the assignment in effect."""

    def __init__(self, text: str) -> None:
        # The parser drops a byte-order mark; keep it so that the file changes only where set.
        self._bom = _BOM if text.startswith(_BOM) else ""
        self._bindings: list[Binding] = list(parse_stream(io.StringIO(text)))
        self._texts = [binding.original.string for binding in self._bindings]
        self._appended: dict[str, str] = {}
        self.changed = False

    def _last(self, key: str) -> int | None:
        """dotenv lets a later assignment override an earlier one, so the last one counts."""
        for index in range(len(self._bindings) - 1, -1, -1):
            if self._bindings[index].key == key:
                return index
        return None

    def get(self, key: str) -> str | None:
        """The value dotenv reads for ``key``, before any ``set``; None if unset or bare."""
        index = self._last(key)
        return None if index is None else self._bindings[index].value

    def set(self, key: str, value: str) -> None:
        """Replace the assignment in effect, keeping its ``export`` and line ending, or append."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a variable name: {key!r}")
        assignment = f"{key}={quote(value)}"
        index = self._last(key)
        if index is None:
            self._appended[key] = assignment
        else:
            binding = self._bindings[index]
            original = binding.original.string
            body = original.strip()
            leading = original[: len(original) - len(original.lstrip())]  # blank lines before
            ending = original[len(original.rstrip()) :]
            export = _EXPORT.match(body)
            self._texts[index] = "".join(
                (
                    leading,
                    export.group() if export else "",
                    assignment,
                    _inline_comment(binding, body),
                    ending,
                )
            )
        self.changed = True

    def render(self) -> str:
        text = "".join(self._texts)
        if self._appended:
            if text and not text.endswith(("\n", "\r")):
                text += "\n"
            text += "".join(f"{line}\n" for line in self._appended.values())
        return self._bom + text


def _inline_comment(binding: Binding, body: str) -> str:
    """The `` # ...`` after the value: the cut at which dotenv still reads the same binding.

    Asking the parser instead of matching quotes here keeps one notion of where a value ends.
    """
    for match in _COMMENT_START.finditer(body):
        prefix = list(parse_stream(io.StringIO(body[: match.start()])))
        if len(prefix) == 1 and (prefix[0].key, prefix[0].value) == (binding.key, binding.value):
            return body[match.start() :]
    return ""


@contextlib.contextmanager
def edit(path: Path) -> Iterator[EnvFile]:
    """Read, let the caller ``set`` values, and write back if anything changed, all under lock.

    A symlink is followed to its real target, which is what gets replaced, so the link stays a
    link. Nothing is written if the caller raises.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.with_name(f"{target.name}.lock")):
        try:
            with open(target, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except FileNotFoundError:
            text = ""
        env = EnvFile(text)
        yield env
        if env.changed:
            _write_atomically(target, env.render())


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on a sidecar file, which, unlike the env file, is never renamed over.

    Locking the env file itself would not do: the atomic rename gives it a new inode, and a
    writer that waited on the old one would then edit what it read before the other's write.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_atomically(path: Path, text: str) -> None:
    """Temp file beside ``path``, fsynced and renamed over it: readers see old or new, never half.

    Created with mode 0600, because the file holds tokens.
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def update_env_file(env_file: Path, *, add: Grant | None = None, remove: str | None = None) -> bool:
    """Add or remove one shop in both variables, keeping every other line as it was.

    Read, changed and written under the env file's lock, so connects running at the same time
    all land; the write is atomic, with mode 0600 because the file holds tokens. Returns whether
    the removed shop was present.
    """
    target = add.account_id if add else remove
    found = False
    try:
        with edit(env_file) as env:
            for name in ENV_VARS:
                accounts = _parse_accounts(name, env.get(name), env_file)
                kept = [entry for entry in accounts if entry["account_id"] != target]
                found = found or len(kept) != len(accounts)
                if add:
                    kept.append({"account_id": add.account_id, "access_token": add.access_token})
                if kept != accounts:
                    env.set(name, json.dumps(kept, separators=(",", ":")))
    except OSError as error:
        raise EnvFileError(f"Cannot update {env_file}: {error.strerror or error}.") from None
    return found


def _parse_accounts(name: str, value: str | None, env_file: Path) -> list[dict[str, str]]:
    """The entries as written, other keys kept: this edits the list, the tap validates it."""
    if not value:
        return []
    try:
        accounts = json.loads(value)
    except ValueError:
        accounts = None
    if not isinstance(accounts, list) or not all(
        isinstance(entry, dict) and "account_id" in entry for entry in accounts
    ):
        raise EnvFileError(
            f"{name} in {env_file} is not a JSON array of {{account_id, access_token}}; "
            "fix or remove it first."
        )
    return [{**entry, "account_id": str(entry["account_id"])} for entry in accounts]
