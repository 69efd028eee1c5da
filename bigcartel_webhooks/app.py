"""``POST /webhooks/bigcartel``: verify, store durably, answer 2xx; nothing else in the request.

Big Cartel retries any non-2xx answer for 7 days, so the receiver answers 2xx only once the
delivery is committed, and answers 2xx to a retry of a delivery it already holds. It never
processes events here: a consumer reads ``webhook_events`` and marks them processed or failed.
The one exception is bookkeeping inside the store's transaction: ``account.deauthorized`` marks
the shop disconnected, which the tap and the target read (see bigcartel_core.webhook_store).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from bigcartel_core.webhook_store import WebhookStore

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_HEADER = "X-Webhook-Signature"
MAX_TOPIC_CHARS = 100  # webhook_events.topic
MAX_ACCOUNT_CHARS = 64  # webhook_events.account_id
# Per-topic switches, as a merchant turns integrations' webhooks on and off; keyed by the part of
# the documented type before the first dot (order.created → orders).
TOPIC_SWITCHES = {"order": "orders", "product": "products", "account": "account"}

log = logging.getLogger(__name__)


def signature(client_secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body keyed with the app's client secret, as the
    emulator sends it (the receiver accepts either case)."""
    return hmac.new(client_secret.encode(), body, hashlib.sha256).hexdigest()


def switch_for(topic: str) -> str | None:
    """The switch that governs a type, or None for a type outside the documented families."""
    return TOPIC_SWITCHES.get(topic.split(".", 1)[0])


def create_app(
    store: WebhookStore,
    client_secret: str,
    enabled_topics: Iterable[str] = ("orders", "products", "account"),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Flask:
    """The receiver. ``enabled_topics`` holds switch names: orders, products, account."""
    if not client_secret:
        raise ValueError("a client secret is required to verify webhook signatures")
    enabled = frozenset(enabled_topics)
    unknown = enabled - set(TOPIC_SWITCHES.values())
    if unknown:
        raise ValueError(f"unknown topic switches: {', '.join(sorted(unknown))}")
    secret = client_secret.encode()

    app = Flask(__name__)
    # Bounds chunked bodies, whose length is not known up front: werkzeug stops reading at the
    # limit without saying whether more followed, so it may read one byte past ours to tell.
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes + 1

    @app.post("/webhooks/bigcartel")
    def receive() -> tuple[Response, int]:
        # Refuse from the declared length, before reading a byte of the body.
        if request.content_length is not None and request.content_length > max_body_bytes:
            return _error("request body too large", 413)
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _error("request body too large", 413)
        if len(body) > max_body_bytes:
            return _error("request body too large", 413)

        if not _signature_matches(secret, body, request.headers.get(SIGNATURE_HEADER, "")):
            return _error("invalid signature", 401)

        try:
            envelope = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return _error("body is not JSON", 400)
        except RecursionError:
            # json's parser recurses once per level: a body nested deeper than the interpreter's
            # recursion limit (about 1,000) is refused here, where it would otherwise give a 500,
            # which Big Cartel would retry for 7 days.
            return _error("body is nested too deeply to parse", 400)
        if not isinstance(envelope, dict):
            return _error("body is not a JSON object", 400)
        topic = envelope.get("type")
        if not isinstance(topic, str) or not topic:
            return _error("missing type", 400)
        account_id = _account_id(envelope)
        # Longer than the columns hold: refuse with 400 rather than fail on every retry with 500.
        if len(topic) > MAX_TOPIC_CHARS or len(account_id or "") > MAX_ACCOUNT_CHARS:
            return _error("type or account_id too long", 400)
        switch = switch_for(topic)
        status = "received" if switch is not None and switch in enabled else "ignored"

        event, inserted = store.record(
            body,
            account_id=account_id,
            topic=topic,
            status=status,
            payload=json.dumps(envelope.get("payload"), separators=(",", ":")),
        )
        log.info(
            "webhook %s id=%s account=%s status=%s%s",
            topic,
            event.id,
            account_id,
            event.status,
            "" if inserted else " (duplicate)",
        )
        return jsonify(id=event.id, status=event.status, duplicate=not inserted), 200

    return app


def _signature_matches(secret: bytes, body: bytes, provided: str) -> bool:
    """Whether ``provided`` is the body's HMAC-SHA256 in hex, compared in constant time.

    The docs do not settle the case of the hex digest: the v1 reference says only that the
    header must match an HMAC-SHA256 of the body, and api-notes.md's "lowercase hex" describes
    what is sent, not that other case is wrong. So either case is accepted: the header is lowered
    before comparing. Non-hex never matches, as the expected digest is all hex digits.
    """
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    # Headers arrive as latin-1 text, so this encoding never fails; compare_digest needs bytes
    # for non-ASCII input, and bytes.lower() changes only A-Z.
    return bool(provided) and hmac.compare_digest(expected, provided.encode("latin-1").lower())


def _account_id(envelope: dict[str, Any]) -> str | None:
    """The envelope's account_id as text (the docs show no type for it; the emulator sends a
    number); for account.deauthorized, whose payload is the account's id, that id as fallback."""
    value = envelope.get("account_id")
    if value is None and envelope.get("type") == "account.deauthorized":
        payload = envelope.get("payload")
        value = payload.get("id") if isinstance(payload, dict) else payload
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


def _error(message: str, status: int) -> tuple[Response, int]:
    """A refusal, logged because Big Cartel retries it for 7 days; the message is one of the
    fixed texts above, never part of the body."""
    log.warning("webhook refused with %d: %s", status, message)
    return jsonify(error=message), status
