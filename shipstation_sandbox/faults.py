"""The lost-answer fault: a create call that is applied but whose answer never arrives.

The ambiguous case a client must settle by lookup; both sandboxes arm it the same way.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http import HTTPStatus

from flask import Response, g, request


class LostAnswers:
    """How many of the next successful create calls go unanswered; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = 0

    def arm(self, n: int = 1) -> None:
        """Drop the answers of the next ``n`` create calls (after they are applied)."""
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            self._pending += n

    @property
    def pending(self) -> int:
        """How many of the losses asked for have not happened yet."""
        with self._lock:
            return self._pending

    def take(self) -> bool:
        """Use up one loss; true when the current create call must go unanswered."""
        with self._lock:
            if self._pending == 0:
                return False
            self._pending -= 1
            return True


def unanswered(hang_seconds: float, stopping: threading.Event) -> Response:
    """Hold the connection, then close it without a status line (needs werkzeug's server).

    The call is already applied, so the client cannot tell from its side whether it worked: the
    ambiguous failure an exactly-once client has to reconcile. The socket is shut only once the
    response is being written, after the app's ``after_request`` hooks (the request log) ran, so
    the log holds this call before the client can send its next one.
    """
    stopping.wait(hang_seconds)
    connection: socket.socket = request.environ["werkzeug.socket"]
    g.dropped = True

    def drop() -> Iterator[bytes]:
        # The client may have given up and closed its end already.
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        # Never delivered: werkzeug's write hits the closed socket and treats that as a drop.
        yield b""

    return Response(drop(), status=HTTPStatus.GATEWAY_TIMEOUT)
