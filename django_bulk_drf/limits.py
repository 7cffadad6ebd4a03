"""A cap on request bodies, enforced while they arrive: ``413`` before a large body is held.

Django reads a request's whole body before any view runs, so a size check in a view or a parser is
too late. This ASGI middleware goes around the HTTP application instead:

- a declared ``Content-Length`` over the limit is answered ``413`` at once, nothing is read;
- a body without one (``Transfer-Encoding: chunked``) is counted as it is received; once the count
  passes the limit the client gets the ``413``, and the application is told the client has gone
  (``http.disconnect``), so it drops what it was reading and answers nothing more.

The limit should leave room for ``BULK_DRF_MAX_RECORDS`` items: a ``/bulk/`` body of that many items
must get through. Behind this middleware Django's ASGI handler receives the whole body into a
temporary file (on disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE``) before any view runs; a ``/bulk/``
view then reads that file a part at a time and counts the items as it goes (``staging.py``), so
neither step holds the body in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024


class BulkBodyLimitMiddleware:
    """Refuses HTTP request bodies larger than ``max_bytes`` with ``413``, as they arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self.refuse(send, declared)
            return
        await self.app(scope, *BodyCounter(self, receive, send).channels())

    async def refuse(self, send: Send, size: int | None) -> None:
        """Send the ``413`` answer."""
        received = "" if size is None else f" ({size} bytes)"
        body = orjson.dumps(
            {
                "error": f"The request body is too large{received}: "
                f"the limit is {self.max_bytes} bytes.",
                "max_body_bytes": self.max_bytes,
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyCounter:
    """The ``receive`` and ``send`` of one request, counting the body as the application reads
    it; past the limit, it answers ``413`` and the application's own answer is dropped."""

    def __init__(self, limit: BulkBodyLimitMiddleware, receive: Receive, send: Send) -> None:
        self.limit = limit
        self.upstream_receive = receive
        self.upstream_send = send
        self.received = 0
        self.refused = False

    def channels(self) -> tuple[Receive, Send]:
        return self.receive, self.send

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.upstream_receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                self.refused = True
                await self.limit.refuse(self.upstream_send, None)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if not self.refused:
            await self.upstream_send(message)


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` of the request, or None when it has none (or an unreadable one,
    which the server refuses itself)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
