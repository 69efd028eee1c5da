"""Signed webhook deliveries, sent from a background thread so no API request waits for them.

Each delivery is a POST of ``{"account_id", "type", "payload"}`` with ``X-Webhook-Signature``, the
lowercase hex HMAC-SHA256 of the raw body keyed with the app's client secret. A non-2xx answer or
a connection error is retried after each of the configured delays, then given up.

Not settled by the docs: the retry schedule (Big Cartel retries "at degrading intervals" for 7
days). Deliveries go out one at a time in the order the changes happened; one being retried holds
back those after it, which keeps a receiver's view in order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import requests


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One webhook and what became of it; ``statuses`` holds one entry per attempt, ``None``
    for a connection error."""

    url: str
    event_type: str
    body: bytes
    statuses: list[int | None] = field(default_factory=list)
    delivered: bool = False
    finished: bool = False


class WebhookSender:
    def __init__(self, secret: str, retry_delays: tuple[float, ...], timeout: float) -> None:
        self._secret = secret
        self._retry_delays = retry_delays
        self._timeout = timeout
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._worker: threading.Thread | None = None

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery queued so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def send(self, url: str, account_id: str, event_type: str, payload: dict[str, Any]) -> None:
        # Not settled by the docs: account_id is a number here, as in the OAuth token answer.
        envelope = {"account_id": int(account_id), "type": event_type, "payload": payload}
        delivery = Delivery(url, event_type, json.dumps(envelope).encode())
        with self._lock:
            self._deliveries.append(delivery)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run,
                    args=(self._queue,),
                    name="bigcartel-sandbox-webhooks",
                    daemon=True,
                )
                self._worker.start()
            self._queue.put(delivery)

    def close(self) -> None:
        """Stop the worker; deliveries still queued or waiting for a retry are dropped.

        A later ``send`` starts a new worker, so a stopped sandbox can be started again.
        """
        with self._lock:
            self._stopping.set()
            worker, self._worker = self._worker, None
            stale, self._queue = self._queue, queue.Queue()
        if worker is not None:
            stale.put(None)
            worker.join()
        self._stopping.clear()

    def _run(self, deliveries: queue.Queue[Delivery | None]) -> None:
        with requests.Session() as session:
            while (delivery := deliveries.get()) is not None:
                self._deliver(session, delivery)

    def _deliver(self, session: requests.Session, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Signature": signature(self._secret, delivery.body),
            "User-Agent": "bigcartel-sandbox webhooks",
        }
        for delay in (0.0, *self._retry_delays):
            if self._stopping.wait(delay):
                break
            try:
                response = session.post(
                    delivery.url, data=delivery.body, headers=headers, timeout=self._timeout
                )
                status: int | None = response.status_code
            except requests.RequestException:
                status = None
            delivery.statuses.append(status)
            if status is not None and 200 <= status < 300:
                delivery.delivered = True
                break
        delivery.finished = True
