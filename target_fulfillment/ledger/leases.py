"""Which worker owns a ``submitting`` row, and whether that worker is still alive.

A row in ``submitting`` may be settled (looked up at the warehouse, then failed or confirmed) only
once the worker that claimed it is gone: settling a live worker's row while its request is in
flight re-sends the order or leaves it ``failed`` although the warehouse has it. Liveness is not
guessed from clocks. Each worker holds a lock for as long as it runs, and the operating system or
the database server drops that lock when the process dies, so "the owner is gone" is a fact:

- PostgreSQL: a session-level advisory lock, held on a connection of its own. Another worker
  that can take the lock knows its holder's session has ended.
- SQLite: an exclusive ``flock`` on a file beside the database, which the kernel releases when
  the process exits, however it exits. An in-memory database lives in one process only.

A session-level lock needs a real server session: behind a transaction-pooling proxy (PgBouncer
in transaction mode) it would not be held, so point ``ledger_url`` at PostgreSQL itself.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import typing as t
import uuid
from pathlib import Path

import sqlalchemy as sa

# Any constant: the advisory lock namespace of ledger workers (two-key form: namespace, worker).
_LOCK_NAMESPACE = 0x6C65
_LOCAL_OWNERS: set[str] = set()


class WorkerLease(t.Protocol):
    """The lock that proves one worker alive; ``owner`` is what its claims record."""

    owner: str

    def alive(self, owner: str) -> bool:
        """Whether the worker that recorded ``owner`` still holds its lock."""
        ...

    def release(self) -> None: ...


class PostgresLease:
    """A session advisory lock on a connection kept open for the worker's life."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._connection = engine.connect()
        while True:
            number = secrets.randbits(31)
            taken = self._connection.scalar(
                sa.select(sa.func.pg_try_advisory_lock(_LOCK_NAMESPACE, number))
            )
            self._connection.commit()
            if taken:
                break
        self._number = number
        self.owner = f"pg:{number}"

    def alive(self, owner: str) -> bool:
        number = _number(owner, "pg:")
        if number is None:
            return False
        if owner == self.owner:
            return True
        with self._engine.connect() as conn:
            free = conn.scalar(sa.select(sa.func.pg_try_advisory_lock(_LOCK_NAMESPACE, number)))
            if free:
                conn.scalar(sa.select(sa.func.pg_advisory_unlock(_LOCK_NAMESPACE, number)))
            conn.commit()
        return not free

    def release(self) -> None:
        """Unlock first: a closed connection's server process lets go of its locks a moment
        after the client has moved on, and a worker that has finished is gone at once."""
        self._connection.scalar(
            sa.select(sa.func.pg_advisory_unlock(_LOCK_NAMESPACE, self._number))
        )
        self._connection.commit()
        self._connection.close()


class FileLease:
    """An exclusive flock on ``<database>.workers/<owner>.lock``, held while the worker runs."""

    def __init__(self, database: Path) -> None:
        self._folder = database.with_name(database.name + ".workers")
        self._folder.mkdir(parents=True, exist_ok=True)
        self.owner = f"file:{uuid.uuid4().hex}"
        self._path = self._lock_path(self.owner)
        self._fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def _lock_path(self, owner: str) -> Path:
        return self._folder / f"{owner.removeprefix('file:')}.lock"

    def alive(self, owner: str) -> bool:
        name = owner.removeprefix("file:")
        if not owner.startswith("file:") or not name.isalnum():
            return False
        if owner == self.owner:
            return True
        path = self._lock_path(owner)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)
        return False

    def release(self) -> None:
        self._path.unlink(missing_ok=True)
        os.close(self._fd)


class LocalLease:
    """For an in-memory SQLite ledger, which no other process can open."""

    def __init__(self) -> None:
        self.owner = f"local:{uuid.uuid4().hex}"
        _LOCAL_OWNERS.add(self.owner)

    def alive(self, owner: str) -> bool:
        return owner in _LOCAL_OWNERS

    def release(self) -> None:
        _LOCAL_OWNERS.discard(self.owner)


def acquire(engine: sa.Engine) -> WorkerLease:
    """The lease of a new worker on this ledger's database."""
    if engine.dialect.name == "postgresql":
        return PostgresLease(engine)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return LocalLease()
    return FileLease(Path(database))


def _number(owner: str, prefix: str) -> int | None:
    text = owner.removeprefix(prefix)
    return int(text) if owner.startswith(prefix) and text.isdigit() else None
