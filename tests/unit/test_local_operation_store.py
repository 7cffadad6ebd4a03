"""The in-process operation store (embedded mode), its progress hub, and the record's encodings."""

import asyncio
import threading
from dataclasses import replace

import orjson
import pytest

from django_bulk_drf.operations import (
    FIRST,
    STATUS_LIST_LIMIT,
    ChunkReport,
    LocalOperationStore,
    OperationRecord,
    Position,
    Status,
    decode_cursor,
    encode_cursor,
    new_operation_id,
)
from django_bulk_drf.operations.local_events import LocalOperationEvents
from django_bulk_drf.operations.redis import decode_published, decode_record, encode_record
from django_bulk_drf.writers import WriteResult
from tests.fixtures.records import CHUNK, operation_record


def staged(store: LocalOperationStore, *, chunks: int = 2, operation: str = "create") -> str:
    record = operation_record(
        chunks=chunks,
        operation=operation,
        owner_id="3",
        action="background_bulk_partial_update",
        method="PATCH",
        query_string="unique_fields=contract_number,year",
        unique_fields=("contract_number", "year"),
        partial=True,
    )
    store.create(record, [orjson.dumps([{"n": i}] * 10) for i in range(chunks)])
    return record.operation_id


def created(first: int, count: int = 10) -> ChunkReport:
    return ChunkReport(count, WriteResult(created_ids=list(range(first, first + count))))


@pytest.fixture
def store():
    return LocalOperationStore()


def test_each_published_record_reaches_the_listeners_in_seq_order(store):
    operation_id = staged(store)
    published: list[OperationRecord] = []
    store.listeners.append(published.append)

    store.start(operation_id)
    store.report_chunk(operation_id, 0, created(0))
    store.report_chunk(operation_id, 1, created(10))

    assert [(r.seq, r.status, r.processed) for r in published] == [
        (1, Status.RUNNING, 0),
        (2, Status.RUNNING, 10),
        (3, Status.COMPLETED, 20),
    ]
    assert store.status(operation_id)["result"]["created_ids"] == list(range(20))


def test_a_chunk_is_counted_once_and_its_payload_dropped(store):
    operation_id = staged(store)
    assert store.load_chunk(operation_id, 0) == [{"n": 0}] * 10

    assert store.report_chunk(operation_id, 0, created(0))
    assert not store.report_chunk(operation_id, 0, created(0))

    assert store.load_chunk(operation_id, 0) is None
    assert store.record(operation_id).created_count == 10
    assert not store.report_chunk(new_operation_id(), 0, created(0))  # unknown operation


def test_concurrent_reports_add_up_and_end_once(store):
    operation_id = staged(store, chunks=40)
    ends: list[OperationRecord] = []
    store.listeners.append(lambda record: record.status.is_terminal and ends.append(record))
    threads = [
        threading.Thread(target=store.report_chunk, args=(operation_id, i, created(i * 10)))
        for i in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    record = store.record(operation_id)
    assert (record.status, record.processed, record.seq) == (Status.COMPLETED, 400, 40)
    assert len(ends) == 1


def test_every_error_is_kept_and_the_status_lists_the_first_by_index(store):
    operation_id = staged(store, chunks=3)
    later = [{"index": CHUNK + i, "errors": {"id": ["Duplicate."]}} for i in range(1_500)]
    # Reported out of order, listed in payload order (one segment per chunk).
    store.report_chunk(operation_id, 2, ChunkReport(CHUNK, errors=[{"index": 2 * CHUNK}]))
    store.report_chunk(operation_id, 1, ChunkReport(CHUNK, errors=later))
    store.report_chunk(operation_id, 0, ChunkReport(CHUNK, errors=[{"index": 4, "errors": {}}]))

    status = store.status(operation_id)
    assert status["error_count"] == 1_502
    assert status["errors_truncated"] is True
    assert len(status["errors"]) == STATUS_LIST_LIMIT
    assert [error["index"] for error in status["errors"][:2]] == [4, CHUNK]
    every = store.page(operation_id, "errors", limit=10_000).values
    assert [error["index"] for error in every] == [4, *range(CHUNK, CHUNK + 1_500), 2 * CHUNK]


def test_the_result_lists_come_with_the_end_and_rows_only_for_a_get(store):
    reads = staged(store, chunks=1, operation="get")
    writes = staged(store, chunks=1)
    assert store.status(reads)["result"] is None

    store.report_chunk(reads, 0, ChunkReport(1, results=[{"id": 1}]))
    store.report_chunk(writes, 0, created(0))

    assert store.status(reads)["result"] == {
        "created_ids": [],
        "updated_ids": [],
        "deleted_ids": [],
        "unchanged_ids": [],
        "results": [{"id": 1}],
    }
    assert "results" not in store.status(writes)["result"]


def test_a_restored_record_is_published_with_a_seq_above_the_lost_one(store):
    operation_id = staged(store)
    lost = store.record(operation_id)
    fresh = LocalOperationStore()
    published: list[OperationRecord] = []
    fresh.listeners.append(published.append)
    rebuilt = replace(lost, status=Status.FAILED, chunks_done=1, created_count=10, seq=5)

    assert fresh.restore(rebuilt, {"created_ids": list(range(10))}, [0])
    assert not fresh.restore(rebuilt, {}, [])

    [event] = published
    assert event.status is Status.FAILED and event.seq > 1_000_000_000_000
    assert not fresh.report_chunk(operation_id, 0, created(0))  # counted before the loss
    assert fresh.status(operation_id)["result"]["created_ids"] == list(range(10))


def test_an_idempotency_key_is_held_until_released(store):
    assert store.claim_key("u:k", {"fingerprint": "a", "operation_id": ""}, 60) is None
    store.set_key("u:k", {"fingerprint": "a", "operation_id": "op"}, 60)
    assert store.claim_key("u:k", {"fingerprint": "b", "operation_id": ""}, 60) == {
        "fingerprint": "a",
        "operation_id": "op",
    }
    store.release_key("u:k")
    assert store.claim_key("u:k", {"fingerprint": "b", "operation_id": ""}, 60) is None


def test_the_record_survives_the_ledger_copy_and_the_redis_hash(store):
    record = store.record(staged(store))
    record = replace(
        record, status=Status.RUNNING, cancel_requested=True, started_at=record.created_at
    )

    assert OperationRecord.from_dict(orjson.loads(orjson.dumps(record.to_dict()))) == record
    as_hash = encode_record(record)
    assert all(isinstance(value, str) for value in as_hash.values())
    assert (as_hash["cancel_requested"], as_hash["finished_at"]) == ("1", "")
    assert decode_record({k.encode(): v.encode() for k, v in as_hash.items()}) == record
    published = orjson.dumps({**as_hash, "type": "operation.progress"})
    assert decode_published(published) == record


def test_a_chunk_report_is_its_write_result_plus_errors_in_the_ledger():
    report = ChunkReport(3, WriteResult(created_ids=[1], updated_ids=[2]), [{"index": 2}])

    assert report.to_dict() == {
        "processed": 3,
        "created_ids": [1],
        "updated_ids": [2],
        "deleted_ids": [],
        "unchanged_ids": [],
        "errors": [{"index": 2}],
    }
    assert ChunkReport.from_dict(report.to_dict()) == report


async def test_the_in_process_hub_hands_records_from_the_worker_thread_to_the_loop(store):
    operation_id = staged(store)
    hub = LocalOperationEvents(store)
    subscription = await hub.subscribe(operation_id)

    await asyncio.to_thread(store.report_chunk, operation_id, 0, created(0))
    state = await subscription.next(timeout=5)
    await hub.unsubscribe(subscription)

    assert (state.operation_id, state.seq, state.processed) == (operation_id, 1, 10)
    assert store.listeners == []


def test_a_cursor_gives_back_its_position_and_refuses_anything_else():
    for position in (FIRST, Position(0, 7), Position(12_345, 999)):
        assert decode_cursor(encode_cursor(position)) == position
    for text in ("", "MC4", "not a cursor", "LTEuMA==", "w6kuMQ==", "MQ=="):
        with pytest.raises(ValueError):
            decode_cursor(text)


def test_pages_of_a_list_reported_out_of_order_come_in_payload_order(store):
    operation_id = staged(store, chunks=3)
    for index in (2, 0, 1):
        store.report_chunk(operation_id, index, created(index * 10))

    first = store.page(operation_id, "created_ids", FIRST, 15)
    second = store.page(operation_id, "created_ids", first.next, 15)

    assert (first.values, first.next) == (list(range(15)), Position(1, 5))
    assert (second.values, second.next) == (list(range(15, 30)), None)
