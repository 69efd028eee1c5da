"""The Big Cartel plumbing the tap, the target and the webhook receiver share.

It imports only the standard library, requests and SQLAlchemy; nothing of the plugins, the
receiver or the emulators (the import-linter contracts in pyproject.toml check it).
"""
