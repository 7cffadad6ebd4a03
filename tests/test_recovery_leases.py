"""The holdings the workers keep in Redis, and what a sweep makes of them (real Redis, no worker).

The end-to-end cases (a worker killed with SIGKILL, a slow chunk under a live worker) are in
``test_faults_worker_crash.py``; here each rule of ``operations/leases.py`` is checked on its own.
"""

import pytest
from django_redis import get_redis_connection

from django_bulk_drf.operations import ChunkReport, RedisOperationStore, new_operation_id
from django_bulk_drf.operations.leases import MISSING, PLANNING, QUEUED, Orphan, Sweep, holder
from django_bulk_drf.recovery import orphan_runs
from tests.fixtures.records import operation_record

ALIVE, DEAD = "alive@host", "dead@host"


@pytest.fixture
def store():
    client = get_redis_connection("default")
    yield RedisOperationStore(client)
    # Only what these tests wrote: the broker of the session's worker shares this database.
    for key in client.scan_iter("bulkdrf:*"):
        client.delete(key)


@pytest.fixture
def operation(store):
    operation_id = new_operation_id()
    store.create(operation_record(chunks=3, operation_id=operation_id), [b"[]", b"[]", b"[]"])
    store.leases.beat(ALIVE, 30)
    return operation_id


def live(operation_id: str) -> bool:
    return True


def look(store, operation: str) -> Sweep:
    """What a sweep finds of ``operation``: holdings another test run left in this Redis (of
    workers long gone) are not this test's."""
    sweep = store.leases.look(live)
    return Sweep(
        [orphan for orphan in sweep.orphans if orphan.operation_id == operation],
        {key: indexes for key, indexes in sweep.queued.items() if key == operation},
    )


def held(store, operation_id: str) -> dict[int, str]:
    raw = store.client.hgetall(f"bulkdrf:op:{operation_id}:held")
    return {int(index): value.decode() for index, value in raw.items()}


def test_dispatched_tasks_are_queued_and_no_orphans(store, operation):
    store.leases.dispatch(operation, [PLANNING, 0, 1, 2])

    sweep = look(store, operation)

    assert held(store, operation) == {PLANNING: QUEUED, 0: QUEUED, 1: QUEUED, 2: QUEUED}
    assert sweep.orphans == []
    assert sorted(sweep.queued[operation]) == [PLANNING, 0, 1, 2]


def test_a_received_task_is_not_queued_again_by_a_second_dispatch(store, operation):
    store.leases.dispatch(operation, [0])
    store.leases.hold(operation, 0, holder(ALIVE, "t0", 0))

    store.leases.dispatch(operation, [0])

    assert held(store, operation) == {0: holder(ALIVE, "t0", 0)}


def test_the_tasks_of_a_worker_without_heartbeat_are_orphans_and_taken_over_once(store, operation):
    store.leases.hold(operation, 0, holder(ALIVE, "t0", 0))
    store.leases.hold(operation, 1, holder(DEAD, "t1", 2))

    orphans = look(store, operation).orphans

    assert orphans == [Orphan(operation, 1, holder(DEAD, "t1", 2))]
    assert store.leases.take_over(orphans[0]) is True
    assert store.leases.take_over(orphans[0]) is False  # another sweeper came first
    assert held(store, operation)[1] == QUEUED


def test_a_counted_chunk_is_released_not_requeued(store, operation):
    store.leases.hold(operation, 1, holder(DEAD, "t1", 0))
    store.report_chunk(operation, 1, ChunkReport(processed=0))

    (orphan,) = look(store, operation).orphans

    assert store.leases.take_over(orphan) is False
    assert 1 not in held(store, operation)


def test_queued_tasks_left_when_the_queue_is_empty_go_missing_then_are_orphans(store, operation):
    store.leases.dispatch(operation, [0, 1])
    store.leases.hold(operation, 0, holder(ALIVE, "t0", 0))

    assert store.leases.suspect(look(store, operation).queued) == 1
    (orphan,) = look(store, operation).orphans

    assert orphan == Orphan(operation, 1, MISSING)
    assert store.leases.take_over(orphan) is True
    assert held(store, operation) == {0: holder(ALIVE, "t0", 0), 1: QUEUED}


def test_a_task_received_after_the_suspicion_is_not_missing(store, operation):
    store.leases.dispatch(operation, [0])
    queued = look(store, operation).queued
    store.leases.hold(operation, 0, holder(ALIVE, "t0", 0))

    assert store.leases.suspect(queued) == 0
    assert look(store, operation).orphans == []


def test_release_frees_only_its_own_attempt(store, operation):
    store.leases.hold(operation, 0, holder(ALIVE, "t0", 1))

    store.leases.release(operation, 0, holder(ALIVE, "t0", 0))  # the attempt before the retry
    assert held(store, operation) == {0: holder(ALIVE, "t0", 1)}
    store.leases.release(operation, 0, holder(ALIVE, "t0", 1))
    assert held(store, operation) == {}


def test_the_holdings_of_an_ended_operation_are_dropped(store, operation):
    store.leases.hold(operation, 0, holder(DEAD, "t0", 0))

    assert store.leases.look(lambda operation_id: False).orphans == []
    assert held(store, operation) == {}
    assert operation.encode() not in store.client.smembers("bulkdrf:held")


def test_deferred_failures_are_kept_until_forgotten(store, operation):
    store.leases.defer_failure(operation, "OperationalError: the database is gone.")

    assert store.leases.deferred_failures() == {
        operation: "OperationalError: the database is gone."
    }
    store.leases.forget_failure(operation)
    assert store.leases.deferred_failures() == {}


def test_a_run_is_held_chunk_by_chunk_and_its_uncounted_chunks_are_requeued_as_one_run(
    store, operation
):
    store.leases.hold(operation, 0, holder(DEAD, "t0", 0), count=3)
    store.report_chunk(operation, 0, ChunkReport(processed=0))  # committed before the death

    taken = [orphan for orphan in look(store, operation).orphans if store.leases.take_over(orphan)]

    assert orphan_runs(taken) == [(Orphan(operation, 1, holder(DEAD, "t0", 0)), 2)]
    assert held(store, operation) == {1: QUEUED, 2: QUEUED}


def test_release_frees_every_chunk_of_its_run(store, operation):
    store.leases.hold(operation, 0, holder(ALIVE, "t0", 0), count=3)

    store.leases.release(operation, 0, holder(ALIVE, "t0", 0), count=3)

    assert held(store, operation) == {}
