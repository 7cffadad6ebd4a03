"""The operation record of a background bulk operation and the store that keeps it.

- ``record.py``: ``Status``, the typed ``OperationRecord``, ``ChunkReport``, the status body.
- ``lists.py``: an operation's ids, rows and errors, in payload order, read a page at a time.
- ``states.py``: the state machine, written once, applied by every store.
- ``protocols.py``: the parts of a store, each a typed ``Protocol``: ``OperationRecords``,
  ``Staging``, ``IdempotencyKeys``, ``ChunkLeases`` (stores shared by several processes only) and
  ``ProgressEvents``.
- ``store.py``: ``OperationStore``, those parts in one class, and what follows from them.
- ``events.py``: what every progress hub shares (``Subscription``, the local fan-out).
- ``redis.py``: ``RedisOperationStore`` (production: every process and worker shares it), with
  ``lua.py``, its scripts, ``leases.py``, its chunk leases, and ``redis_events.py``, its hub.
- ``local.py``: ``LocalOperationStore`` (embedded mode: one process, no Redis, no leases), with
  ``local_events.py``, its hub.

``BULK_DRF_OPERATION_STORE`` names the store class (an import string); by default (None) it is
the Redis store when the ``default`` cache is django-redis, else the local one. A new store is one
new module: a subclass of ``OperationStore`` implementing the protocols with the public pieces
(``states.py``, ``lists.SegmentedList``), and, for live progress, a ``ProgressEvents`` hub named by
its ``progress_events`` (``tests/test_operation_stores.py`` defines one in the test file).
"""

from __future__ import annotations

from django.core.cache import caches

from ..settings import bulk_settings
from .lists import (
    DEFAULT_PAGE_SIZE,
    FIRST,
    MAX_PAGE_SIZE,
    RESULT_KINDS,
    STATUS_LIST_LIMIT,
    Page,
    Position,
    decode_cursor,
    encode_cursor,
)
from .local import LocalOperationStore
from .protocols import (
    ChunkLeases,
    IdempotencyKeys,
    OperationRecords,
    ProgressEvents,
    Staging,
)
from .record import (
    COUNTERS,
    ID_LISTS,
    ChunkReport,
    OperationRecord,
    Snapshot,
    Status,
    new_operation_id,
    now,
    operation_url,
    parse_operation_id,
    render_status,
)
from .redis import RedisOperationStore
from .store import OperationStore

__all__ = [
    "COUNTERS",
    "DEFAULT_PAGE_SIZE",
    "FIRST",
    "ID_LISTS",
    "MAX_PAGE_SIZE",
    "RESULT_KINDS",
    "STATUS_LIST_LIMIT",
    "ChunkLeases",
    "ChunkReport",
    "IdempotencyKeys",
    "LocalOperationStore",
    "OperationRecord",
    "OperationRecords",
    "OperationStore",
    "Page",
    "Position",
    "ProgressEvents",
    "RedisOperationStore",
    "Snapshot",
    "Staging",
    "Status",
    "decode_cursor",
    "encode_cursor",
    "get_operation_store",
    "new_operation_id",
    "now",
    "operation_url",
    "parse_operation_id",
    "render_status",
]


def default_store_class() -> type[OperationStore]:
    """Redis when the ``default`` cache is django-redis; otherwise this process's memory."""
    if caches["default"].__class__.__module__.startswith("django_redis"):
        return RedisOperationStore
    return LocalOperationStore


def get_operation_store() -> OperationStore:
    """The store this process uses (``BULK_DRF_OPERATION_STORE``, else ``default_store_class``)."""
    store_class = bulk_settings.OPERATION_STORE or default_store_class()
    return store_class.for_process()
