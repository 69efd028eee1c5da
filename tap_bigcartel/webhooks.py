"""What the tap learns from the webhook receiver's store (``webhook_db_url``).

The API never lists deleted products and answers a deauthorized shop with 401 on every run; the
receiver hears of both (``product.deleted``, ``account.deauthorized``). Deletes are read over a
half-open window of the store's ``received_at`` ending ``webhook_settle_seconds`` before the
run started, so a delivery committed late (its ``received_at`` is stamped before its commit)
lands in the next run's window rather than behind a bookmark that already passed it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bigcartel_core.webhook_store import Disconnection, WebhookStore, consumer_errors

log = logging.getLogger(__name__)
#: Statuses of events to act on: not those the topic switches ignored, nor failed ones.
CONSUMABLE = ("received", "processed")


@dataclass(frozen=True)
class Delete:
    """A resource the shop deleted, and when the receiver heard of it."""

    id: str
    deleted_at: datetime


class WebhookFacts:
    """One run's reads of the webhook store; errors name ``webhook_db_url``, never the URL."""

    def __init__(self, url: str, settle_seconds: float) -> None:
        self._url = url
        #: The window's end, fixed for the whole run.
        self.cutoff = datetime.now(timezone.utc) - timedelta(seconds=settle_seconds)
        with consumer_errors(url):
            self._store = WebhookStore(url)

    def disconnected(self) -> dict[str, Disconnection]:
        with consumer_errors(self._url):
            return self._store.disconnected()

    def deletes(self, topic: str, account_id: str, since: datetime | None) -> list[Delete]:
        """Deletes of one shop received in ``[since, cutoff)``, oldest first; deliveries of a
        switched-off topic (stored as ``ignored``) do not count.

        An event whose payload names no id cannot become a record: it is marked failed in the
        store, where ``bigcartel-webhooks list --status failed`` shows it.
        """
        with consumer_errors(self._url):
            events = self._store.list_events(
                topic=topic, account_id=account_id, since=since, until=self.cutoff
            )
            found = []
            for event in events:
                if event.status not in CONSUMABLE:
                    continue
                resource_id = _payload_id(event.payload)
                if resource_id is None:
                    log.error("webhook event %s (%s) names no id; marked failed", event.id, topic)
                    self._store.mark_failed(event.id, f"{topic} payload without an id")
                    continue
                found.append(Delete(resource_id, event.received_at))
            return found

    def close(self) -> None:
        self._store.close()


def _payload_id(payload: str) -> str | None:
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value)
