"""Flask helpers shared by the blueprints: the sandbox's services and response builders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app

from bigcartel_sandbox.documents import JSONAPI
from bigcartel_sandbox.faults import Faults
from bigcartel_sandbox.requestlog import RequestLog
from bigcartel_sandbox.store import Store

EXTENSION = "bigcartel_sandbox"


@dataclass(frozen=True)
class Services:
    store: Store
    faults: Faults
    log: RequestLog


def services() -> Services:
    """The services of the app handling the current request."""
    found: Services = current_app.extensions[EXTENSION]
    return found


def jsonapi_response(document: Any, status: int = 200) -> Response:
    return Response(_dumps(document), status, content_type=JSONAPI)


def json_response(document: Any, status: int = 200) -> Response:
    return Response(_dumps(document), status, content_type="application/json")


def _dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
