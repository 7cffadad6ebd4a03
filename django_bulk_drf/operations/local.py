"""``LocalOperationStore``: operation records in this process's memory, for the embedded mode.

With no Redis the worker runs in the serving process (``embedded.py``), so the records, their lists
and the progress events can stay in process. Every change goes through the state machine of
``states.py`` under one lock, and each published record is handed to the ``listeners`` (the
in-process progress hub) while the lock is held, so that they receive them in ``seq`` order.
Lists are ``lists.SegmentedList`` objects: one Python list per segment, and the segments in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .. import exactjson
from .lists import FIRST, STATUS_LIST_LIMIT, Page, Position, SegmentedList
from .record import ChunkReport, OperationRecord, Snapshot, now
from .states import Move, after_chunk, moved, restored_seq
from .store import OperationStore


class LocalOperationStore(OperationStore):
    """The operation records of this process.

    ``listeners`` are called (from the worker's thread, under ``lock``) with each published
    record, as Redis subscribers would receive it.
    """

    progress_events = "django_bulk_drf.operations.local_events.LocalOperationEvents"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.records: dict[str, OperationRecord] = {}
        self.payloads: dict[str, dict[int, bytes]] = {}
        self.lists: dict[tuple[str, str], SegmentedList] = {}
        self.reported: dict[str, set[int]] = {}
        self.claims: dict[str, dict[bytes, int]] = {}
        self.listeners: list[Callable[[OperationRecord], None]] = []
        self.keys: dict[str, tuple[float, dict[str, str]]] = {}

    def create(self, record: OperationRecord, chunks: list[bytes]) -> None:
        with self.lock:
            self.records[record.operation_id] = record
            self.payloads.setdefault(record.operation_id, {}).update(enumerate(chunks))

    def record(self, operation_id: str) -> OperationRecord | None:
        with self.lock:
            return self.records.get(operation_id)

    def snapshot(self, operation_id: str) -> Snapshot | None:
        with self.lock:  # the record and its lists, read at one moment
            return super().snapshot(operation_id)

    async def asnapshot(self, operation_id: str) -> Snapshot | None:
        return self.snapshot(operation_id)  # no I/O: no thread needed

    def stage_chunks(self, operation_id: str, chunks: dict[int, bytes]) -> None:
        with self.lock:
            self.payloads.setdefault(operation_id, {}).update(chunks)

    def claim_keys(
        self, operation_id: str, claims: list[tuple[int, list[bytes]]]
    ) -> list[tuple[int, int, int]]:
        refused = []
        with self.lock:
            kept = self.claims.setdefault(operation_id, {})
            for index, keys in claims:
                for position, key in enumerate(keys):
                    first = kept.setdefault(key, index)
                    if first != index:
                        refused.append((index, position, first))
                        break
        return refused

    def end_staging(self, operation_id: str, *, keep_payload: bool) -> None:
        with self.lock:
            self.claims.pop(operation_id, None)
            if not keep_payload:
                self.payloads.pop(operation_id, None)

    def load_chunk(self, operation_id: str, index: int) -> Any:
        with self.lock:
            blob = self.payloads.get(operation_id, {}).get(index)
        return None if blob is None else exactjson.loads(blob)

    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        with self.lock:
            record = self.records.get(operation_id)
            reported = self.reported.setdefault(operation_id, set())
            if record is None or index in reported:
                return False
            reported.add(index)
            self.payloads.get(operation_id, {}).pop(index, None)
            for name, values in report.lists().items():
                self._list(operation_id, name).extend(index, values)
            record, published = after_chunk(record, report, now())
            self._save(record, published)
            return True

    def move(self, operation_id: str, move: Move, changes: dict[str, Any]) -> bool:
        with self.lock:
            record = self.records.get(operation_id)
            record = None if record is None else moved(record, move, changes, now())
            if record is None:
                return False
            self._save(record, published=True)
            return True

    def restore(
        self, record: OperationRecord, lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        operation_id = record.operation_id
        with self.lock:
            if operation_id in self.records:
                return False
            for name, values in lists.items():
                restored = self.lists[(operation_id, name)] = SegmentedList(name)
                restored.extend(0, values)
            self.reported[operation_id] = set(reported)
            self.records[operation_id] = record = replace(record, seq=restored_seq())
            self._publish(record)
            return True

    def _save(self, record: OperationRecord, published: bool) -> None:
        """Keep ``record``; when ``published``, bump its ``seq`` and hand it to the listeners."""
        if not published:
            self.records[record.operation_id] = record
            return
        self.records[record.operation_id] = record = replace(record, seq=record.seq + 1)
        self._publish(record)

    def _publish(self, record: OperationRecord) -> None:
        for listener in list(self.listeners):
            listener(record)

    def _list(self, operation_id: str, name: str) -> SegmentedList:
        kept = self.lists.get((operation_id, name))
        if kept is None:
            kept = self.lists[(operation_id, name)] = SegmentedList(name)
        return kept

    def page(
        self, operation_id: str, name: str, start: Position = FIRST, limit: int = STATUS_LIST_LIMIT
    ) -> Page:
        with self.lock:
            kept = self.lists.get((operation_id, name))
            return Page([]) if kept is None else kept.page(start, limit)

    def read_page(
        self, operation_id: str, name: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        with self.lock:  # the record and its page, read at one moment
            return super().read_page(operation_id, name, start, limit)

    async def aread_page(
        self, operation_id: str, name: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        return self.read_page(operation_id, name, start, limit)  # no I/O: no thread needed

    def claim_key(self, key: str, value: dict[str, str], ttl: int) -> dict[str, str] | None:
        with self.lock:
            expires, held = self.keys.get(key, (0.0, {}))
            if expires > time.monotonic():
                return held
            self.keys[key] = (time.monotonic() + ttl, value)
            return None

    def set_key(self, key: str, value: dict[str, str], ttl: int) -> None:
        with self.lock:
            self.keys[key] = (time.monotonic() + ttl, value)

    def release_key(self, key: str) -> None:
        with self.lock:
            self.keys.pop(key, None)
