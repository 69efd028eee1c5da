"""A receiver for Big Cartel webhooks: verify the signature, store once, answer fast."""

from bigcartel_webhooks.app import TOPIC_SWITCHES, create_app
from bigcartel_webhooks.store import WebhookStore

__all__ = ["TOPIC_SWITCHES", "WebhookStore", "create_app"]
