"""This distribution's version and contact URL, as every User-Agent names them.

Both come from the installed distribution's metadata, so nothing here is kept by hand: the
version from setuptools-scm, the contact from ``[project.urls]`` in pyproject.toml (the
``Project-URL`` fields of the metadata). Until the project declares a URL there is no contact,
and an operator names their own with a plugin's ``user_agent`` setting.
"""

from __future__ import annotations

import re
import typing as t
from importlib.metadata import PackageNotFoundError, metadata, version

DISTRIBUTION = "bigcartel-fulfillment"
#: The ``[project.urls]`` labels that name where the project lives, best first, normalized as
#: the core metadata specification does (lower case, no spaces or punctuation: "Source Code"
#: is "sourcecode").
CONTACT_LABELS = ("homepage", "source", "sourcecode", "repository")


class Metadata(t.Protocol):
    """What :func:`project_contact` reads of a distribution's metadata (an email message)."""

    def get_all(self, name: str) -> list[t.Any] | None: ...


def package_version() -> str:
    """The installed version of bigcartel-fulfillment; "0" when it is not installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0"


def project_contact(meta: Metadata | None = None) -> str | None:
    """The project's URL for a User-Agent, from the ``Project-URL`` fields of its metadata.

    ``meta`` defaults to the installed distribution's. A Homepage, Source or Repository URL
    wins, in that order, else the first URL declared. None when there is none (or the
    distribution is not installed): a User-Agent then carries no contact rather than a made-up
    one.
    """
    if meta is None:
        try:
            meta = t.cast("Metadata", metadata(DISTRIBUTION))
        except PackageNotFoundError:
            return None
    urls: dict[str, str] = {}
    for field in meta.get_all("Project-URL") or []:
        label, _, url = str(field).partition(",")
        url = url.strip()
        if url.startswith(("https://", "http://")):
            urls.setdefault(re.sub(r"[^a-z0-9]", "", label.lower()), url)
    for label in CONTACT_LABELS:
        if label in urls:
            return urls[label]
    return next(iter(urls.values()), None)
