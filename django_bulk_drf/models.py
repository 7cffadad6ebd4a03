"""The chunk ledger: which chunks of a background operation are committed, and what they did.

A chunk's ledger row is written in the same transaction as the chunk's rows, so a chunk that a
worker runs twice (a redelivered task after a crash) finds its row and is not applied again; the
counts an operation reports are what its committed chunks recorded. The model and its operations
are in ``ledger.py``.
"""

from __future__ import annotations

from .ledger import RECORD_ROW, ChunkLedger

__all__ = ["RECORD_ROW", "ChunkLedger"]
