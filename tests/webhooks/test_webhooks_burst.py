"""A burst from many concurrent senders: every distinct delivery stored exactly once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from webhooks_helpers import Receiver, envelope

from bigcartel_core.webhook_store import delivery_key

SENDERS = 16
DELIVERIES = 1_000
DUPLICATES = 100


def test_burst_of_signed_deliveries_is_stored_exactly_once(receiver: Receiver) -> None:
    rng = random.Random(3)
    unique = [
        envelope(rng.choice(["order.updated", "product.updated"]), 100 + n % 5, id=str(n))
        for n in range(DELIVERIES - DUPLICATES)
    ]
    # 100 of the 1,000 deliveries repeat an earlier body, as Big Cartel's retries would.
    bodies = unique + rng.sample(unique, DUPLICATES)
    rng.shuffle(bodies)
    local = threading.local()

    def send(body: bytes) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return receiver.post(body, session=local.session).status_code

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        statuses = list(pool.map(send, bodies))

    assert Counter(statuses) == {200: DELIVERIES}
    events = receiver.store.list_events()
    assert len(events) == len(unique)
    assert Counter(e.delivery_key for e in events).most_common(1)[0][1] == 1
    assert {e.delivery_key for e in events} == {delivery_key(body) for body in unique}
