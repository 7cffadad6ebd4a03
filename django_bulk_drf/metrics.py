"""Timing and statement counts reported when ``BULK_DRF_ENABLE_METRICS`` is on.

A synchronous answer gets ``metrics: {duration_ms, queries, rows_per_second}``; an operation's
status gets ``metrics: {elapsed_seconds, worker_seconds, rows_per_second}``, where worker time is
the sum over chunks of the time spent validating and writing them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import connections


class OperationTimes(Protocol):
    """What the metrics of an operation read of its record (``operations.OperationRecord``)."""

    @property
    def started_at(self) -> datetime | None: ...

    @property
    def finished_at(self) -> datetime | None: ...

    @property
    def work_ms(self) -> int: ...

    @property
    def processed(self) -> int: ...


@dataclass
class Measurement:
    """How long a block took and how many statements it ran."""

    started: float
    duration_ms: float = 0.0
    queries: int = 0

    def __call__(self, execute, sql, params, many, context):
        """A database execute wrapper: counts the statements run through it."""
        self.queries += 1
        return execute(sql, params, many, context)


@contextmanager
def measure(db: str) -> Iterator[Measurement]:
    """Time the block and count the statements it runs on ``db`` (in this thread)."""
    measurement = Measurement(started=time.perf_counter())
    with connections[db].execute_wrapper(measurement):
        try:
            yield measurement
        finally:
            measurement.duration_ms = (time.perf_counter() - measurement.started) * 1000


def sync_metrics(measurement: Measurement, total_items: int) -> dict[str, Any]:
    seconds = measurement.duration_ms / 1000
    return {
        "duration_ms": round(measurement.duration_ms, 2),
        "queries": measurement.queries,
        "rows_per_second": round(total_items / seconds, 1) if seconds else None,
    }


def operation_metrics(record: OperationTimes) -> dict[str, Any]:
    """Wall time since the operation started, worker time, and rows per second."""
    if record.started_at is None:
        return {"elapsed_seconds": 0.0, "worker_seconds": 0.0, "rows_per_second": None}
    ended = record.finished_at or datetime.now(record.started_at.tzinfo)
    elapsed = (ended - record.started_at).total_seconds()
    return {
        "elapsed_seconds": round(elapsed, 3),
        "worker_seconds": round(record.work_ms / 1000, 3),
        "rows_per_second": round(record.processed / elapsed, 1) if elapsed > 0 else None,
    }
