"""The next page's request, sent while the current page is emitted: one page ahead, no more.

A tap spends a third of a full sync waiting for the API between pages. The pagers know the next
query as soon as they have accepted a page, before its records are written, so that request can
be in flight meanwhile. The answer (or the error) is only handed over when the SDK's request
loop asks for that same request, inside its retry decorator: a failed prefetch is retried, or
ends the shop, exactly where a request sent at that moment would have, and nothing of a later
page is emitted before the records of the current one.
"""

from __future__ import annotations

import typing as t
from concurrent.futures import Future, ThreadPoolExecutor, wait

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import requests


class OnePageAhead:
    """At most one request in flight beside the SDK's request loop, for one partition.

    ``start`` sends it in a worker thread; ``take`` hands over its answer for the request the
    SDK is about to send, if it is the same one; ``settle`` waits for it to be answered, so the
    SDK never prepares a request on the session while the worker sends one; ``close`` waits for
    it and drops it.
    """

    def __init__(self, send: Callable[[requests.PreparedRequest], requests.Response]) -> None:
        self._send = send
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tap-prefetch")
        self._pending: tuple[requests.PreparedRequest, Future[requests.Response]] | None = None

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def start(self, request: requests.PreparedRequest) -> None:
        if self._pending is not None:
            msg = "a page is already being fetched ahead; one page ahead at most"
            raise RuntimeError(msg)
        self._pending = (request, self._executor.submit(self._send, request))

    def take(self, request: requests.PreparedRequest) -> Future[requests.Response] | None:
        """The answer to ``request`` if it was fetched ahead; None (and the other answer
        dropped) if not."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        fetched, future = pending
        if fetched.method == request.method and fetched.url == request.url:
            return future
        wait([future])
        return None

    def settle(self) -> None:
        if self._pending is not None:
            wait([self._pending[1]])

    def close(self) -> None:
        self._pending = None
        self._executor.shutdown(wait=True, cancel_futures=True)
