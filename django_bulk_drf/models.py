"""The chunk ledger: which chunks of a background operation are committed, and what they did.

A chunk's ledger row is written in the same transaction as the chunk's rows, so a chunk that a
worker runs twice (a redelivered task after a crash) finds its row and is not applied again; the
counts an operation reports are what its committed chunks recorded.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from .backends import bulk_backend

#: The ledger row of an operation that holds a copy of its record rather than a chunk.
RECORD_ROW = -1


class ChunkLedger(models.Model):
    """One committed chunk of one operation, with the ids it wrote and the items it refused."""

    operation_id = models.UUIDField(db_index=True)
    chunk_index = models.IntegerField()
    processed = models.IntegerField(default=0)
    outcome = models.JSONField(default=dict)
    committed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operation_id", "chunk_index"], name="bulk_drf_chunk_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}#{self.chunk_index}"

    @classmethod
    def open_chunks(
        cls, db: str, operation_id: Any, chunk_indexes: list[int], timeout: float
    ) -> tuple[bool, dict[int, ChunkLedger]]:
        """Open the transaction of a batch of chunks (in one statement where the database
        allows): its statements capped at ``timeout`` seconds, the operation's record copy
        (``RECORD_ROW``) share-locked, each chunk claimed.

        Returns whether the operation was ended from its ledger (its record was lost: nothing may
        be written; the share lock makes such an ending, ``background.recover_operation``, wait
        for the chunks in flight to commit), and the rows of the chunks that an earlier run
        applied already; the others are this run's to apply. A concurrent run of the same chunk
        waits on the unique index until the first one commits (and then finds its row) or rolls
        back (and then claims it).
        """
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
        ended, claimed = bulk_backend(db).open_chunks(cls, claims, RECORD_ROW, timeout)
        applied = [index for index in chunk_indexes if index not in set(claimed)]
        if ended or not applied:
            return ended, {}
        rows = cls.objects.using(db).filter(operation_id=operation_id, chunk_index__in=applied)
        return False, {row.chunk_index: row for row in rows}

    @classmethod
    def open_chunk(
        cls, db: str, operation_id: Any, chunk_index: int, timeout: float
    ) -> tuple[bool, ChunkLedger | None]:
        """``open_chunks`` of one chunk: whether the operation was ended, and the row of the run
        that applied the chunk already (None: it is this run's to apply)."""
        ended, applied = cls.open_chunks(db, operation_id, [chunk_index], timeout)
        return ended, applied.get(chunk_index)

    @classmethod
    def record_outcomes(
        cls, db: str, operation_id: Any, outcomes: dict[int, tuple[int, str]]
    ) -> None:
        """Write what each chunk of a batch did, ``{chunk_index: (processed, outcome as JSON
        text)}``, in one statement where the database allows."""
        bulk_backend(db).record_outcomes(cls, operation_id, outcomes)
