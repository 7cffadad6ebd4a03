"""The steps of a background operation, as plain functions the Celery tasks call.

1. ``start.start_operation`` (in the request): the payload is saved chunk by chunk as the body is
   read, its keys checked across the whole payload on the way (a duplicate in a later chunk is
   refused on the later item, as in the sync path), then the operation record is created; only
   the operation id goes through the broker.
2. ``plan_operation`` (first task): keeps a copy of the record in the ledger and marks the
   operation running; it reads no chunk.
3. ``process_chunk`` (one task per run of consecutive chunks, any worker): rebuilds the request's
   viewset once, then validates and writes the chunks of the run in batches (``batches.py``): a
   batch's chunks in one transaction with their ledger rows, a refused batch chunk by chunk, and
   reports each chunk's counts to the record (in one round trip for the batch) before it reads
   the next batch: a worker holds one batch at a time.

What the request side needs too (the chunk ledger: failing an operation, rebuilding a lost record)
is in ``ledger.py``; the request's capture and rebuild in ``capture.py``.
"""

from __future__ import annotations

import time

from .batches import BatchChunk, OperationLost, apply_batch, chunks_per_batch, payload_of
from .capture import load_user as load_user  # its former home
from .capture import rebuild_viewset
from .chunks import StagedChunk
from .execution import payload_validator
from .ledger import chunk_ledger

# Their former home: the ledger's operations, for the request side and the workers alike.
from .ledger import committed_counts as committed_counts
from .ledger import fail_operation as fail_operation
from .ledger import recover_operation as recover_operation
from .operations import ChunkReport, OperationRecord, OperationStore, Status, get_operation_store
from .protocols import BulkViewSet
from .serializers import BulkItemsValidator

#: Items of one run of chunks at most, and runs of an operation at least (``runs``).
RUN_ITEMS = 5000
FEWEST_RUNS = 16


def plan_operation(operation_id: str, store: OperationStore | None = None) -> list[tuple[int, int]]:
    """Keep a copy of the record in the ledger and mark the operation running; returns its runs
    of chunks (``runs``; none when the operation has already ended). Raises ``OperationLost``
    when the record is gone."""
    store = store or get_operation_store()
    record = store.record(operation_id)
    if record is None:
        raise OperationLost(f"Operation {operation_id} is unknown or expired.")
    if record.status is not Status.PENDING:
        return runs(record) if record.status is Status.RUNNING else []
    ledger = chunk_ledger(rebuild_viewset(record).get_queryset().db)
    ledger.forget_old_rows()
    ledger.keep_record_copy(record)
    store.start(operation_id)
    return runs(record)


def runs(record: OperationRecord) -> list[tuple[int, int]]:
    """The operation's chunks in runs ``(first chunk, chunk count)``, one task each: at most
    ``RUN_ITEMS`` items a run (about a second of a worker's time), and at least ``FEWEST_RUNS``
    runs where there are the chunks, so that an operation spreads over that many processes. A
    run longer than a batch holds whole batches (``chunks_per_batch``)."""
    longest = max(1, RUN_ITEMS // record.chunk_size)
    length = max(1, min(longest, record.chunks_total // FEWEST_RUNS))
    per_batch = chunks_per_batch(record)
    if length > per_batch:
        length -= length % per_batch
    return [
        (first, min(length, record.chunks_total - first))
        for first in range(0, record.chunks_total, length)
    ]


def process_chunk(
    operation_id: str, index: int, count: int = 1, store: OperationStore | None = None
) -> None:
    """Validate, write and report chunks ``index`` to ``index + count - 1`` in batches
    (``batches.py``), the request's viewset rebuilt once for them all; a chunk already committed
    is reported, not redone, and one already reported is passed over."""
    store = store or get_operation_store()
    record = store.record(operation_id)
    if record is None:
        raise OperationLost(f"Operation {operation_id} is unknown or expired.")
    per_batch = chunks_per_batch(record)
    end = index + count
    viewset = validator = None
    for first in range(index, end, per_batch):
        started = time.perf_counter()
        indexes = list(range(first, min(first + per_batch, end)))
        record, staged = store.record_and_chunks(operation_id, indexes)
        if record is None:
            raise OperationLost(f"Operation {operation_id} is unknown or expired.")
        if record.status.is_terminal:
            return
        if record.cancel_requested:
            store.report_chunks(operation_id, [(i, ChunkReport(processed=0)) for i in indexes])
            continue
        # A chunk whose payload is gone was reported already (the record drops it then).
        chunks = [
            BatchChunk(at, StagedChunk.decode(value))
            for at, value in zip(indexes, staged, strict=True)
            if value is not None
        ]
        if not chunks:
            continue
        if viewset is None:
            viewset = rebuild_viewset(record)
            payload = payload_of(record, [])
            validator = payload_validator(viewset, payload) if payload.kind.validates else None
        reports = apply_batch(viewset, record, chunks, validator)
        share_work_time(reports, time.perf_counter() - started)
        counted = store.report_chunks(operation_id, list(reports.items()))
        if not any(counted) and store.record(operation_id) is None:
            raise OperationLost(
                f"Operation {operation_id} vanished while chunks {indexes[0]} to {indexes[-1]} "
                "committed."
            )


def share_work_time(reports: dict[int, ChunkReport], seconds: float) -> None:
    """A batch's worker time, shared among its chunks by their items."""
    items = sum(report.processed for report in reports.values()) or len(reports)
    for report in reports.values():
        share = (report.processed or 1) / items if items else 1 / len(reports)
        report.work_ms = round(seconds * 1000 * share)


def apply_chunk(
    viewset: BulkViewSet,
    record: OperationRecord,
    index: int,
    chunk: StagedChunk,
    validator: BulkItemsValidator | None = None,
) -> ChunkReport:
    """One chunk in one transaction, with its ledger row (a batch of one: ``apply_batch``)."""
    return apply_batch(viewset, record, [BatchChunk(index, chunk)], validator)[index]
