"""A receiver for Big Cartel webhooks: verify the signature, store once, answer fast."""
