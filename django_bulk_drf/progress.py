"""The subscribe side of operation progress: one hub per process hands published records to the
WebSocket consumers that follow an operation.

Publishing is the operation store's job (``operations/``): every change of a record bumps its
``seq`` and publishes the whole new record, atomically. This module only listens:

- ``RedisOperationEvents`` (production): one ``redis.asyncio`` connection in pub/sub mode per
  process. The first local subscriber of an operation SUBSCRIBEs to its channel and the last one to
  leave UNSUBSCRIBEs, so fifty clients of one operation cost one Redis subscription. A single reader
  task blocks on the connection and fans each message out to the local subscriptions; it ends,
  and the connection is released, when nothing is subscribed any more. The connection is named
  ``bulk-drf-progress-<pid>`` in ``CLIENT LIST``. ``subscribe`` returns only once Redis
  has confirmed the subscription, so a record read afterwards cannot miss an event.
- ``LocalOperationEvents`` (embedded mode, no Redis): a listener on ``LocalOperationStore`` that
  hands each record from the worker's thread to the event loop with ``call_soon_threadsafe``.

``BULK_DRF_PROGRESS_EVENTS`` names the hub class (an import string); by default (None) it is the
one the operation store names (``OperationStore.progress_events``). Both deliver the records of
one operation in ``seq`` order, decoded once (``OperationRecord``, frozen: subscribers share it).

Delivery is conflated: a ``Subscription`` holds the newest state its client has not taken yet (a
slot, not a queue). A client that takes states as fast as they come gets each one; a client that
falls behind (a slow network, a socket that does not read) finds only the newest when it comes
back, never an older one after a newer, and the end last. Delivering costs the hub the same for a
slow client as for a fast one, and memory does not grow with the backlog.
"""

from __future__ import annotations

import asyncio
import logging
import os
from abc import ABC, abstractmethod
from collections import deque
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from .operations import LocalOperationStore, OperationRecord, get_operation_store
from .operations.redis import channel_name, decode_published, redis_url
from .settings import bulk_settings

logger = logging.getLogger(__name__)


SUBSCRIBE_TIMEOUT = 10.0
RECONNECT_DELAY = 1.0


class Subscription:
    """One local client's view of an operation's published states: the newest one it has not
    taken yet."""

    def __init__(self, operation_id: str) -> None:
        self.operation_id = operation_id
        self.pending: OperationRecord | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.waiting_since = 0.0
        self.silence: float | None = None
        self.timer: asyncio.TimerHandle | None = None

    def deliver(self, state: OperationRecord) -> None:
        """Keep ``state`` in place of the one not taken yet, unless that one is newer."""
        if self.pending is None or state.seq > self.pending.seq:
            self.pending = state
            self.wake()

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self, timeout: float | None = None) -> OperationRecord | None:
        """The newest state not taken yet (waiting for one), or None once ``timeout`` seconds
        have passed waiting with none.

        The silence is watched by one timer per subscription, re-armed only when it fires: a
        thousand sockets do not each set and cancel a timer for every message they send."""
        if self.pending is None:
            loop = asyncio.get_running_loop()
            self.silence, self.waiting_since = timeout, loop.time()
            if timeout is not None and self.timer is None:
                self.timer = loop.call_later(timeout, self.check_silence, loop)
            self.waiter = loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        state, self.pending = self.pending, None
        return state

    def check_silence(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake a ``next`` that has waited ``silence`` seconds; else look again when it might
        have."""
        self.timer = None
        if self.silence is None:
            return
        waited = loop.time() - self.waiting_since if self.waiter is not None else 0.0
        if waited >= self.silence:
            self.wake()  # with nothing pending: ``next`` answers None
        else:
            self.timer = loop.call_later(self.silence - waited, self.check_silence, loop)

    def close(self) -> None:
        """Stop watching the silence."""
        self.silence = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class OperationEvents(ABC):
    """The hub of one process (one event loop): local subscribers share one transport
    subscription per operation."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscription]] = {}

    @abstractmethod
    async def subscribe(self, operation_id: str) -> Subscription:
        """A new subscription; every state published after this returns is delivered to it."""

    @abstractmethod
    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``; the last one out releases the transport.
        Calling it twice is harmless."""

    def topic(self, operation_id: str) -> str:
        """What the transport calls the operation's stream."""
        return operation_id

    def fan_out(self, topic: str, state: OperationRecord) -> None:
        for subscription in list(self.subscribers.get(topic, ())):
            subscription.deliver(state)

    def add(self, subscription: Subscription) -> bool:
        """Register a local subscriber; True when it is the operation's first."""
        local = self.subscribers.setdefault(self.topic(subscription.operation_id), set())
        local.add(subscription)
        return len(local) == 1

    def discard(self, subscription: Subscription) -> bool:
        """Forget a local subscriber; True when it was the operation's last."""
        subscription.close()
        topic = self.topic(subscription.operation_id)
        local = self.subscribers.get(topic)
        if local is None or subscription not in local:
            return False
        local.discard(subscription)
        if local:
            return False
        del self.subscribers[topic]
        return True


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


class LocalOperationEvents(OperationEvents):
    """The embedded mode: records come from ``LocalOperationStore`` in this process."""

    def __init__(self, store: LocalOperationStore | None = None) -> None:
        super().__init__()
        chosen = store or get_operation_store()
        if not isinstance(chosen, LocalOperationStore):
            raise ImproperlyConfigured(
                "LocalOperationEvents hears only LocalOperationStore; set BULK_DRF_PROGRESS_EVENTS "
                f"to the hub of {type(chosen).__name__} (or leave it None)."
            )
        self.store = chosen
        self.loop = asyncio.get_running_loop()

    async def subscribe(self, operation_id: str) -> Subscription:
        subscription = Subscription(operation_id)
        with self.store.lock:  # the store publishes under this lock: no state slips past
            if not self.subscribers:
                self.store.listeners.append(self.on_publish)
            self.add(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        with self.store.lock:
            self.discard(subscription)
            if not self.subscribers and self.on_publish in self.store.listeners:
                self.store.listeners.remove(self.on_publish)

    def on_publish(self, state: OperationRecord) -> None:
        """Called in the worker's thread: hand the record to the event loop."""
        try:
            self.loop.call_soon_threadsafe(self.fan_out, state.task_id, state)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass


_hubs: dict[tuple[asyncio.AbstractEventLoop, type[OperationEvents]], OperationEvents] = {}


def events_class() -> type[OperationEvents]:
    """``BULK_DRF_PROGRESS_EVENTS``, else the hub the operation store names."""
    if bulk_settings.PROGRESS_EVENTS is not None:
        return bulk_settings.PROGRESS_EVENTS
    store = get_operation_store()
    if store.progress_events is None:
        raise ImproperlyConfigured(
            f"{type(store).__name__} names no progress hub: set BULK_DRF_PROGRESS_EVENTS."
        )
    return import_string(store.progress_events)


def operation_events() -> OperationEvents:
    """The hub of the running event loop (a uvicorn process runs one)."""
    loop = asyncio.get_running_loop()
    for closed in [key for key in _hubs if key[0].is_closed()]:
        del _hubs[closed]
    hub_class = events_class()
    hub = _hubs.get((loop, hub_class))
    if hub is None:
        hub = _hubs[(loop, hub_class)] = hub_class()
    return hub
