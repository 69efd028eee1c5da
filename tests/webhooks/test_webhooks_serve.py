"""``bigcartel-webhooks serve`` as a process: idle connections, its limits, the body limit.

Issue 9: 2,000 idle connections held 2,002 threads of the receiver and were never closed. These
tests run the real command on 127.0.0.1 and hold idle sockets against it.
"""

from __future__ import annotations

import http.client
import os
import resource
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from webhooks_helpers import REPO, SECRET, envelope, served

from bigcartel_core.webhook_store import WebhookStore
from bigcartel_webhooks.__main__ import main
from bigcartel_webhooks.app import signature

IDLE = 200
THREADS = 4
CHANNEL_TIMEOUT = 3
# Worker threads plus the event loop's; anything more is a thread per connection creeping back.
THREAD_BOUND = THREADS + 2
# How long past the channel timeout the server may take to close an idle socket: it checks once
# a second, and a loaded CI machine is slow.
CLOSE_GRACE = 30


def _wait_until_closed(sockets: list[socket.socket], deadline: float) -> dict[int, float]:
    """When each socket saw the server close it (recv gave EOF or a reset), by index, polling
    their recv until ``deadline``; sockets still open then are missing from the answer."""
    closed: dict[int, float] = {}
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(sockets):
            selector.register(sock, selectors.EVENT_READ, index)
        while len(closed) < len(sockets) and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=remaining):
                try:
                    data = key.fileobj.recv(1)  # type: ignore[union-attr]
                except ConnectionResetError:
                    data = b""
                assert data == b"", "the server sent something on an idle connection"
                closed[key.data] = time.monotonic()
                selector.unregister(key.fileobj)
    return closed


def test_idle_connections_hold_no_threads_block_no_delivery_and_are_closed(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'served.db'}"
    options = ("--threads", str(THREADS), "--channel-timeout", str(CHANNEL_TIMEOUT))
    with served(db, *options, "--connection-limit", str(IDLE + 50)) as server:
        process = psutil.Process(server.process.pid)
        idle: list[socket.socket] = []
        connected: list[float] = []
        try:
            for _ in range(IDLE):
                connected.append(time.monotonic())
                idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))

            # The server accepts in order, so once this delivery is answered it has accepted
            # every idle connection before it.
            body = envelope("order.created", 31, id="7")
            headers = {"X-Webhook-Signature": signature(SECRET, body)}
            response = requests.post(server.url, data=body, headers=headers, timeout=10)
            answered = time.monotonic()
            threads = process.num_threads()
            held = [
                c
                for c in process.net_connections(kind="tcp")
                if c.laddr.port == server.port and c.status == psutil.CONN_ESTABLISHED
            ]

            assert response.status_code == 200
            assert len(held) >= IDLE
            assert threads <= THREAD_BOUND, f"{threads} threads for {IDLE} idle connections"

            closed = _wait_until_closed(idle, answered + CHANNEL_TIMEOUT + CLOSE_GRACE)
            assert len(closed) == IDLE, f"{IDLE - len(closed)} idle connections still open"
            assert answered < min(closed.values()), "idle connections closed before the delivery"
            # Closed by the timeout, not before it (0.1 s for the server's wall clock vs ours).
            idle_for = [closed[i] - connected[i] for i in range(IDLE)]
            assert min(idle_for) >= CHANNEL_TIMEOUT - 0.1
            assert process.num_threads() <= THREAD_BOUND
        finally:
            for sock in idle:
                sock.close()
    store = WebhookStore(db)
    assert [(e.topic, e.account_id) for e in store.list_events()] == [("order.created", "31")]
    store.close()


def test_served_receiver_refuses_an_oversized_body_before_reading_it(tmp_path: Path) -> None:
    limit = 1024
    with served(f"sqlite:///{tmp_path / 'served.db'}", "--max-body-bytes", str(limit)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            # Declare 10 MiB and send none of it: the answer must come from the header alone.
            connection.putrequest("POST", "/webhooks/bigcartel")
            connection.putheader("Content-Length", str(10 * 1024 * 1024))
            connection.putheader("X-Webhook-Signature", "0" * 64)
            connection.endheaders()
            assert connection.getresponse().status == 413
        finally:
            connection.close()
        at_limit = envelope(note="")
        at_limit = envelope(note="x" * (limit - len(at_limit)))
        assert len(at_limit) == limit
        headers = {"X-Webhook-Signature": signature(SECRET, at_limit)}
        assert requests.post(server.url, data=at_limit, headers=headers, timeout=10).ok
        headers = {"X-Webhook-Signature": signature(SECRET, at_limit + b" ")}
        response = requests.post(server.url, data=at_limit + b" ", headers=headers, timeout=10)
        assert response.status_code == 413


def _open_files_limit(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_serve_raises_the_open_files_limit_for_its_connections_or_refuses(
    tmp_path: Path,
) -> None:
    """At the open-files limit accept() fails and the server would spin on it; so serve raises
    the soft limit to fit --connection-limit, and refuses to start when the hard limit is lower."""
    db = f"sqlite:///{tmp_path / 'served.db'}"
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard >= 2000, "this test needs 2,000 open files"
    with served(
        db, "--connection-limit", "1000", preexec_fn=lambda: _open_files_limit(256, hard)
    ) as server:
        soft, _ = psutil.Process(server.process.pid).rlimit(psutil.RLIMIT_NOFILE)
        assert soft > 1000

    command = [sys.executable, "-m", "bigcartel_webhooks", "--db", db, "serve"]
    refused = subprocess.run(
        [*command, "--connection-limit", "1000"],
        env={**os.environ, "BIGCARTEL_CLIENT_SECRET": SECRET, "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: _open_files_limit(256, 256),
        check=False,
    )
    assert refused.returncode == 2
    assert "open files" in refused.stderr


@pytest.mark.parametrize("option", ["--threads", "--channel-timeout", "--connection-limit"])
def test_serve_limits_must_be_positive(option: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--db", f"sqlite:///{tmp_path / 'x.db'}", "serve", option, "0"])
    assert exit_.value.code == 2
