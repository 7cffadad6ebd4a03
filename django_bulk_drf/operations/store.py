"""Where operation records live (``OperationStore``), and the state machine they follow.

The state machine is written once, here, as data (``Move``) and two functions (``moved``,
``after_chunk``): ``pending → running → completed | failed | cancelled``.

- ``START``: ``start()`` (the first task has planned the operation) or the first chunk counted.
- A chunk is counted once; when every chunk is counted a running operation ends: ``CANCEL`` when a
  cancel was requested (``REQUEST_CANCEL``), else ``COMPLETE``. A chunk counted after the end
  changes the counters but publishes nothing: the end is published once.
- ``FAIL``: a task gave up, or what the operation needs is gone.

Every change bumps the record's ``seq`` and publishes the new record. ``LocalOperationStore``
calls these functions; the Redis store's Lua scripts receive the same moves as arguments, so the
two cannot drift (``tests/test_operation_stores.py`` drives both through the same calls).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from asgiref.sync import sync_to_async

from .lists import FIRST, STATUS_LIST_LIMIT, Page, Position
from .record import ChunkReport, OperationRecord, Snapshot, Status

LIVE = frozenset(status for status in Status if not status.is_terminal)


@dataclass(frozen=True)
class Move:
    """One move of the state machine: the statuses it may leave, the status it reaches (None: the
    status stays) and the timestamp it sets."""

    sources: frozenset[Status]
    target: Status | None = None
    stamp: str | None = None


START = Move(frozenset({Status.PENDING}), Status.RUNNING, "started_at")
COMPLETE = Move(frozenset({Status.RUNNING}), Status.COMPLETED, "finished_at")
CANCEL = Move(frozenset({Status.RUNNING}), Status.CANCELLED, "finished_at")
FAIL = Move(LIVE, Status.FAILED, "finished_at")
REQUEST_CANCEL = Move(LIVE)


def moved(
    record: OperationRecord, move: Move, changes: dict[str, Any], moment: datetime
) -> OperationRecord | None:
    """``record`` after ``move`` and ``changes``; None when its status does not allow the move."""
    if record.status not in move.sources:
        return None
    changes = dict(changes)
    if move.target is not None:
        changes["status"] = move.target
    if move.stamp is not None:
        changes[move.stamp] = moment
    return replace(record, **changes)


def after_chunk(
    record: OperationRecord, report: ChunkReport, moment: datetime
) -> tuple[OperationRecord, bool]:
    """``record`` once ``report`` is counted, and whether the change is published."""
    record = record.counted(report)
    record = moved(record, START, {}, moment) or record
    if record.status not in COMPLETE.sources:
        return record, False  # counted after the end: the end is published once
    if record.chunks_done >= record.chunks_total:
        end = CANCEL if record.cancel_requested else COMPLETE
        record = moved(record, end, {}, moment) or record
    return record, True


def restored_seq() -> int:
    """The ``seq`` of a restored record: the clock in milliseconds, above any it had reached."""
    return time.time_ns() // 1_000_000


class OperationStore(ABC):
    """Where operation records, staged payloads, their lists and progress events live.

    ``BULK_DRF_OPERATION_STORE`` names the class; ``for_process()`` gives the instance in use.
    """

    #: The progress hub (an import string) that hears what this store publishes; the default of
    #: ``BULK_DRF_PROGRESS_EVENTS``.
    progress_events: ClassVar[str | None] = None
    #: Which worker holds which chunk, for taking up the chunks of a worker that died
    #: (``leases.RedisChunkLeases``); None for a store of one process, whose worker cannot be
    #: lost without the store.
    leases: Any = None
    _instances: ClassVar[dict[type, OperationStore]] = {}

    @classmethod
    def for_process(cls) -> OperationStore:
        """The instance this process uses: one per class, made on first use."""
        instance = OperationStore._instances.get(cls)
        if instance is None:
            instance = OperationStore._instances.setdefault(cls, cls())
        return instance

    @abstractmethod
    def create(self, record: OperationRecord, chunks: list[bytes]) -> None:
        """Save a new record and its payload, already split into serialised chunks (none when
        they were staged with ``stage_chunks``)."""

    @abstractmethod
    def record(self, operation_id: str) -> OperationRecord | None:
        """The record, or None when unknown or expired."""

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

    def record_and_chunk(self, operation_id: str, index: int) -> tuple[OperationRecord | None, Any]:
        """The record and the value of a staged chunk, read together (a worker reads both before
        each chunk of its run)."""
        return self.record(operation_id), self.load_chunk(operation_id, index)

    def record_and_chunks(
        self, operation_id: str, indexes: Sequence[int]
    ) -> tuple[OperationRecord | None, list[Any]]:
        """The record and the values of staged chunks (None for each one gone), read together
        (a worker reads them before each batch of chunks)."""
        return self.record(operation_id), [self.load_chunk(operation_id, i) for i in indexes]

    @abstractmethod
    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        """Count a chunk once (``after_chunk``; a second report of the same chunk changes
        nothing) and drop its staged payload. True when it was counted."""

    def report_chunks(
        self, operation_id: str, reports: Sequence[tuple[int, ChunkReport]]
    ) -> list[bool]:
        """``report_chunk`` of each ``(index, report)`` in turn (a store that can sends them
        together); whether each was counted."""
        return [self.report_chunk(operation_id, index, report) for index, report in reports]

    @abstractmethod
    def move(self, operation_id: str, move: Move, changes: dict[str, Any]) -> bool:
        """Apply ``move`` with ``changes`` (``moved``) and publish; False when the operation is
        unknown or its status does not allow the move."""

    @abstractmethod
    def restore(
        self, record: OperationRecord, lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        """Put back a lost record (rebuilt from the ledger) with its lists, each in payload order,
        and the chunks it has counted, and publish it; False when the record exists (nothing
        changed). Its ``seq`` restarts from the clock in milliseconds, above any ``seq`` the lost
        record reached, so that clients following the operation take the rebuilt state as news.
        A restored list is one segment (segment 0)."""

    @abstractmethod
    def page(
        self, operation_id: str, name: str, start: Position = FIRST, limit: int = STATUS_LIST_LIMIT
    ) -> Page:
        """Up to ``limit`` values of a list (``created_ids``, ``updated_ids``, ``deleted_ids``,
        ``results`` or ``errors``) from ``start`` on, in payload order (``lists.py``), reading
        only the segments the page returns."""

    @abstractmethod
    def claim_key(self, key: str, value: dict[str, str], ttl: int) -> dict[str, str] | None:
        """Take an idempotency key; returns what the key already holds when it is taken."""

    @abstractmethod
    def set_key(self, key: str, value: dict[str, str], ttl: int) -> None:
        """Set what an idempotency key holds, for ``ttl`` seconds."""

    @abstractmethod
    def release_key(self, key: str) -> None:
        """Forget an idempotency key."""

    def status(self, operation_id: str) -> dict[str, Any] | None:
        """The public status; the id lists are included once the operation has ended."""
        snapshot = self.snapshot(operation_id)
        return None if snapshot is None else snapshot.render()

    def snapshot(self, operation_id: str) -> Snapshot | None:
        """The record with its errors and, once ended, its id lists."""
        record = self.record(operation_id)
        return None if record is None else self.complete(record)

    async def asnapshot(self, operation_id: str) -> Snapshot | None:
        """``snapshot`` for async views (by default in a thread: a store may block)."""
        return await sync_to_async(self.snapshot, thread_sensitive=False)(operation_id)

    def render(self, record: OperationRecord) -> dict[str, Any]:
        """The full status of ``record`` (a published state, say)."""
        return self.complete(record).render()

    def complete(self, record: OperationRecord) -> Snapshot:
        """``record`` with the first page of its errors and, once ended, of its result lists."""
        operation_id = record.task_id
        lists = {}
        if record.status.is_terminal:
            lists = {name: self.page(operation_id, name) for name in record.result_lists}
        return Snapshot(record, self.page(operation_id, "errors"), lists)

    def read_page(
        self, operation_id: str, name: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        """The record (whose owner may read the page) and a ``page`` of one of its lists; None
        when the operation is unknown."""
        record = self.record(operation_id)
        return None if record is None else (record, self.page(operation_id, name, start, limit))

    async def aread_page(
        self, operation_id: str, name: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        """``read_page`` for async views (by default in a thread: a store may block)."""
        read = sync_to_async(self.read_page, thread_sensitive=False)
        return await read(operation_id, name, start, limit)

    def start(self, operation_id: str) -> bool:
        """The first task has planned the operation: ``pending → running``."""
        return self.move(operation_id, START, {})

    def request_cancel(self, operation_id: str) -> bool:
        """Ask the workers to stop between chunks; False when the operation has ended."""
        return self.move(operation_id, REQUEST_CANCEL, {"cancel_requested": True})

    def fail(self, operation_id: str, message: str) -> bool:
        """End the operation ``failed`` with ``message``; False when it has ended already."""
        return self.move(operation_id, FAIL, {"message": message})
