"""``LocalOperationEvents``: the progress hub of ``LocalOperationStore`` (embedded mode, no Redis).

A listener on the store of this process that hands each record from the worker's thread to the
event loop with ``call_soon_threadsafe``. The store calls its listeners under its lock, in ``seq``
order, and a subscription is added under the same lock, so no state slips past.
"""

from __future__ import annotations

import asyncio

from django.core.exceptions import ImproperlyConfigured

from . import get_operation_store
from .events import OperationEvents, Subscription
from .local import LocalOperationStore
from .record import OperationRecord


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
            self.loop.call_soon_threadsafe(self.fan_out, state.operation_id, state)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass
