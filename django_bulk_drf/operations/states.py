"""The state machine of an operation, written once as data (``Move``) and two functions
(``moved``, ``after_chunk``): ``pending → running → completed | failed | cancelled``.

- ``START``: ``start()`` (the first task has planned the operation) or the first chunk counted.
- A chunk is counted once; when every chunk is counted a running operation ends: ``CANCEL`` when a
  cancel was requested (``REQUEST_CANCEL``), else ``COMPLETE``. A chunk counted after the end
  changes the counters but publishes nothing: the end is published once.
- ``FAIL``: a task gave up, or what the operation needs is gone.

Every store applies these: ``LocalOperationStore`` calls the functions, the Redis store's Lua
scripts receive the moves as arguments, so that no store spells the rules again
(``tests/test_operation_stores.py`` drives every store through the same calls).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .record import ChunkReport, OperationRecord, Status

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
