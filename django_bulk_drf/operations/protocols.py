"""The parts of an operation store, each a small typed interface.

A store is what keeps background operations between the request that accepts them and the workers
that run them. It has these parts:

- ``OperationRecords``: the record of each operation, moved through the state machine of
  ``store.py`` (``Move``, ``moved``, ``after_chunk``), and its lists, read a page at a time
  (``lists.py``).
- ``Staging``: the payload, serialised in chunks, and the keys its items claim while it is staged.
- ``IdempotencyKeys``: what each ``Idempotency-Key`` holds.
- ``ChunkLeases``: which worker holds which chunk, for taking up the work of a worker that died.
  Only a store shared by several processes has them; a store of one process (embedded mode) has
  none: its worker cannot be lost without it (``OperationStore.leases`` is None).
- ``ProgressEvents``: the hub of one process that hands the records a store publishes to the
  WebSocket clients following an operation. A store names its hub (``progress_events``, an import
  string); the hub lives beside its store (``redis_events.py``, ``local_events.py``).

``OperationStore`` (``store.py``) is the first three plus ``leases`` and ``progress_events``, and
derives the rest (the status body, ``start``, ``fail``...) from them. A new store is one module: a
subclass of ``OperationStore`` implementing these methods with the public pieces of this package
(the state machine, ``lists.SegmentedList``), and, for live progress, a hub implementing
``ProgressEvents`` (``events.OperationEvents`` does the local fan-out).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .events import Subscription
from .leases import Orphan, Sweep
from .lists import FIRST, STATUS_LIST_LIMIT, Page, Position
from .record import ChunkReport, OperationRecord
from .states import Move


class OperationRecords(Protocol):
    """Operation records, their moves and their lists. Every change of a record bumps its
    ``seq`` and publishes the new record (to the store's ``ProgressEvents``)."""

    @abstractmethod
    def create(self, record: OperationRecord, chunks: list[bytes]) -> None:
        """Save a new record and its payload, already split into serialised chunks (none when
        they were staged with ``stage_chunks``)."""

    @abstractmethod
    def record(self, operation_id: str) -> OperationRecord | None:
        """The record, or None when unknown or expired."""

    @abstractmethod
    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        """Count a chunk once (``after_chunk``; a second report of the same chunk changes
        nothing), add its lists and drop its staged payload. True when it was counted."""

    @abstractmethod
    def move(self, operation_id: str, move: Move, changes: dict[str, Any]) -> bool:
        """Apply ``move`` with ``changes`` (``moved``) and publish; False when
        the operation is unknown or its status does not allow the move."""

    @abstractmethod
    def restore(
        self, record: OperationRecord, lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        """Put back a lost record (rebuilt from the ledger) with its lists, each in payload order,
        and the chunks it has counted, and publish it; False when the record exists (nothing
        changed). Its ``seq`` restarts from the clock in milliseconds (``restored_seq``), above
        any ``seq`` the lost record reached, so that clients following the operation take the
        rebuilt state as news. A restored list is one segment (segment 0)."""

    @abstractmethod
    def page(
        self, operation_id: str, name: str, start: Position = FIRST, limit: int = STATUS_LIST_LIMIT
    ) -> Page:
        """Up to ``limit`` values of a list (``created_ids``, ``updated_ids``, ``deleted_ids``,
        ``results`` or ``errors``) from ``start`` on, in payload order (``lists.py``), reading
        only the segments the page returns."""


class Staging(Protocol):
    """The payload of an operation, in serialised chunks, and the keys claimed while staging."""

    @abstractmethod
    def stage_chunks(self, operation_id: str, chunks: dict[int, bytes]) -> None:
        """Save serialised chunks of an operation being staged (its record comes with
        ``create`` once the whole payload is staged)."""

    @abstractmethod
    def claim_keys(
        self, operation_id: str, claims: list[tuple[int, list[bytes]]]
    ) -> list[tuple[int, int, int]]:
        """Claim each item's keys (``(item index, [key, ...])``, in payload order; keys of one
        length, fewer than 256 an item) for the operation being staged; a key is kept by the
        first item that claims it. Returns, for each item that found one of its keys kept by
        another, ``(item index, position of that key in its list, index of the item that keeps
        it)``; such an item claims no further key."""

    @abstractmethod
    def end_staging(self, operation_id: str, *, keep_payload: bool) -> None:
        """Forget the keys claimed while staging, and the staged chunks unless
        ``keep_payload`` (the operation was created; else it was abandoned)."""

    @abstractmethod
    def load_chunk(self, operation_id: str, index: int) -> Any:
        """The value of a staged chunk (JSON, every number exact), or None when it is gone."""


class IdempotencyKeys(Protocol):
    """What each ``Idempotency-Key`` holds, for a time."""

    @abstractmethod
    def claim_key(self, key: str, value: dict[str, str], ttl: int) -> dict[str, str] | None:
        """Take an idempotency key for ``ttl`` seconds; returns what the key already holds when
        it is taken."""

    @abstractmethod
    def set_key(self, key: str, value: dict[str, str], ttl: int) -> None:
        """Set what an idempotency key holds, for ``ttl`` seconds."""

    @abstractmethod
    def release_key(self, key: str) -> None:
        """Forget an idempotency key."""


@runtime_checkable
class ChunkLeases(Protocol):
    """Which worker holds which task of an operation, and which workers are alive (the rules are
    in ``leases.py``; ``leases.RedisChunkLeases`` keeps them in Redis)."""

    def beat(self, worker: str, ttl: int) -> None:
        """``worker`` is alive for ``ttl`` more seconds."""

    def dispatch(self, operation_id: str, indexes: list[int]) -> None:
        """These tasks of the operation are about to be sent to the broker."""

    def hold(self, operation_id: str, index: int, held_by: str, count: int = 1) -> None:
        """A worker received the task of chunks ``index`` to ``index + count - 1``."""

    def release(self, operation_id: str, index: int, held_by: str, count: int = 1) -> None:
        """The attempt ``held_by`` at chunks ``index`` to ``index + count - 1`` is over."""

    def look(self, is_live: Callable[[str], bool]) -> Sweep:
        """The holdings of the operations for which ``is_live(id)`` is true."""

    def suspect(self, queued: dict[str, list[int]]) -> int:
        """The broker's queue is empty: mark these tasks ``MISSING`` where still ``QUEUED``."""

    def take_over(self, orphan: Orphan) -> bool:
        """Mark ``orphan`` ``QUEUED`` again, to be re-sent; False when another was first."""

    def defer_failure(self, operation_id: str, reason: str) -> None:
        """The operation must end ``failed`` but its committed counts cannot be read yet."""

    def deferred_failures(self) -> dict[str, str]:
        """Operation → why it must end ``failed``, for those ``defer_failure`` kept."""

    def forget_failure(self, operation_id: str) -> None:
        """The deferred failure of the operation has been written."""


@runtime_checkable
class ProgressEvents(Protocol):
    """The progress hub of one process (one event loop): hands the records its store publishes to
    local subscriptions (``Subscription``), in ``seq`` order."""

    async def subscribe(self, operation_id: str) -> Subscription:
        """A new subscription; every state published after this returns is delivered to it."""

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``; calling it twice is harmless."""
