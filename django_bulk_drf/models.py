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
    def claim(cls, db: str, operation_id: Any, chunk_index: int) -> ChunkLedger | None:
        """Claim a chunk inside the current transaction (in one statement where the database
        has ``INSERT … RETURNING``).

        Returns None when the chunk is this run's to apply, or the row of the run that applied it
        already. A concurrent run of the same chunk waits on the unique index until the first
        one commits (and then finds its row) or rolls back (and then claims it).
        """
        values = {
            "operation_id": operation_id,
            "chunk_index": chunk_index,
            "processed": 0,
            "outcome": {},
            "committed_at": timezone.now(),
        }
        if bulk_backend(db).insert_unless_taken(cls, values):
            return None
        return cls.objects.using(db).get(operation_id=operation_id, chunk_index=chunk_index)
