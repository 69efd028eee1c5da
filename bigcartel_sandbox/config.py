"""Settings of one sandbox instance."""

from __future__ import annotations

from dataclasses import dataclass

#: ``"live"``: documents shaped like responses captured from the live API (the default);
#: ``"docs"``: shaped as the API reference describes them, where the two disagree (see
#: ``documents.py``), for clients that must read both.
SHAPES = ("live", "docs")


@dataclass
class SandboxConfig:
    """What to generate and how to serve it; the defaults suit unit tests.

    ``webhook_retry_delays`` is the wait before each retry of a failed webhook delivery, so a
    delivery is attempted at most ``1 + len(webhook_retry_delays)`` times. ``shapes`` is one of
    :data:`SHAPES`.
    """

    shops: int = 2
    orders_per_shop: int = 50
    products_per_shop: int = 20
    seed: int = 7
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    webhook_url: str | None = None
    webhook_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    webhook_timeout: float = 5.0
    host: str = "127.0.0.1"
    port: int = 0
    shapes: str = "live"

    def __post_init__(self) -> None:
        if self.shops < 1:
            raise ValueError("a sandbox needs at least one shop")
        if self.products_per_shop < 1:
            raise ValueError("orders need products: products_per_shop must be at least 1")
        if self.orders_per_shop < 0:
            raise ValueError("orders_per_shop cannot be negative")
        if self.shapes not in SHAPES:
            raise ValueError(f"shapes must be one of {', '.join(SHAPES)}, not {self.shapes!r}")
