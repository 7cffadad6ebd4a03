"""The steps of a background operation, as plain functions the Celery tasks call.

1. ``staging.Staging`` (in the request): the payload is saved chunk by chunk as the body is read,
   its keys checked across the whole payload on the way (a duplicate in a later chunk is refused
   on the later item, as in the sync path), then the operation record is created; only the
   operation id goes through the broker.
2. ``plan_operation`` (first task): keeps a copy of the record in the ledger and marks the
   operation running; it reads no chunk.
3. ``process_chunk`` (one task per run of consecutive chunks, any worker): rebuilds the request's
   viewset once, then validates and writes the chunks of the run in batches (``batches.py``): a
   batch's chunks in one transaction with their ledger rows, a refused batch chunk by chunk, and
   reports each chunk's counts to the record (in one round trip for the batch) before it reads
   the next batch: a worker holds one batch at a time.

The ledger also keeps a copy of the record (row ``RECORD_ROW``, written when the operation starts),
so that a record the store has lost (a Redis restarted without persistence) is rebuilt from what
the database committed: ``recover_operation``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import (
    router,
    transaction,
)
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework.request import Request

from .batches import BatchChunk, OperationLost, apply_batch, chunks_per_batch, payload_of
from .execution import payload_validator
from .models import RECORD_ROW, ChunkLedger
from .operations import (
    ID_LISTS,
    ChunkReport,
    OperationRecord,
    OperationStore,
    Status,
    get_operation_store,
    now,
)
from .protocols import BulkViewSet
from .settings import bulk_settings
from .staging import StagedChunk
from .validation import BulkItemsValidator

logger = logging.getLogger(__name__)

#: Items of one run of chunks at most, and runs of an operation at least (``runs``).
RUN_ITEMS = 5000
FEWEST_RUNS = 16


def rebuild_viewset(record: OperationRecord) -> Any:
    """The viewset of the request that started the operation, with that request's user and
    ``action``, so that ``get_queryset()``, ``get_serializer_class()``, serializer context,
    permissions and ``perform_*`` hooks apply as they did in the request."""
    viewset_class = import_string(record.viewset)
    http_request = HttpRequest()
    http_request.method = record.method
    http_request.path = record.path
    http_request.META = {
        "QUERY_STRING": record.query_string,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REQUEST_METHOD": record.method,
    }
    http_request.GET = QueryDict(record.query_string)
    viewset = viewset_class()
    viewset.basename = record.basename
    viewset.args, viewset.kwargs = (), {}
    viewset.format_kwarg = None
    viewset.action_map = {}
    viewset.action = record.action
    viewset.bulk_background = True
    request = Request(http_request, parsers=viewset.get_parsers())
    request.user = load_user(record.owner_id)
    viewset.request = request
    viewset.headers = {}
    viewset.check_permissions(request)
    return viewset


def load_user(owner_id: str | None) -> Any:
    if owner_id is None:
        return AnonymousUser()
    user_model = get_user_model()
    return user_model._default_manager.get(pk=user_model._meta.pk.to_python(owner_id))


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
    db = rebuild_viewset(record).get_queryset().db
    forget_old_ledger_rows(db)
    ChunkLedger.objects.using(db).get_or_create(
        operation_id=operation_id,
        chunk_index=RECORD_ROW,
        defaults={"outcome": {"record": record.to_dict()}},
    )
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


def committed_counts(operation_id: str, db: str, store: OperationStore) -> dict[str, int]:
    """What the committed chunks of an operation wrote, from the ledger. A chunk whose commit went
    through but was never reported (its connection dropped before the commit's answer, and its
    retries ran out) is reported now, so that the record counts what the database holds."""
    counts = {"created_count": 0, "updated_count": 0, "deleted_count": 0, "chunks": 0}
    for index, outcome in (
        ChunkLedger.objects.using(db)
        .filter(operation_id=operation_id, chunk_index__gte=0)
        .values_list("chunk_index", "outcome")
    ):
        store.report_chunk(operation_id, index, ChunkReport.from_dict(outcome))
        counts["chunks"] += 1
        for name in ("created", "updated", "deleted"):
            counts[f"{name}_count"] += len(outcome.get(f"{name}_ids", []))
    return counts


def fail_operation(operation_id: str, reason: str, store: OperationStore | None = None) -> None:
    """End the operation ``failed``, saying what its committed chunks wrote."""
    store = store or get_operation_store()
    record = store.record(operation_id)
    if record is None:
        logger.warning("bulk operation %s lost: %s", operation_id, reason)
        recover_operation(operation_id, store)
        return
    try:
        db = rebuild_viewset(record).get_queryset().db
    except Exception:  # the viewset itself may be what failed; the ledger is then on "default"
        db = "default"
    counts = committed_counts(operation_id, db, store)
    logger.warning("bulk operation %s failed: %s", operation_id, reason)
    store.fail(
        operation_id,
        f"{reason} Committed before the failure: {counts['chunks']} chunk(s), "
        f"{counts['created_count']} created, {counts['updated_count']} updated, "
        f"{counts['deleted_count']} deleted.",
    )


def forget_old_ledger_rows(db: str) -> None:
    """Ledger rows are needed while their operation can be redelivered or inspected."""
    horizon = timezone.now() - timedelta(seconds=bulk_settings.CACHE_TIMEOUT)
    ChunkLedger.objects.using(db).filter(committed_at__lt=horizon).delete()


def recover_operation(
    operation_id: str, store: OperationStore | None = None
) -> OperationRecord | None:
    """Rebuild an operation record that the store has lost, from the ledger: ``completed`` when
    every chunk had committed, else ``failed`` (the staged payload was lost with the record),
    with the counts and ids the database holds; no chunk writes after that. Returns the record
    now in the store, or None when the ledger has no copy (the operation never started, or has
    expired)."""
    store = store or get_operation_store()
    db = router.db_for_write(ChunkLedger)
    horizon = timezone.now() - timedelta(seconds=bulk_settings.CACHE_TIMEOUT)
    rows = ChunkLedger.objects.using(db).filter(operation_id=operation_id)
    with transaction.atomic(using=db):
        # A copy older than the records' lifetime may belong to an operation that simply expired.
        copy = (
            rows.select_for_update()
            .filter(chunk_index=RECORD_ROW, committed_at__gte=horizon)
            .first()
        )
        if copy is None:
            return None
        if not copy.outcome.get("ended"):
            copy.outcome["ended"] = True
            copy.save(update_fields=["outcome"])
        chunks = list(rows.filter(chunk_index__gte=0).order_by("chunk_index"))
    record = OperationRecord.from_dict(copy.outcome["record"])
    lists: dict[str, list[Any]] = {name: [] for name in (*ID_LISTS, "errors")}
    for chunk in chunks:
        for name in lists:
            lists[name].extend(chunk.outcome.get(name, []))
    complete = len(chunks) == record.chunks_total
    status = Status.COMPLETED if complete else Status.FAILED
    created, updated, deleted = (
        len(lists[f"{kind}_ids"]) for kind in ("created", "updated", "deleted")
    )
    record = replace(
        record,
        status=status,
        processed=sum(chunk.processed for chunk in chunks),
        error_count=len(lists["errors"]),
        chunks_done=len(chunks),
        started_at=record.started_at or now(),
        finished_at=now(),
        message="The operation record was lost (was the store restarted without "
        "persistence?) and was rebuilt from the chunk ledger. Committed: "
        f"{len(chunks)} of {record.chunks_total} chunk(s), {created} created, "
        f"{updated} updated, {deleted} deleted.",
        created_count=created,
        updated_count=updated,
        deleted_count=deleted,
    )
    if store.restore(record, lists, [chunk.chunk_index for chunk in chunks]):
        logger.warning("bulk operation %s rebuilt from its ledger: %s", operation_id, status)
    return store.record(operation_id)
