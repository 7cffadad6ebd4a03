"""The chunk ledger: which chunks of a background operation are committed, and what they did.

A chunk's ledger row is written in the same transaction as the chunk's rows, so a chunk that a
worker runs twice (a redelivered task after a crash) finds its row and is not applied again; the
counts an operation reports are what its committed chunks recorded. Its operations are those of
its manager (``ledger.ChunkLedgerQuerySet``).
"""

from __future__ import annotations

from django.db import models

from .ledger import RECORD_ROW, ChunkLedgerQuerySet

__all__ = ["RECORD_ROW", "ChunkLedger"]


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
