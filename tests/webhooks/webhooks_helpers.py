"""Helpers shared by the webhook receiver tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

import bigcartel_webhooks
from bigcartel_core.webhook_store import WebhookStore
from bigcartel_webhooks.app import signature

SECRET = "test-client-secret"
ALL_TOPICS = ("orders", "products", "account")
# The subprocess imports the package from this checkout even before it is installed.
REPO = str(Path(bigcartel_webhooks.__file__).resolve().parents[1])


def envelope(topic: str = "order.updated", account_id: int = 101, **payload: t.Any) -> bytes:
    """A delivery body shaped as Big Cartel (and the emulator) send it."""
    return json.dumps({"account_id": account_id, "type": topic, "payload": payload}).encode()


@dataclass
class Receiver:
    url: str
    store: WebhookStore

    def post(
        self,
        body: bytes,
        sig: str | None = "sign",
        session: requests.Session | None = None,
    ) -> requests.Response:
        """POST ``body``; ``sig="sign"`` signs it correctly, None sends no signature."""
        headers = {"Content-Type": "application/json"}
        if sig == "sign":
            sig = signature(SECRET, body)
        if sig is not None:
            headers["X-Webhook-Signature"] = sig
        poster = session or requests
        return poster.post(self.url, data=body, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    """A ``bigcartel-webhooks serve`` process on ``port`` of 127.0.0.1; ``output`` is all it
    printed, once it has stopped."""

    process: subprocess.Popen[str]
    port: int
    output: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/bigcartel"


@contextmanager
def served(db_url: str, *options: str, secret: str = SECRET, **popen: t.Any) -> Iterator[Served]:
    """Run the real command on a free port until the block ends; ready once it prints its banner
    (it prints after binding), so no retry loop is needed. ``popen`` goes to subprocess.Popen."""
    port = free_port()
    env = {**os.environ, "BIGCARTEL_CLIENT_SECRET": secret, "PYTHONPATH": REPO}
    command = [sys.executable, "-m", "bigcartel_webhooks", "--db", db_url, "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )
    assert process.stdout is not None
    server = Served(process, port, process.stdout.readline())
    try:
        if not server.output.startswith("receiving"):
            process.wait(timeout=20)
            raise AssertionError(f"serve did not start: {server.output}{process.stdout.read()}")
        yield server
    finally:
        process.terminate()
        server.output += process.communicate(timeout=20)[0]
