"""``RedisOperationEvents``: the progress hub of ``RedisOperationStore``, on Redis pub/sub.

One ``redis.asyncio`` connection in pub/sub mode per process. The first local subscriber of an
operation SUBSCRIBEs to its channel and the last one to leave UNSUBSCRIBEs, so fifty clients of one
operation cost one Redis subscription. A single reader task blocks on the connection and fans each
message out to the local subscriptions; it ends, and the connection is released, when nothing is
subscribed any more. The connection is named ``bulk-drf-progress-<pid>`` in ``CLIENT LIST``.
``subscribe`` returns only once Redis has confirmed the subscription, so a record read afterwards
cannot miss an event. Redis delivers one channel's messages in order: the records of one operation
arrive in ``seq`` order.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from .events import OperationEvents, Subscription
from .redis import channel_name, decode_published, redis_url

logger = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT = 10.0
RECONNECT_DELAY = 1.0


class RedisOperationEvents(OperationEvents):
    """Redis pub/sub: one connection, one reader task, one SUBSCRIBE per followed operation."""

    def __init__(self, url: str | None = None) -> None:
        super().__init__()
        self.url = url or redis_url()
        self.lock = asyncio.Lock()
        self.client: aioredis.Redis | None = None
        self.pubsub: aioredis.client.PubSub | None = None
        self.reader: asyncio.Task[None] | None = None
        # Futures resolved by Redis's SUBSCRIBE confirmations, in the order the commands were sent.
        self.confirmations: dict[str, deque[asyncio.Future[None]]] = {}
        self.ready: dict[str, asyncio.Future[None]] = {}

    def topic(self, operation_id: str) -> str:
        return channel_name(operation_id)

    async def subscribe(self, operation_id: str) -> Subscription:
        subscription = Subscription(operation_id)
        channel = self.topic(operation_id)
        async with self.lock:
            if self.add(subscription):
                ready = asyncio.get_running_loop().create_future()
                self.ready[channel] = ready
                self.confirmations.setdefault(channel, deque()).append(ready)
                try:
                    await self._send("subscribe", channel)
                except BaseException:
                    self._unexpect(channel, ready)
                    self.discard(subscription)
                    del self.ready[channel]
                    raise
            ready = self.ready[channel]
        try:
            await asyncio.wait_for(asyncio.shield(ready), SUBSCRIBE_TIMEOUT)
        except BaseException:
            await self.unsubscribe(subscription)
            raise
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        # Shielded: a client cancelled half-way through leaving must not leave its channel behind.
        await asyncio.shield(self._release(subscription))

    async def _release(self, subscription: Subscription) -> None:
        async with self.lock:
            if not self.discard(subscription):
                return
            channel = self.topic(subscription.operation_id)
            del self.ready[channel]
            try:
                await self._send("unsubscribe", channel)
            except (RedisError, OSError):
                # The connection is gone, and its subscriptions with it; the reader drops any
                # channel that a reconnection brings back without a local subscriber.
                logger.warning("could not unsubscribe from %s", channel, exc_info=True)

    def _unexpect(self, channel: str, ready: asyncio.Future[None]) -> None:
        pending = self.confirmations[channel]
        pending.remove(ready)
        if not pending:
            del self.confirmations[channel]

    async def _send(self, command: str, channel: str) -> None:
        """SUBSCRIBE or UNSUBSCRIBE on the shared connection (the caller holds the lock)."""
        if self.pubsub is None:
            self.client = aioredis.Redis.from_url(
                self.url, socket_keepalive=True, client_name=f"bulk-drf-progress-{os.getpid()}"
            )
            self.pubsub = self.client.pubsub()
        await getattr(self.pubsub, command)(channel)
        if self.reader is None:
            self.reader = asyncio.create_task(self._read(self.pubsub), name="bulk-drf-progress")

    async def _read(self, pubsub: aioredis.client.PubSub) -> None:
        """Fan messages out until no channel is subscribed, then release the connection."""
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except Exception:
                # redis-py reconnects on the next read and re-subscribes every channel; what was
                # published meanwhile is lost, which the consumers' periodic re-read recovers.
                logger.warning("progress subscription lost; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            try:
                if message is not None and await self._handle(message):
                    return
            except Exception:
                logger.exception("bad progress message %r", message)

    async def _handle(self, message: dict[str, Any]) -> bool:
        """Deliver one pub/sub message; True when the connection was released."""
        kind = message["type"]
        channel = message["channel"].decode()
        if kind == "message":
            if channel in self.subscribers:
                self.fan_out(channel, decode_published(message["data"]))
            else:
                await self._drop_stray(channel)
        elif kind == "subscribe":
            # Unexpected confirmations come from redis-py re-subscribing after a reconnection.
            if not self._confirm(channel) and channel not in self.subscribers:
                await self._drop_stray(channel)
        elif kind == "unsubscribe" and message["data"] == 0:
            return await self._close_if_idle()
        return False

    def _confirm(self, channel: str) -> bool:
        """Resolve the oldest SUBSCRIBE awaiting this confirmation; False when none was."""
        pending = self.confirmations.get(channel)
        if not pending:
            return False
        ready = pending.popleft()
        if not pending:
            del self.confirmations[channel]
        if not ready.done():
            ready.set_result(None)
        return True

    async def _drop_stray(self, channel: str) -> None:
        """Unsubscribe from a channel that no local client follows."""
        async with self.lock:
            if channel not in self.subscribers and self.pubsub is not None:
                await self.pubsub.unsubscribe(channel)

    async def _close_if_idle(self) -> bool:
        async with self.lock:
            if self.subscribers or self.confirmations:
                return False
            try:
                if self.pubsub is not None:
                    await self.pubsub.aclose()
                if self.client is not None:
                    await self.client.aclose()
            finally:
                self.pubsub = self.client = self.reader = None
        return True
