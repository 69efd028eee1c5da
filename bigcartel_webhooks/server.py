"""The receiver served by waitress: a bounded worker pool, an idle timeout, a connection limit.

werkzeug's threaded server started a thread per connection and never timed an idle one out, so
2,000 idle connections held 2,002 threads (issue 9). waitress reads every connection in one
event loop and hands only complete requests to ``threads`` workers; it closes a connection that
has sent nothing for ``channel_timeout`` seconds, and at ``connection_limit`` open connections it
stops accepting, so newer ones wait in the listen backlog until older ones close.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any

from flask import Flask
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.server import create_server as waitress_server

DEFAULT_THREADS = 8  # the store's pool holds 16 connections (bigcartel_core.webhook_store)
# Seconds: a delivery is one small POST sent at once; a sender silent this long is gone.
DEFAULT_CHANNEL_TIMEOUT = 10
# An idle connection costs about 2.5 KiB and no thread, so the limit is high: past it, a delivery
# waits in the backlog until idle connections time out (benchmarks/receiver_idle_benchmark.py).
DEFAULT_CONNECTION_LIMIT = 4000
# Open files besides the connections: the listening socket, waitress's wake-up pipe, the store's
# database files, stdio.
SPARE_FILES = 64


@dataclass(frozen=True)
class Limits:
    """How much the server holds at most; waitress takes whole seconds for the timeout."""

    threads: int = DEFAULT_THREADS
    channel_timeout: int = DEFAULT_CHANNEL_TIMEOUT
    connection_limit: int = DEFAULT_CONNECTION_LIMIT


def create_server(
    app: Flask, host: str, port: int, limits: Limits, max_body_bytes: int
) -> MultiSocketServer | BaseWSGIServer:
    """A waitress server bound to ``host:port`` (``port`` 0 picks one); ``run()`` serves until
    SIGINT or SystemExit. Raises ValueError when the open-files limit cannot fit the connections.
    """
    ensure_open_files(limits.connection_limit + SPARE_FILES)
    return waitress_server(
        app,
        host=host,
        port=port,
        threads=limits.threads,
        channel_timeout=limits.channel_timeout,
        connection_limit=limits.connection_limit,
        # Idle connections are looked for every second (waitress: every 30 s), so one is closed
        # within about a second of its timeout; each turn of the event loop visits them all anyway.
        cleanup_interval=1,
        # select() cannot watch descriptors numbered past 1,024; poll() can.
        asyncore_use_poll=True,
        # waitress buffers a whole body before the app sees it, so it must refuse an oversized
        # one itself, from Content-Length before reading it (413). It refuses at this size, so
        # a body of exactly max_body_bytes passes. For a chunked body it counts the chunk
        # framing too, so a chunked body just under the limit may be refused.
        max_request_body_size=max_body_bytes + 1,
    )


def addresses(server: Any) -> list[tuple[str, int]]:
    """The (host, port) pairs served: one per address ``host`` resolved to."""
    listening = getattr(server, "effective_listen", None)
    return list(listening) if listening else [(server.effective_host, server.effective_port)]


def ensure_open_files(needed: int) -> None:
    """Raise the soft open-files limit to ``needed`` if it is lower, or refuse (ValueError) if the
    hard limit is: at the limit accept() fails, and waitress logs and retries it without end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ValueError(
            f"the connection limit needs {needed} open files, and the hard limit is {hard}:"
            " lower --connection-limit or raise the limit (ulimit -n)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
