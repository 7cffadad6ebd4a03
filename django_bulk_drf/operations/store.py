"""``OperationStore``: the parts of a store (``protocols.py``) in one class, and what follows from
them.

A store implements ``OperationRecords``, ``Staging`` and ``IdempotencyKeys``; it may have
``leases`` (``ChunkLeases``, None for a store of one process) and names its progress hub
(``progress_events``, a ``ProgressEvents``). This class derives from those the status body,
``start``, ``request_cancel``, ``fail`` and the batched reads and reports, which a store may do in
fewer round trips. The state machine they follow is ``states.py``; its names are also importable
from here.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar

from asgiref.sync import sync_to_async

from .lists import Page, Position
from .protocols import ChunkLeases, IdempotencyKeys, OperationRecords, Staging
from .record import ChunkReport, OperationRecord, Snapshot
from .states import (
    CANCEL,
    COMPLETE,
    FAIL,
    LIVE,
    REQUEST_CANCEL,
    START,
    Move,
    after_chunk,
    moved,
    restored_seq,
)

__all__ = [
    "CANCEL",
    "COMPLETE",
    "FAIL",
    "LIVE",
    "REQUEST_CANCEL",
    "START",
    "Move",
    "OperationStore",
    "after_chunk",
    "moved",
    "restored_seq",
]


class OperationStore(OperationRecords, Staging, IdempotencyKeys, ABC):
    """Where operation records, staged payloads, their lists and progress events live.

    ``BULK_DRF_OPERATION_STORE`` names the class; ``for_process()`` gives the instance in use.
    """

    #: The progress hub (an import string) that hears what this store publishes; the default of
    #: ``BULK_DRF_PROGRESS_EVENTS``.
    progress_events: ClassVar[str | None] = None
    #: Which worker holds which chunk, for taking up the chunks of a worker that died
    #: (``leases.RedisChunkLeases``); None for a store of one process, whose worker cannot be
    #: lost without the store.
    leases: ChunkLeases | None = None
    _instances: ClassVar[dict[type, OperationStore]] = {}

    @classmethod
    def for_process(cls) -> OperationStore:
        """The instance this process uses: one per class, made on first use."""
        instance = OperationStore._instances.get(cls)
        if instance is None:
            instance = OperationStore._instances.setdefault(cls, cls())
        return instance

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

    def report_chunks(
        self, operation_id: str, reports: Sequence[tuple[int, ChunkReport]]
    ) -> list[bool]:
        """``report_chunk`` of each ``(index, report)`` in turn (a store that can sends them
        together); whether each was counted."""
        return [self.report_chunk(operation_id, index, report) for index, report in reports]

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
        operation_id = record.operation_id
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
