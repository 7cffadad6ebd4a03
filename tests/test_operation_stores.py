"""The Redis store and the local store, driven through the same calls, answer and publish the same.

The state machine is written once in Python (``operations/store.py``); the local store runs it, the
Redis store's Lua scripts receive it as arguments. Each scenario here runs against both (real
Redis, no worker, no database) and compares every answer, the rendered status and the published
events: their types, ``seq`` order and counts. The lists (``operations/lists.py``) are compared
page by page: chunks counted out of order, errors found before the chunks merged by index, pages
that span segments, the first 1,000 in a status body.
"""

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest
from django_redis import get_redis_connection

from django_bulk_drf.operations import (
    FIRST,
    STATUS_LIST_LIMIT,
    ChunkReport,
    LocalOperationStore,
    OperationRecord,
    OperationStore,
    Page,
    Position,
    RedisOperationStore,
    Status,
    new_operation_id,
)
from django_bulk_drf.operations.redis import channel_name, decode_published, record_key
from django_bulk_drf.writers import WriteResult
from tests.fixtures.records import CHUNK, operation_record

END_OF_TEST = b"end of test"


def new_record(operation_id: str, *, chunks: int, operation: str = "create") -> OperationRecord:
    return operation_record(
        chunks=chunks,
        task_id=operation_id,
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


def run_locally(operation_id: str, scenario: Callable) -> tuple:
    store = LocalOperationStore()
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


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_both_stores_answer_and_publish_the_same(redis_store, scenario):
    store, operation_ids = redis_store
    operation_id = new_operation_id()
    operation_ids.append(operation_id)
    started = time.time_ns() // 1_000_000

    on_redis = run_on_redis(store, operation_id, scenario)
    locally = run_locally(operation_id, scenario)

    answers, status, events = on_redis
    assert [comparable_answer(answer) for answer in answers] == [
        comparable_answer(answer) for answer in locally[0]
    ]
    assert comparable_status(status) == comparable_status(locally[1])
    assert [comparable_event(event) for event in events] == [
        comparable_event(event) for event in locally[2]
    ]
    seqs = [event.seq for event in events]
    assert seqs == sorted(set(seqs))
    assert all(seq >= started for seq in seqs if comparable_seq(seq) == "restored")


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
