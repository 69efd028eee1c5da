"""A thread-safe record of the API calls a sandbox answered, for tests and benchmarks to count."""

from __future__ import annotations

import copy
import threading
from typing import Any


class RequestLog:
    """Entries ``{method, path, query, status, body}`` in the order they were answered.

    ``status`` is None when the sandbox dropped the connection instead of answering; ``body`` is
    the JSON a POST carried (None otherwise), so tests can count what was sent per order key.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        status: int | None,
        body: Any = None,
    ) -> None:
        """Append one answered (or deliberately unanswered) request."""
        entry = {
            "method": method,
            "path": path,
            "query": dict(query),
            "status": status,
            "body": body,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """A copy of every entry so far."""
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self) -> None:
        """Forget every entry, e.g. between the phases of a test."""
        with self._lock:
            self._entries.clear()
