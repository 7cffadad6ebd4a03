"""The chunk ledger's operations: what the request side and the workers both need of it.

A chunk's ledger row is written in the same transaction as the chunk's rows (``open_chunks``,
``record_outcomes``), so a chunk that a worker runs twice (a redelivered task after a crash) finds
its row and is not applied again, and the counts an operation reports are what its committed
chunks recorded (``committed_counts``).

The ledger also keeps a copy of the record (row ``RECORD_ROW``, written when the operation starts:
``keep_record_copy``), so that a record the store has lost (a Redis restarted without persistence)
is rebuilt from what the database committed (``recover_operation``), by the status view, the
progress socket or a worker, whichever finds it gone first.

``ChunkLedger`` is the model (``models.py`` names it to Django), ``ChunkLedgerQuerySet`` its manager
(``ChunkLedger.objects``); the functions below are its entry points for callers that know an
operation, not a database.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.db import models, router, transaction
from django.utils import timezone

from .backends import bulk_backend
from .capture import rebuild_viewset
from .operations import (
    ID_LISTS,
    ChunkReport,
    OperationRecord,
    OperationStore,
    Status,
    get_operation_store,
    now,
)
from .settings import bulk_settings

logger = logging.getLogger(__name__)

#: The ledger row of an operation that holds a copy of its record rather than a chunk.
RECORD_ROW = -1


class ChunkLedgerQuerySet(models.QuerySet["ChunkLedger", "ChunkLedger"]):
    """The rows of the chunk ledger, on the database of ``using()`` (else the router's)."""

    def write_db(self) -> str:
        """The database of ``using()``, else the one the router writes the ledger to."""
        return getattr(self, "_db", None) or router.db_for_write(self.model)

    def open_chunks(
        self, operation_id: Any, chunk_indexes: list[int], timeout: float
    ) -> tuple[bool, dict[int, ChunkLedger]]:
        """Open the transaction of a batch of chunks (in one statement where the database
        allows): its statements capped at ``timeout`` seconds, the operation's record copy
        (``RECORD_ROW``) share-locked, each chunk claimed.

        Returns whether the operation was ended from its ledger (its record was lost: nothing may
        be written; the share lock makes such an ending, ``recover_operation``, wait for the
        chunks in flight to commit), and the rows of the chunks that an earlier run applied
        already; the others are this run's to apply. A concurrent run of the same chunk waits on
        the unique index until the first one commits (and then finds its row) or rolls back (and
        then claims it).
        """
        db = self.write_db()
        moment = timezone.now()
        claims = [
            {
                "operation_id": operation_id,
                "processed": 0,
                "outcome": {},
                "committed_at": moment,
                "chunk_index": index,
            }
            for index in chunk_indexes
        ]
        ended, claimed = bulk_backend(db).open_chunks(self.model, claims, RECORD_ROW, timeout)
        applied = [index for index in chunk_indexes if index not in set(claimed)]
        if ended or not applied:
            return ended, {}
        rows = self.using(db).filter(operation_id=operation_id, chunk_index__in=applied)
        return False, {row.chunk_index: row for row in rows}

    def open_chunk(
        self, operation_id: Any, chunk_index: int, timeout: float
    ) -> tuple[bool, ChunkLedger | None]:
        """``open_chunks`` of one chunk: whether the operation was ended, and the row of the run
        that applied the chunk already (None: it is this run's to apply)."""
        ended, applied = self.open_chunks(operation_id, [chunk_index], timeout)
        return ended, applied.get(chunk_index)

    def record_outcomes(self, operation_id: Any, outcomes: dict[int, tuple[int, str]]) -> None:
        """Write what each chunk of a batch did, ``{chunk_index: (processed, outcome as JSON
        text)}``, in one statement where the database allows."""
        bulk_backend(self.write_db()).record_outcomes(self.model, operation_id, outcomes)

    def keep_record_copy(self, record: OperationRecord) -> None:
        """Keep the copy of a starting operation's record (``recover_operation`` reads it)."""
        self.using(self.write_db()).get_or_create(
            operation_id=record.task_id,
            chunk_index=RECORD_ROW,
            defaults={"outcome": {"record": record.to_dict()}},
        )

    def forget_old_rows(self) -> None:
        """Ledger rows are needed while their operation can be redelivered or inspected."""
        horizon = timezone.now() - timedelta(seconds=bulk_settings.CACHE_TIMEOUT)
        self.using(self.write_db()).filter(committed_at__lt=horizon).delete()

    def committed_counts(self, operation_id: str, store: OperationStore) -> dict[str, int]:
        """What the committed chunks of an operation wrote. A chunk whose commit went through but
        was never reported (its connection dropped before the commit's answer, and its retries
        ran out) is reported now, so that the record counts what the database holds."""
        counts = {"created_count": 0, "updated_count": 0, "deleted_count": 0, "chunks": 0}
        for index, outcome in (
            self.using(self.write_db())
            .filter(operation_id=operation_id, chunk_index__gte=0)
            .values_list("chunk_index", "outcome")
        ):
            store.report_chunk(operation_id, index, ChunkReport.from_dict(outcome))
            counts["chunks"] += 1
            for name in ("created", "updated", "deleted"):
                counts[f"{name}_count"] += len(outcome.get(f"{name}_ids", []))
        return counts

    def fail_operation(
        self, operation_id: str, reason: str, store: OperationStore | None = None
    ) -> None:
        """End the operation ``failed``, saying what its committed chunks wrote; a record the
        store lost is rebuilt from the ledger instead."""
        store = store or get_operation_store()
        record = store.record(operation_id)
        if record is None:
            logger.warning("bulk operation %s lost: %s", operation_id, reason)
            self.recover_operation(operation_id, store)
            return
        try:
            db = rebuild_viewset(record).get_queryset().db
        except Exception:  # the viewset itself may be what failed; the ledger is then on "default"
            db = "default"
        counts = self.using(db).committed_counts(operation_id, store)
        logger.warning("bulk operation %s failed: %s", operation_id, reason)
        store.fail(
            operation_id,
            f"{reason} Committed before the failure: {counts['chunks']} chunk(s), "
            f"{counts['created_count']} created, {counts['updated_count']} updated, "
            f"{counts['deleted_count']} deleted.",
        )

    def recover_operation(
        self, operation_id: str, store: OperationStore | None = None
    ) -> OperationRecord | None:
        """Rebuild an operation record that the store has lost, from the ledger: ``completed``
        when every chunk had committed, else ``failed`` (the staged payload was lost with the
        record), with the counts and ids the database holds; no chunk writes after that. Returns
        the record now in the store, or None when the ledger has no copy (the operation never
        started, or has expired)."""
        store = store or get_operation_store()
        db = self.write_db()
        horizon = timezone.now() - timedelta(seconds=bulk_settings.CACHE_TIMEOUT)
        rows: models.QuerySet[ChunkLedger] = self.using(db).filter(operation_id=operation_id)
        with transaction.atomic(using=db):
            # A copy older than the records' lifetime may belong to an operation that expired.
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
        lists = outcome_lists(chunks)
        record = rebuilt_record(OperationRecord.from_dict(copy.outcome["record"]), chunks, lists)
        if store.restore(record, lists, [chunk.chunk_index for chunk in chunks]):
            logger.warning(
                "bulk operation %s rebuilt from its ledger: %s", operation_id, record.status
            )
        return store.record(operation_id)


def outcome_lists(chunks: list[ChunkLedger]) -> dict[str, list[Any]]:
    """The ids and errors the committed chunks recorded, in chunk order."""
    lists: dict[str, list[Any]] = {name: [] for name in (*ID_LISTS, "errors")}
    for chunk in chunks:
        for name in lists:
            lists[name].extend(chunk.outcome.get(name, []))
    return lists


def rebuilt_record(
    record: OperationRecord, chunks: list[ChunkLedger], lists: dict[str, list[Any]]
) -> OperationRecord:
    """The record copy, ended with what its committed ``chunks`` did (``lists``)."""
    complete = len(chunks) == record.chunks_total
    created, updated, deleted = (
        len(lists[f"{kind}_ids"]) for kind in ("created", "updated", "deleted")
    )
    return replace(
        record,
        status=Status.COMPLETED if complete else Status.FAILED,
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


def chunk_ledger(db: str | None = None) -> ChunkLedgerQuerySet:
    """The ledger's rows, on ``db`` (else the router's database for the ledger)."""
    rows = ChunkLedger.objects.all()
    return rows.using(db) if db else rows


def fail_operation(operation_id: str, reason: str, store: OperationStore | None = None) -> None:
    """End the operation ``failed``, saying what its committed chunks wrote."""
    chunk_ledger().fail_operation(operation_id, reason, store)


def recover_operation(
    operation_id: str, store: OperationStore | None = None
) -> OperationRecord | None:
    """Rebuild an operation record the store has lost, from the ledger (None: no copy)."""
    return chunk_ledger().recover_operation(operation_id, store)


def committed_counts(operation_id: str, db: str, store: OperationStore) -> dict[str, int]:
    """What the committed chunks of an operation wrote, from the ledger on ``db``."""
    return chunk_ledger(db).committed_counts(operation_id, store)


class ChunkLedger(models.Model):
    """One committed chunk of one operation, with the ids it wrote and the items it refused."""

    operation_id = models.UUIDField(db_index=True)
    chunk_index = models.IntegerField()
    processed = models.IntegerField(default=0)
    outcome = models.JSONField(default=dict)
    committed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ChunkLedgerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operation_id", "chunk_index"], name="bulk_drf_chunk_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}#{self.chunk_index}"
