"""Fixtures of the Meltano tests (defined in meltano_helpers)."""

from meltano_helpers import meltano_installed, postgres_schema, project, sandbox

__all__ = ["meltano_installed", "postgres_schema", "project", "sandbox"]
