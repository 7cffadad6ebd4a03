"""The generic half of progress events: ``Subscription`` (one client's conflated view of an
operation) and ``OperationEvents`` (a hub's local fan-out), for every store's hub to build on.

Delivery is conflated: a ``Subscription`` holds the newest state its client has not taken yet (a
slot, not a queue). A client that takes states as fast as they come gets each one; a client that
falls behind (a slow network, a socket that does not read) finds only the newest when it comes
back, never an older one after a newer, and the end last. Delivering costs the hub the same for a
slow client as for a fast one, and memory does not grow with the backlog.

A hub (``protocols.ProgressEvents``) subscribes to its store's transport once per operation,
however many local clients follow it, and hands each published record, decoded once
(``OperationRecord``, frozen: subscribers share it), to ``fan_out``. The built-in hubs live beside
their stores: ``redis_events.py`` and ``local_events.py``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from .record import OperationRecord


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
