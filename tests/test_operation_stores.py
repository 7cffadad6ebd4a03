"""Every store, driven through the same calls, answers and publishes the same.

The state machine is written once in Python (``operations/states.py``); the local store runs it, the
Redis store's Lua scripts receive it as arguments. A third store, ``DictStore``, is written in this
file with the package's public pieces only, as a user would add one: a store is one module
implementing the protocols of ``operations/protocols.py``. Each scenario here runs against the three
(real Redis, no worker, no database) and compares every answer, the rendered status and the
published events: their types, ``seq`` order and counts. The lists (``operations/lists.py``) are
compared page by page: chunks counted out of order, errors found before the chunks merged by
index, pages that span segments, the first 1,000 in a status body.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest
from django.test import override_settings
from django_redis import get_redis_connection

from django_bulk_drf import exactjson
from django_bulk_drf.operations import (
    FIRST,
    STATUS_LIST_LIMIT,
    ChunkReport,
    LocalOperationStore,
    OperationRecord,
    OperationStore,
    Page,
    Position,
    ProgressEvents,
    RedisOperationStore,
    Status,
    get_operation_store,
    new_operation_id,
    now,
)
from django_bulk_drf.operations.events import OperationEvents, Subscription
from django_bulk_drf.operations.lists import SegmentedList
from django_bulk_drf.operations.redis import channel_name, decode_published, record_key
from django_bulk_drf.operations.states import Move, after_chunk, moved, restored_seq
from django_bulk_drf.progress import operation_events
from django_bulk_drf.writers import WriteResult
from tests.fixtures.records import CHUNK, operation_record

END_OF_TEST = b"end of test"


class DictStore(OperationStore):
    """A store of dicts for one thread, written with the public pieces only: the state machine
    (``states.py``), the in-memory segmented list (``lists.py``) and exact JSON. No leases: its
    worker cannot be lost without it."""

    progress_events = "tests.test_operation_stores.DictEvents"

    def __init__(self) -> None:
        self.records: dict[str, OperationRecord] = {}
        self.chunks: dict[tuple[str, int], bytes] = {}
        self.lists: dict[tuple[str, str], SegmentedList] = {}
        self.counted: set[tuple[str, int]] = set()
        self.claims: dict[tuple[str, bytes], int] = {}
        self.keys: dict[str, tuple[float, dict[str, str]]] = {}
        self.listeners: list[Callable[[OperationRecord], None]] = []

    # -- OperationRecords

    def create(self, record: OperationRecord, chunks: list[bytes]) -> None:
        self.records[record.operation_id] = record
        self.chunks.update(
            {(record.operation_id, index): blob for index, blob in enumerate(chunks)}
        )

    def record(self, operation_id: str) -> OperationRecord | None:
        return self.records.get(operation_id)

    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        record = self.records.get(operation_id)
        if record is None or (operation_id, index) in self.counted:
            return False
        self.counted.add((operation_id, index))
        self.chunks.pop((operation_id, index), None)
        for name, values in report.lists().items():
            self.lists.setdefault((operation_id, name), SegmentedList(name)).extend(index, values)
        record, published = after_chunk(record, report, now())
        self.save(record, published)
        return True

    def move(self, operation_id: str, move: Move, changes: dict[str, Any]) -> bool:
        record = self.records.get(operation_id)
        after = None if record is None else moved(record, move, changes, now())
        if after is not None:
            self.save(after, published=True)
        return after is not None

    def restore(
        self, record: OperationRecord, lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        operation_id = record.operation_id
        if operation_id in self.records:
            return False
        for name, values in lists.items():
            self.lists[(operation_id, name)] = SegmentedList(name)
            self.lists[(operation_id, name)].extend(0, values)
        self.counted.update((operation_id, index) for index in reported)
        self.records[operation_id] = record = replace(record, seq=restored_seq())
        self.publish(record)
        return True

    def page(
        self, operation_id: str, name: str, start: Position = FIRST, limit: int = STATUS_LIST_LIMIT
    ) -> Page:
        kept = self.lists.get((operation_id, name))
        return Page([]) if kept is None else kept.page(start, limit)

    def save(self, record: OperationRecord, published: bool) -> None:
        """Keep ``record``; when ``published``, bump its ``seq`` and hand it to the listeners."""
        if published:
            record = replace(record, seq=record.seq + 1)
        self.records[record.operation_id] = record
        if published:
            self.publish(record)

    def publish(self, record: OperationRecord) -> None:
        for listener in list(self.listeners):
            listener(record)

    # -- Staging

    def stage_chunks(self, operation_id: str, chunks: dict[int, bytes]) -> None:
        self.chunks.update({(operation_id, index): blob for index, blob in chunks.items()})

    def claim_keys(
        self, operation_id: str, claims: list[tuple[int, list[bytes]]]
    ) -> list[tuple[int, int, int]]:
        refused = []
        for index, keys in claims:
            for position, key in enumerate(keys):
                first = self.claims.setdefault((operation_id, key), index)
                if first != index:
                    refused.append((index, position, first))
                    break
        return refused

    def end_staging(self, operation_id: str, *, keep_payload: bool) -> None:
        self.claims = {key: i for key, i in self.claims.items() if key[0] != operation_id}
        if not keep_payload:
            self.chunks = {key: c for key, c in self.chunks.items() if key[0] != operation_id}

    def load_chunk(self, operation_id: str, index: int) -> Any:
        blob = self.chunks.get((operation_id, index))
        return None if blob is None else exactjson.loads(blob)

    # -- IdempotencyKeys

    def claim_key(self, key: str, value: dict[str, str], ttl: int) -> dict[str, str] | None:
        expires, held = self.keys.get(key, (0.0, {}))
        if expires > time.monotonic():
            return held
        self.set_key(key, value, ttl)
        return None

    def set_key(self, key: str, value: dict[str, str], ttl: int) -> None:
        self.keys[key] = (time.monotonic() + ttl, value)

    def release_key(self, key: str) -> None:
        self.keys.pop(key, None)


class DictEvents(OperationEvents):
    """The progress hub of ``DictStore`` (``ProgressEvents``), named by its ``progress_events``."""

    def __init__(self) -> None:
        super().__init__()
        store = get_operation_store()
        assert isinstance(store, DictStore)
        self.store = store
        self.loop = asyncio.get_running_loop()

    async def subscribe(self, operation_id: str) -> Subscription:
        subscription = Subscription(operation_id)
        if not self.subscribers:
            self.store.listeners.append(self.hear)
        self.add(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        self.discard(subscription)
        if not self.subscribers and self.hear in self.store.listeners:
            self.store.listeners.remove(self.hear)

    def hear(self, state: OperationRecord) -> None:
        self.loop.call_soon_threadsafe(self.fan_out, state.operation_id, state)


def new_record(operation_id: str, *, chunks: int, operation: str = "create") -> OperationRecord:
    return operation_record(
        chunks=chunks,
        operation_id=operation_id,
        operation=operation,
        owner_id="7",
        query_string="unique_fields=contract_number,year",
        unique_fields=("contract_number", "year"),
        partial=True,
    )


def staged_chunks(chunks: int) -> list[bytes]:
    return [
        orjson.dumps([{"n": index * CHUNK + i} for i in range(CHUNK)]) for index in range(chunks)
    ]


def report(index: int, *, errors: int = 0, rows: bool = False) -> ChunkReport:
    """Chunk ``index`` as a worker reports it: ``errors`` refused items, the others created (or,
    for a get, read)."""
    first = index * CHUNK
    written = list(range(first + errors, first + CHUNK))
    refused = [{"index": first + i, "errors": {"amount": ["Bad."]}} for i in range(errors)]
    if rows:
        return ChunkReport(CHUNK, results=[{"id": pk} for pk in written], errors=refused)
    return ChunkReport(CHUNK, WriteResult(created_ids=written), errors=refused)


def completes(store: OperationStore, operation_id: str) -> list[Any]:
    return [
        store.create(new_record(operation_id, chunks=3), staged_chunks(3)),
        store.load_chunk(operation_id, 1),
        store.start(operation_id),
        store.start(operation_id),
        store.report_chunk(operation_id, 0, report(0)),
        store.report_chunk(operation_id, 0, report(0)),  # a redelivered chunk: counted once
        store.load_chunk(operation_id, 0),  # dropped once counted
        store.report_chunk(operation_id, 1, report(1, errors=2)),
        store.status(operation_id),
        store.report_chunk(operation_id, 2, report(2)),
        store.fail(operation_id, "Too late."),
        store.request_cancel(operation_id),
        store.page(operation_id, "errors"),
        store.page(operation_id, "created_ids"),
    ]


def is_cancelled(store: OperationStore, operation_id: str) -> list[Any]:
    return [
        store.create(new_record(operation_id, chunks=3), staged_chunks(3)),
        store.report_chunk(operation_id, 0, report(0)),  # before start(): starts it
        store.request_cancel(operation_id),
        store.request_cancel(operation_id),
        store.report_chunk(operation_id, 1, ChunkReport(processed=0)),
        store.report_chunk(operation_id, 2, ChunkReport(processed=0)),
        store.request_cancel(operation_id),
        store.start(operation_id),
    ]


def fails(store: OperationStore, operation_id: str) -> list[Any]:
    return [
        store.create(new_record(operation_id, chunks=3), staged_chunks(3)),
        store.start(operation_id),
        store.report_chunk(operation_id, 0, report(0, errors=1)),
        store.fail(operation_id, "The database went away."),
        store.fail(operation_id, "Again."),
        # A chunk that committed while the operation failed: counted, its end not published again.
        store.report_chunk(operation_id, 1, report(1)),
        store.page(operation_id, "created_ids"),
    ]


def is_restored(store: OperationStore, operation_id: str) -> list[Any]:
    restored = replace(
        new_record(operation_id, chunks=3),
        status=Status.FAILED,
        message="Rebuilt.",
        processed=20,
        created_count=19,
        error_count=1,
        chunks_done=2,
    )
    lists = {
        "created_ids": list(range(1, 20)),
        "updated_ids": [],
        "deleted_ids": [],
        "errors": [{"index": 0, "errors": {"amount": ["Bad."]}}],
    }
    return [
        store.record(operation_id),
        store.restore(restored, lists, [0, 1]),
        store.restore(restored, lists, [0, 1]),
        store.report_chunk(operation_id, 1, report(1)),  # counted before the loss
        store.report_chunk(operation_id, 2, report(2)),  # late: counted, not published
        store.page(operation_id, "created_ids"),
        store.page(operation_id, "created_ids", Position(0, 15), 6),
        store.page(operation_id, "errors"),
    ]


def reads_rows(store: OperationStore, operation_id: str) -> list[Any]:
    return [
        store.create(new_record(operation_id, chunks=2, operation="get"), staged_chunks(2)),
        store.start(operation_id),
        store.report_chunk(operation_id, 0, report(0, rows=True)),
        store.report_chunk(operation_id, 1, report(1, rows=True)),
    ]


MANY_CHUNKS = 130  # 1,300 items: more than a status body lists


def every_page(store: OperationStore, operation_id: str, name: str, limit: int) -> list[Page]:
    pages = [store.page(operation_id, name, FIRST, limit)]
    while pages[-1].next is not None:
        pages.append(store.page(operation_id, name, pages[-1].next, limit))
    return pages


def pages_in_payload_order(store: OperationStore, operation_id: str) -> list[Any]:
    answers = [
        store.create(new_record(operation_id, chunks=MANY_CHUNKS), staged_chunks(MANY_CHUNKS)),
        store.start(operation_id),
    ]
    # Chunks are counted in an order of their own: odd ones first, then the even ones backwards.
    order = [*range(1, MANY_CHUNKS, 2), *range(MANY_CHUNKS - 2, -1, -2)]
    for index in order:
        answers.append(store.report_chunk(operation_id, index, report(index, errors=index % 3)))
    answers += [
        every_page(store, operation_id, "created_ids", 333),
        every_page(store, operation_id, "errors", 7),
        store.page(operation_id, "created_ids", Position(3, 4), 10),
        store.page(operation_id, "created_ids", Position(3, 99), 3),  # past its segment's end
        store.page(operation_id, "created_ids", Position(MANY_CHUNKS, 0), 3),  # past the end
        store.page(operation_id, "deleted_ids", FIRST, 3),  # an empty list
        store.read_page(operation_id, "created_ids", Position(128, 0), 1000),
        store.read_page(new_operation_id(), "created_ids", FIRST, 10),
    ]
    return answers


def is_staged(store: OperationStore, operation_id: str) -> list[Any]:
    """Chunks staged and keys claimed before the record exists; the keys forgotten after."""
    return [
        store.stage_chunks(operation_id, dict(enumerate(staged_chunks(2)))),
        store.claim_keys(operation_id, [(0, [b"a", b"b"]), (1, [b"c"]), (2, [b"c", b"d"])]),
        # Item 3 holds "e" and finds "a" kept by item 0; "d" was never claimed (item 2 stopped).
        store.claim_keys(operation_id, [(3, [b"e", b"a"]), (4, [b"d"]), (5, [b"e"])]),
        store.claim_keys(operation_id, []),
        store.end_staging(operation_id, keep_payload=True),
        store.claim_keys(operation_id, [(6, [b"a"])]),  # forgotten: kept anew
        store.create(new_record(operation_id, chunks=2), []),
        store.load_chunk(operation_id, 1),
        store.record(operation_id),
    ]


def is_abandoned(store: OperationStore, operation_id: str) -> list[Any]:
    return [
        store.stage_chunks(operation_id, dict(enumerate(staged_chunks(2)))),
        store.claim_keys(operation_id, [(0, [b"a"]), (1, [b"a"])]),
        store.end_staging(operation_id, keep_payload=False),
        store.load_chunk(operation_id, 0),
        store.claim_keys(operation_id, [(2, [b"a"])]),
        store.end_staging(operation_id, keep_payload=False),
        store.record(operation_id),
    ]


def idempotency_keys(store: OperationStore, operation_id: str) -> list[Any]:
    key = f"anonymous:{operation_id}"
    accepting = {"fingerprint": "f1", "operation_id": ""}
    accepted = {"fingerprint": "f1", "operation_id": operation_id}
    return [
        store.claim_key(key, accepting, 60),
        store.claim_key(key, {"fingerprint": "f2", "operation_id": ""}, 60),
        store.set_key(key, accepted, 60),
        store.claim_key(key, accepting, 60),
        store.release_key(key),
        store.claim_key(key, accepted, 60),
        store.release_key(key),
    ]


SCENARIOS = [
    completes,
    is_cancelled,
    fails,
    is_restored,
    reads_rows,
    pages_in_payload_order,
    is_staged,
    is_abandoned,
    idempotency_keys,
]


@pytest.fixture
def redis_store():
    store = RedisOperationStore.for_process()
    assert isinstance(store, RedisOperationStore)
    operation_ids: list[str] = []
    yield store, operation_ids
    redis = get_redis_connection("default")
    for operation_id in operation_ids:
        keys = redis.keys(f"{record_key(operation_id)}*")
        if keys:
            redis.delete(*keys)


def run_on_redis(store: RedisOperationStore, operation_id: str, scenario: Callable) -> tuple:
    """The scenario's answers, the status at the end, and the events published meanwhile."""
    redis = get_redis_connection("default")
    pubsub = redis.pubsub()
    pubsub.subscribe(channel_name(operation_id))
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    answers = scenario(store, operation_id)
    # Redis delivers one channel's messages in order: everything published comes before this.
    redis.publish(channel_name(operation_id), END_OF_TEST)
    events = []
    while (message := pubsub.get_message(timeout=5))["data"] != END_OF_TEST:
        wire_type = orjson.loads(message["data"])["type"]
        record = decode_published(message["data"])
        assert wire_type == record.status.event
        events.append(record)
    pubsub.close()
    return answers, store.status(operation_id), events


def run_locally(
    operation_id: str, scenario: Callable, store_class: type = LocalOperationStore
) -> tuple:
    """The scenario on a store of this process (``store_class``), heard by a listener."""
    store = store_class()
    events: list[OperationRecord] = []
    store.listeners.append(events.append)
    answers = scenario(store, operation_id)
    return answers, store.status(operation_id), events


def comparable_status(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """A status without what differs between two runs: the clock."""
    if status is None:
        return None
    clock = {"created_at", "started_at", "finished_at"}
    comparable = {key: value for key, value in status.items() if key not in clock}
    comparable["stamped"] = sorted(key for key in clock if status[key])
    comparable["seq"] = comparable_seq(status["seq"])
    return comparable


def comparable_seq(seq: int) -> int | str:
    """A restored record's ``seq`` is the clock in milliseconds: only its being so is compared."""
    return "restored" if seq > 1_000_000_000_000 else seq


def comparable_answer(answer: Any) -> Any:
    if isinstance(answer, OperationRecord):
        return comparable_event(answer)
    if isinstance(answer, dict) and "task_id" in answer:
        return comparable_status(answer)
    if isinstance(answer, tuple) and isinstance(answer[0], OperationRecord):  # read_page
        return comparable_event(answer[0]), answer[1]
    return answer


def comparable_event(record: OperationRecord) -> tuple:
    return (
        record.status.event,
        comparable_seq(record.seq),
        record.status,
        record.processed,
        record.created_count,
        record.error_count,
        record.chunks_done,
        record.cancel_requested,
        record.message,
    )


@pytest.mark.parametrize("store_class", [LocalOperationStore, DictStore])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_every_store_answers_and_publishes_as_the_redis_store(redis_store, scenario, store_class):
    store, operation_ids = redis_store
    operation_id = new_operation_id()
    operation_ids.append(operation_id)
    started = time.time_ns() // 1_000_000

    on_redis = run_on_redis(store, operation_id, scenario)
    locally = run_locally(operation_id, scenario, store_class)

    for _, _, events in (on_redis, locally):
        seqs = [event.seq for event in events]
        assert seqs == sorted(set(seqs))
        assert all(seq >= started for seq in seqs if comparable_seq(seq) == "restored")
    answers, status, events = on_redis
    assert [comparable_answer(answer) for answer in answers] == [
        comparable_answer(answer) for answer in locally[0]
    ]
    assert comparable_status(status) == comparable_status(locally[1])
    assert [comparable_event(event) for event in events] == [
        comparable_event(event) for event in locally[2]
    ]


@override_settings(
    BULK_DRF_OPERATION_STORE="tests.test_operation_stores.DictStore", BULK_DRF_PROGRESS_EVENTS=None
)
async def test_a_store_set_in_settings_brings_its_hub_and_its_clients_hear_it():
    store = get_operation_store()
    hub = operation_events()
    assert type(store) is DictStore and store.leases is None
    assert type(hub) is DictEvents and isinstance(hub, ProgressEvents)
    operation_id = new_operation_id()
    store.create(new_record(operation_id, chunks=1), staged_chunks(1))

    subscription = await hub.subscribe(operation_id)
    store.start(operation_id)
    running = await subscription.next(timeout=5)
    store.report_chunk(operation_id, 0, report(0))
    completed = await subscription.next(timeout=5)
    await hub.unsubscribe(subscription)

    assert running is not None and running.status is Status.RUNNING
    assert completed is not None and completed.status is Status.COMPLETED
    assert completed.seq == running.seq + 1 and completed.created_count == CHUNK
    assert store.listeners == []  # the last client out releases the store


def test_pages_read_every_value_once_in_payload_order_and_the_status_lists_the_first():
    operation_id = new_operation_id()
    answers, status, _ = run_locally(operation_id, pages_in_payload_order)
    created_pages, error_pages, from_cursor, past_segment, past_end, empty, read, unknown = answers[
        -8:
    ]

    created = [value for page in created_pages for value in page.values]
    expected_errors = sorted([i * CHUNK + e for i in range(MANY_CHUNKS) for e in range(i % 3)])
    assert created == [
        first + i
        for first in range(0, MANY_CHUNKS * CHUNK, CHUNK)
        for i in range(CHUNK)
        if i >= (first // CHUNK) % 3
    ]
    assert [len(page.values) for page in created_pages[:-1]] == [333] * (len(created_pages) - 1)
    assert [error["index"] for page in error_pages for error in page.values] == expected_errors
    assert from_cursor.values == [34, 35, 36, 37, 38, 39, 41, 42, 43, 44]
    assert from_cursor.next == Position(4, 4)
    assert past_segment.values == [41, 42, 43] and past_end == empty == Page([])
    assert read[1].values == list(range(1282, 1300)) and read[1].next is None
    assert unknown is None
    assert status["result"]["created_ids"] == created[:STATUS_LIST_LIMIT]
    assert status["result"]["ids_truncated"] is True
    assert [error["index"] for error in status["errors"]] == expected_errors
    assert "errors_truncated" not in status and status["results_url"].endswith(
        f"/api/operations/{operation_id}/results/"
    )


def test_the_scenarios_cover_every_end_and_the_late_chunk():
    """What the parity test compares is worth comparing: each end is reached, published once."""
    ends = {}
    for scenario in (completes, is_cancelled, fails, is_restored):
        _, status, events = run_locally(new_operation_id(), scenario)
        ends[scenario.__name__] = (status["status"], [event.status.event for event in events])

    assert ends == {
        "completes": (
            "completed",
            ["operation.progress"] * 3 + ["operation.completed"],
        ),
        "is_cancelled": (
            "cancelled",
            ["operation.progress"] * 4 + ["operation.cancelled"],
        ),
        "fails": ("failed", ["operation.progress"] * 2 + ["operation.failed"]),
        "is_restored": ("failed", ["operation.failed"]),
    }
