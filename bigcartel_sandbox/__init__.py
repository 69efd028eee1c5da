"""A local emulator of the Big Cartel API v1, with seeded shops, faults and webhooks."""

from bigcartel_sandbox.config import SandboxConfig
from bigcartel_sandbox.models import Shop
from bigcartel_sandbox.server import Sandbox

__all__ = ["Sandbox", "SandboxConfig", "Shop"]
