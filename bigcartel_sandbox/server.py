"""Serve the sandbox in-process: a threaded werkzeug server on a free port, in a daemon thread."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bigcartel_sandbox.app import create_app
from bigcartel_sandbox.config import SandboxConfig
from bigcartel_sandbox.faults import Faults
from bigcartel_sandbox.models import Shop
from bigcartel_sandbox.requestlog import RAW_HEADERS, RequestLog
from bigcartel_sandbox.store import Store


class _RequestHandler(WSGIRequestHandler):
    """Keeps the request headers as received, and closes the connection of a dropped request."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ

    def connection_dropped(
        self, error: BaseException, environ: dict[str, Any] | None = None
    ) -> None:
        # Otherwise a keep-alive connection would wait for another request while the client
        # waits for an answer; closing it is what a dropped request must look like.
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Quiet: the request log records every request."""


class Sandbox:
    """A Big Cartel API v1 emulator with generated shops, served on ``127.0.0.1``.

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.store = Store(self.config)
        self.faults = Faults(seed=self.config.seed)
        self._log = RequestLog()
        self.app = create_app(self.store, self.faults, self._log)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, once started."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.config.host}:{self._server.server_port}"

    @property
    def shops(self) -> list[Shop]:
        return self.store.shops

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of the request log, oldest first."""
        return self._log.entries()

    def clear_requests(self) -> None:
        self._log.clear()

    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("the sandbox is already started")
        self._server = make_server(
            self.config.host,
            self.config.port,
            self.app,
            threaded=True,
            request_handler=_RequestHandler,
        )
        self.store.base_url = self.url
        # A short poll interval keeps stop() quick; serve_forever checks for shutdown that often.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="bigcartel-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.server_close()
        self._server = self._thread = None
        self.store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
