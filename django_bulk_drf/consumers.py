"""The WebSocket of one operation, ``/ws/operations/<id>/``: its status, its progress, its end.

The server sends JSON text frames; each carries the operation's ``seq``, strictly increasing on one
socket (nothing published after the snapshot is missed, nothing arrives twice):

1. ``{"type": "operation.status", ...status}``: the status when the socket opened, the same body as
   ``GET /api/operations/<id>/status/``.
2. ``{"type": "operation.progress", ...}``: the changes published after that snapshot (each
   processed chunk, the start, a cancellation request): the status without ``errors`` and
   ``result``. Progress is conflated (``progress.Subscription``): a socket is sent the newest state
   it has not been sent; one that falls behind skips the states it had not been sent yet (their
   ``seq`` are absent), so it catches up at once instead of working through a backlog.
3. ``{"type": "operation.completed" | "operation.failed" | "operation.cancelled", ...status}``: the
   full status (``errors``, and ``result`` with the first 1,000 of each id list); then the server
   closes with 1000. It always arrives: nothing is newer.

Each socket has one sender task (``forward``) that waits for its subscription's newest state, so a
socket that does not read holds up only itself. The text of each message is made once per process
and shared by every socket that sends it.

A client that connects after the end gets one message, ``operation.status`` holding the final
state (full status, ``status`` terminal), and the close 1000: the end is reported once, never
twice under one ``seq``. The rule for clients: a message whose ``status`` is ``completed``,
``failed`` or ``cancelled`` is the last one.

Close codes: 4404 when the operation is unknown (or expired), the id malformed, or the operation
another user's; 4401 when the operation belongs to a user and the socket has none; 1011 when the
progress transport fails; 1000 after the end. Client frames are ignored.

``BULK_DRF_PROGRESS_UPDATE_INTERVAL`` (seconds, default 10): after that long without an event the
consumer re-reads the record and sends it if its ``seq`` has advanced (as a progress message, or as
the end), which recovers from a lost pub/sub message or a Redis restart (a re-read that fails
while Redis is down is tried again after the next interval). A record that has vanished is rebuilt
from the chunk ledger when it can be (``ledger.recover_operation``: its end is then sent), else
the socket is closed with 4404. ``0`` or ``None`` turns the re-read off.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from contextlib import suppress
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from .ledger import recover_operation
from .operations import (
    OperationRecord,
    Status,
    get_operation_store,
    parse_operation_id,
    render_status,
)
from .operations.record import PROGRESS_EVENT
from .progress import Subscription, operation_events
from .settings import bulk_settings
from .views import may_see

logger = logging.getLogger(__name__)

CLOSE_ENDED = 1000
CLOSE_INTERNAL_ERROR = 1011
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404


def progress_body(state: OperationRecord) -> dict[str, Any]:
    """A progress message from a published state: the counters, without errors and id lists."""
    body = render_status(state)
    del body["errors"], body["result"]
    return {"type": PROGRESS_EVENT, **body}


# The text of each progress message, made once per process for all the sockets that follow it.
_progress_texts: OrderedDict[tuple[str, int], str] = OrderedDict()
PROGRESS_TEXTS_KEPT = 1024


def progress_text(state: OperationRecord) -> str:
    key = (state.task_id, state.seq)
    text = _progress_texts.get(key)
    if text is None:
        text = _progress_texts[key] = orjson.dumps(progress_body(state)).decode()
        if len(_progress_texts) > PROGRESS_TEXTS_KEPT:
            _progress_texts.popitem(last=False)
    return text


def ended(status: dict[str, Any]) -> bool:
    """Whether a status body is the operation's last word."""
    return Status.of(status["status"]).is_terminal


# Store calls are blocking Redis round trips that touch no database: they run off the event loop,
# in parallel for many sockets.
@sync_to_async(thread_sensitive=False)
def read_record(operation_id: str) -> OperationRecord | None:
    return get_operation_store().record(operation_id)


async def read_or_recover(operation_id: str) -> OperationRecord | None:
    """The record, or the one rebuilt from the ledger when the store has lost it."""
    record = await read_record(operation_id)
    if record is None:
        record = await database_sync_to_async(recover_operation)(operation_id)
    return record


@sync_to_async(thread_sensitive=False)
def read_status(operation_id: str) -> dict[str, Any] | None:
    return get_operation_store().status(operation_id)


@sync_to_async(thread_sensitive=False)
def read_end(state: OperationRecord) -> str:
    """The terminal message of a published end: its full status (errors, id lists)."""
    body = get_operation_store().render(state)
    return orjson.dumps({"type": state.status.event, **body}).decode()


# One read of an ended operation's full status per process, shared by all its sockets.
_end_reads: dict[tuple[str, int], asyncio.Future[str]] = {}
END_READ_KEPT_SECONDS = 60


async def end_text(state: OperationRecord) -> str:
    """The terminal message of a published end; a thousand sockets of one operation read and
    encode it once."""
    key = (state.task_id, state.seq)
    read = _end_reads.get(key)
    if read is None:
        read = _end_reads[key] = asyncio.ensure_future(read_end(state))
        loop = asyncio.get_running_loop()
        read.add_done_callback(
            lambda _: loop.call_later(END_READ_KEPT_SECONDS, _end_reads.pop, key, None)
        )
    return await asyncio.shield(read)


class OperationConsumer(AsyncJsonWebsocketConsumer):
    """Pushes one operation's snapshot, progress and end to a WebSocket client."""

    subscription: Subscription | None = None
    forwarder: asyncio.Task[None] | None = None
    last_seq: int = -1

    async def connect(self) -> None:
        # Accept first: a close before the handshake reaches clients as HTTP 403, not as a code.
        await self.accept()
        try:
            code = await self.start()
        except OSError:  # the client left while we were starting
            await self.leave()
            raise StopConsumer() from None
        except Exception:
            logger.exception("operation socket failed to start")
            code = CLOSE_INTERNAL_ERROR
        if code is not None:
            await self.end(code)

    async def start(self) -> int | None:
        """Check access, subscribe, send the snapshot; a close code when the socket must end."""
        operation_id = parse_operation_id(self.scope["url_route"]["kwargs"]["operation_id"])
        if operation_id is None:
            return CLOSE_NOT_FOUND
        record = await read_or_recover(operation_id)
        if record is None:
            return CLOSE_NOT_FOUND
        user = self.scope.get("user")
        if not may_see(record, user):
            signed_in = user is not None and user.is_authenticated
            return CLOSE_NOT_FOUND if signed_in else CLOSE_UNAUTHORIZED
        # Subscribe before reading the snapshot, so that nothing published in between is lost.
        subscription = self.subscription = await operation_events().subscribe(operation_id)
        status = await read_status(operation_id)
        if status is None:
            return CLOSE_NOT_FOUND
        await self.send_json({"type": "operation.status", **status})
        self.last_seq = status["seq"]
        if ended(status):
            return CLOSE_ENDED
        self.forwarder = asyncio.create_task(self.forward(operation_id, subscription))
        return None

    async def forward(self, operation_id: str, subscription: Subscription) -> None:
        """Send the newest state not sent yet, until the end; re-read the record after a
        silence."""
        interval = bulk_settings.PROGRESS_UPDATE_INTERVAL or None
        try:
            while True:
                state = await subscription.next(timeout=interval)
                if state is None:
                    try:
                        state = await read_or_recover(operation_id)
                    except RedisError:
                        logger.warning("cannot re-read operation %s", operation_id, exc_info=True)
                        continue
                    if state is None:
                        await self.end(CLOSE_NOT_FOUND)
                        return
                if state.seq <= self.last_seq:
                    continue
                if state.status.is_terminal:
                    await self.push(await end_text(state))
                    await self.end(CLOSE_ENDED)
                    return
                await self.push(progress_text(state))
                self.last_seq = state.seq
        except asyncio.CancelledError:
            raise
        except OSError:  # the client has gone; its disconnect cleans up
            await self.leave()
        except Exception:
            logger.exception("operation socket failed")
            await self.end(CLOSE_INTERNAL_ERROR)

    async def push(self, text: str) -> None:
        """Send a text frame made once for every socket (straight to the ASGI ``send``)."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def end(self, code: int) -> None:
        """Stop following the operation and close the socket with ``code``."""
        await self.leave()
        with suppress(OSError):
            await self.close(code)

    async def leave(self) -> None:
        """Drop the subscription (idempotent); the last local client's leaving unsubscribes."""
        subscription, self.subscription = self.subscription, None
        if subscription is not None:
            await operation_events().unsubscribe(subscription)

    async def disconnect(self, code: int) -> None:
        forwarder = self.forwarder
        if forwarder is not None and forwarder is not asyncio.current_task():
            forwarder.cancel()
            with suppress(asyncio.CancelledError):
                await forwarder
        await self.leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The socket only pushes; whatever the client sends is ignored."""

    @classmethod
    async def encode_json(cls, content: dict[str, Any]) -> str:
        return orjson.dumps(content).decode()
