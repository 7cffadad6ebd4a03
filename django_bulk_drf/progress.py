"""The subscribe side of operation progress: the hub of this process (one per event loop) that
hands published records to the WebSocket consumers that follow an operation.

Publishing is the operation store's job (``operations/``): every change of a record bumps its
``seq`` and publishes the whole new record, atomically. The hub that hears it belongs to the store
and lives beside it (``operations/redis_events.py``, ``operations/local_events.py``); this module
only picks it: ``BULK_DRF_PROGRESS_EVENTS`` (an import string), else the one the operation store
names (``OperationStore.progress_events``).

What every hub shares is generic and importable from here: ``Subscription`` (conflated delivery:
the newest state a client has not taken yet, never an older one after a newer) and
``OperationEvents`` (the local fan-out), both from ``operations/events.py``.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .operations import get_operation_store
from .operations.events import OperationEvents, Subscription
from .operations.protocols import ProgressEvents
from .settings import bulk_settings

__all__ = ["OperationEvents", "ProgressEvents", "Subscription", "events_class", "operation_events"]

#: Hubs that lived in this module before they moved beside their stores: the old import strings
#: (``BULK_DRF_PROGRESS_EVENTS``) keep working, with a warning.
MOVED = {
    "RedisOperationEvents": "django_bulk_drf.operations.redis_events.RedisOperationEvents",
    "LocalOperationEvents": "django_bulk_drf.operations.local_events.LocalOperationEvents",
}

_hubs: dict[tuple[asyncio.AbstractEventLoop, type[ProgressEvents]], ProgressEvents] = {}


def __getattr__(name: str) -> Any:
    if name in MOVED:
        warnings.warn(
            f"django_bulk_drf.progress.{name} has moved to {MOVED[name]}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return import_string(MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def events_class() -> type[ProgressEvents]:
    """``BULK_DRF_PROGRESS_EVENTS``, else the hub the operation store names."""
    if bulk_settings.PROGRESS_EVENTS is not None:
        return bulk_settings.PROGRESS_EVENTS
    store = get_operation_store()
    if store.progress_events is None:
        raise ImproperlyConfigured(
            f"{type(store).__name__} names no progress hub: set BULK_DRF_PROGRESS_EVENTS."
        )
    return import_string(store.progress_events)


def operation_events() -> ProgressEvents:
    """The hub of the running event loop (a uvicorn process runs one)."""
    loop = asyncio.get_running_loop()
    for closed in [key for key in _hubs if key[0].is_closed()]:
        del _hubs[closed]
    hub_class = events_class()
    hub = _hubs.get((loop, hub_class))
    if hub is None:
        hub = _hubs[(loop, hub_class)] = hub_class()
    return hub
