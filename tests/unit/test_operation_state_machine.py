"""The state machine of an operation (``operations/states.py``), as plain functions on records."""

from datetime import UTC, datetime

import pytest

from django_bulk_drf.operations import ChunkReport, OperationRecord, Status
from django_bulk_drf.operations.states import (
    CANCEL,
    COMPLETE,
    FAIL,
    LIVE,
    REQUEST_CANCEL,
    START,
    after_chunk,
    moved,
)
from django_bulk_drf.writers import WriteResult
from tests.fixtures.records import operation_record

MOMENT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def record(status: Status = Status.PENDING, **fields) -> OperationRecord:
    return operation_record(chunks=2, status=status, **fields)


def chunk(created: int = 10, errors: int = 0) -> ChunkReport:
    refused = [{"index": i, "errors": {"amount": ["Bad."]}} for i in range(errors)]
    return ChunkReport(created + errors, WriteResult(created_ids=list(range(created))), refused)


def test_each_status_has_its_celery_name_terminality_and_event():
    assert [(s.value, s.celery_state, s.is_terminal, s.event) for s in Status] == [
        ("pending", "PENDING", False, "operation.progress"),
        ("running", "PROGRESS", False, "operation.progress"),
        ("completed", "SUCCESS", True, "operation.completed"),
        ("failed", "FAILURE", True, "operation.failed"),
        ("cancelled", "REVOKED", True, "operation.cancelled"),
    ]
    assert LIVE == {Status.PENDING, Status.RUNNING}


@pytest.mark.parametrize(
    ("move", "allowed"),
    [
        (START, {Status.PENDING}),
        (COMPLETE, {Status.RUNNING}),
        (CANCEL, {Status.RUNNING}),
        (FAIL, {Status.PENDING, Status.RUNNING}),
        (REQUEST_CANCEL, {Status.PENDING, Status.RUNNING}),
    ],
)
def test_a_move_applies_only_from_its_statuses(move, allowed):
    for status in Status:
        after = moved(record(status), move, {}, MOMENT)
        assert (after is not None) == (status in allowed), status


def test_start_stamps_started_at_and_fail_stamps_finished_at_with_the_changes():
    started = moved(record(), START, {}, MOMENT)
    failed = moved(started, FAIL, {"message": "The broker went away."}, MOMENT)

    assert (started.status, started.started_at, started.finished_at) == (
        Status.RUNNING,
        MOMENT,
        None,
    )
    assert (failed.status, failed.finished_at, failed.message) == (
        Status.FAILED,
        MOMENT,
        "The broker went away.",
    )


def test_a_cancel_request_keeps_the_status_and_sets_the_flag():
    asked = moved(record(Status.RUNNING), REQUEST_CANCEL, {"cancel_requested": True}, MOMENT)
    assert (asked.status, asked.cancel_requested) == (Status.RUNNING, True)


def test_the_first_chunk_starts_a_pending_operation_and_is_published():
    after, published = after_chunk(record(), chunk(8, errors=2), MOMENT)

    assert published
    assert (after.status, after.started_at) == (Status.RUNNING, MOMENT)
    assert (after.processed, after.created_count, after.error_count, after.chunks_done) == (
        10,
        8,
        2,
        1,
    )


def test_the_last_chunk_completes_the_operation():
    after, published = after_chunk(record(Status.RUNNING, chunks_done=1), chunk(), MOMENT)
    assert published
    assert (after.status, after.finished_at) == (Status.COMPLETED, MOMENT)


def test_the_last_chunk_after_a_cancel_request_cancels_it():
    asked = record(Status.RUNNING, chunks_done=1, cancel_requested=True)
    after, published = after_chunk(asked, ChunkReport(processed=0), MOMENT)
    assert published
    assert after.status is Status.CANCELLED


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.CANCELLED])
def test_a_chunk_after_the_end_is_counted_but_not_published(status):
    ended = record(status, chunks_done=2, finished_at=MOMENT)
    after, published = after_chunk(ended, chunk(), MOMENT)
    assert not published
    assert (after.status, after.created_count, after.chunks_done) == (status, 10, 3)
