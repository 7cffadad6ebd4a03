"""A batch: consecutive chunks of a run written together, each still reported on its own.

A chunk is the unit of progress, errors and exactly-once: each has its ledger row and its report.
A batch (up to ``BULK_DRF_BATCH_SIZE`` rows of consecutive chunks) is the unit of database work:
one transaction, one statement claiming the chunks' ledger rows, one validation (one key lookup),
one write (one ``COPY`` and one merge on PostgreSQL) and one statement recording what each chunk
did. When the database refuses a batch, it is rolled back and its chunks are applied again one
at a time, so that a refusal rolls back and reports only the chunk at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from django.db import DataError, IntegrityError, OperationalError, ProgrammingError, transaction

from .actions import OPERATIONS
from .backends import bulk_backend
from .chunks import StagedChunk
from .execution import BulkOutcome, execute_payload, read_rows
from .models import ChunkLedger
from .operations import ChunkReport, OperationRecord
from .payloads import BulkPayload
from .serializers import BulkItemsValidator
from .settings import bulk_settings
from .validated import NON_FIELD_ERRORS
from .writers import ID_NAMES, WriteResult

#: What a database refusal of a batch (or a chunk) raises.
REFUSALS = (IntegrityError, DataError, ProgrammingError)


class OperationLost(Exception):
    """The operation record or its staged payload is gone (expired, or the store was wiped), or
    the operation was ended from its ledger: nothing more may be written."""


class Unsplittable(Exception):
    """A write hook returned ids without saying which item wrote each: the batch's result cannot
    be told apart into its chunks' (they are then written one at a time)."""


@dataclass
class BatchChunk:
    """One chunk of a batch: its index in the operation and its staged items."""

    index: int
    chunk: StagedChunk


def chunks_per_batch(record: OperationRecord) -> int:
    """Consecutive chunks written together: ``BULK_DRF_BATCH_SIZE`` rows' worth, at least one
    (a dry run's chunks are rehearsed one at a time)."""
    if record.dry_run:
        return 1
    return max(1, bulk_settings.BATCH_SIZE // record.chunk_size)


def payload_of(record: OperationRecord, items: list[Any]) -> BulkPayload:
    """The operation's payload of ``items``, as its request described it."""
    return BulkPayload(
        record.operation,
        items,
        record.unique_fields,
        record.partial,
        dry_run=record.dry_run,
        skip_unchanged=record.skip_unchanged,
    )


def apply_batch(
    viewset: Any,
    record: OperationRecord,
    chunks: list[BatchChunk],
    validator: BulkItemsValidator | None = None,
) -> dict[int, ChunkReport]:
    """Validate and write ``chunks`` in one transaction with their ledger rows; the report of
    each, by chunk index. A chunk committed by an earlier run is reported as it was, not redone.
    A database refusal rolls the batch back and applies its chunks one by one; refused alone, a
    chunk reports each of its items. Items refused while staging are reported with their chunk's
    errors. ``validator``: the run's (``execution.execute_payload``)."""
    if OPERATIONS[record.operation].reads:
        return {
            part.index: ChunkReport(
                len(part.chunk.items), results=read_rows(viewset, part.chunk.items)
            )
            for part in chunks
        }
    backend = bulk_backend(viewset.get_queryset().db)
    try:
        return write_together(viewset, record, chunks, validator)
    except OperationalError as exc:
        if not backend.is_statement_timeout(exc):
            raise  # the database is unreachable: the task retries the run
        reason = f"This chunk exceeded BULK_DRF_QUERY_TIMEOUT and was rolled back: {exc}".strip()
    except REFUSALS as exc:
        reason = f"The database refused this chunk, which was rolled back: {exc}".strip()
    except Unsplittable:
        reason = ""
    if len(chunks) > 1:
        reports: dict[int, ChunkReport] = {}
        for part in chunks:
            reports.update(apply_batch(viewset, record, [part], validator))
        return reports
    return {chunks[0].index: refused_chunk(record, chunks[0], reason)}


def write_together(
    viewset: Any,
    record: OperationRecord,
    chunks: list[BatchChunk],
    validator: BulkItemsValidator | None,
) -> dict[int, ChunkReport]:
    """The batch in one transaction: claim, validate, write, record; raises what the database
    raised (the transaction is then rolled back)."""
    operation_id = record.task_id
    db = viewset.get_queryset().db
    with transaction.atomic(using=db):
        indexes = [part.index for part in chunks]
        ended, applied = ChunkLedger.objects.using(db).open_chunks(
            operation_id, indexes, bulk_settings.QUERY_TIMEOUT
        )
        if ended:
            raise OperationLost(f"Operation {operation_id} was ended from its ledger.")
        reports = {index: ChunkReport.from_dict(row.outcome) for index, row in applied.items()}
        todo = [part for part in chunks if part.index not in applied]
        if not todo:
            return reports
        written = {
            part.index: report
            for part, report in zip(
                todo, write_chunks(viewset, record, todo, validator), strict=True
            )
        }
        ChunkLedger.objects.using(db).record_outcomes(
            operation_id,
            {
                index: (report.processed, orjson.dumps(report.to_dict(), default=str).decode())
                for index, report in written.items()
            },
        )
        return reports | written


def write_chunks(
    viewset: Any,
    record: OperationRecord,
    chunks: list[BatchChunk],
    validator: BulkItemsValidator | None,
) -> list[ChunkReport]:
    """Validate and write the items of ``chunks`` as one payload; each chunk's report."""
    items: list[Any] = []
    index_map: list[int] = []
    for part in chunks:
        first = part.index * record.chunk_size
        refused = {error["index"] for error in part.chunk.refused}
        for at, item in enumerate(part.chunk.items):
            if first + at not in refused:
                items.append(item)
                index_map.append(first + at)
    payload = payload_of(record, items)
    outcome = execute_payload(
        viewset, payload, skip_invalid=True, index_map=index_map, validator=validator
    )
    return split(record, chunks, outcome, index_map)


def split(
    record: OperationRecord, chunks: list[BatchChunk], outcome: BulkOutcome, index_map: list[int]
) -> list[ChunkReport]:
    """The outcome of a batch told apart into the report of each of its chunks."""
    position = {part.index: at for at, part in enumerate(chunks)}
    results = [WriteResult() for _ in chunks]
    errors: list[list[dict[str, Any]]] = [list(part.chunk.refused) for part in chunks]
    for name in ID_NAMES:
        ids = getattr(outcome, name)
        if not ids:
            continue
        if len(chunks) == 1:
            setattr(results[0], name, list(ids))
            continue
        if not outcome.knows_origins(name):
            raise Unsplittable(name)
        for pk, origin in zip(ids, outcome.origins[name], strict=True):
            at = position[index_map[origin] // record.chunk_size]
            getattr(results[at], name).append(pk)
    for error in outcome.errors:
        errors[position[error["index"] // record.chunk_size]].append(error)
    return [
        ChunkReport(len(part.chunk.items), result, by_index(chunk_errors))
        for part, result, chunk_errors in zip(chunks, results, errors, strict=True)
    ]


def refused_chunk(record: OperationRecord, part: BatchChunk, reason: str) -> ChunkReport:
    """The report of a chunk the database refused: each of its items, with ``reason``."""
    first = part.index * record.chunk_size
    refused = {error["index"] for error in part.chunk.refused}
    errors = [
        {"index": first + at, "errors": {NON_FIELD_ERRORS: [reason]}}
        for at in range(len(part.chunk.items))
        if first + at not in refused
    ]
    return ChunkReport(len(part.chunk.items), errors=by_index(errors + part.chunk.refused))


def by_index(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(errors, key=lambda error: error["index"])
