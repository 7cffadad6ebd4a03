"""The status body of an operation, from its record alone (``render_status``) and from a
snapshot of its record and lists (``Snapshot.render``)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from django_bulk_drf.operations import (
    ID_LISTS,
    STATUS_LIST_LIMIT,
    Page,
    Position,
    Snapshot,
    Status,
    render_status,
)
from tests.fixtures.operations import STATUS_KEYS
from tests.fixtures.records import operation_record

STARTED = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
NEXT = Position(0, STATUS_LIST_LIMIT)


def test_a_pending_operation_has_every_key_and_nothing_done():
    record = operation_record(chunks=3)

    body = render_status(record)

    assert set(body) == STATUS_KEYS | {"seq"}
    assert body["task_id"] == record.task_id
    assert (body["operation"], body["status"], body["state"]) == ("create", "pending", "PENDING")
    assert body["progress"] == {"processed": 0, "total": 30, "percent": 0.0}
    assert (body["created_count"], body["updated_count"], body["deleted_count"]) == (0, 0, 0)
    assert (body["error_count"], body["errors"], body["result"]) == (0, [], None)
    assert body["results_url"] == f"/api/operations/{record.task_id}/results/"
    assert (body["started_at"], body["finished_at"], body["is_async"]) == (None, None, True)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (Status.RUNNING, "PROGRESS"),
        (Status.COMPLETED, "SUCCESS"),
        (Status.FAILED, "FAILURE"),
        (Status.CANCELLED, "REVOKED"),
    ],
)
def test_each_status_has_its_celery_state(status, state):
    body = render_status(operation_record(status=status))

    assert (body["status"], body["state"]) == (status.value, state)
    assert Status.of(status.value) is status


@pytest.mark.parametrize(
    ("processed", "total", "percent"), [(1, 3, 33.3), (2, 3, 66.7), (3, 3, 100.0), (0, 0, 100.0)]
)
def test_progress_is_a_percentage_to_one_decimal(processed, total, percent):
    record = operation_record(processed=processed, total=total)

    assert render_status(record)["progress"] == {
        "processed": processed,
        "total": total,
        "percent": percent,
    }


def test_a_running_operation_writes_its_times_in_utc_and_its_counters():
    record = operation_record(
        status=Status.RUNNING,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=2),
        processed=20,
        created_count=15,
        error_count=5,
        seq=4,
    )

    body = render_status(record, errors=[{"index": 3, "errors": {"amount": ["Bad."]}}])

    assert body["started_at"] == "2026-01-02T03:04:05.600000Z"
    assert body["finished_at"] == "2026-01-02T03:04:07.600000Z"
    assert (body["created_count"], body["error_count"], body["seq"]) == (15, 5, 4)
    assert body["errors"] == [{"index": 3, "errors": {"amount": ["Bad."]}}]


def test_optional_keys_appear_only_when_they_say_something():
    plain = render_status(operation_record(error_count=STATUS_LIST_LIMIT))
    record = operation_record(
        error_count=STATUS_LIST_LIMIT + 1,
        message="The operation record was lost.",
        operation="upsert",
        unique_fields=("contract_number", "year"),
    )

    body = render_status(record)

    assert not {"errors_truncated", "message", "unique_fields", "metrics"} & set(plain)
    assert body["errors_truncated"] is True
    assert body["message"] == "The operation record was lost."
    assert body["unique_fields"] == ["contract_number", "year"]


def test_metrics_are_added_when_enabled(settings):
    settings.BULK_DRF_ENABLE_METRICS = True
    pending = operation_record()
    done = replace(
        pending,
        status=Status.COMPLETED,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=4),
        processed=30,
        work_ms=2500,
    )

    assert render_status(pending)["metrics"] == {
        "elapsed_seconds": 0.0,
        "worker_seconds": 0.0,
        "rows_per_second": None,
    }
    assert render_status(done)["metrics"] == {
        "elapsed_seconds": 4.0,
        "worker_seconds": 2.5,
        "rows_per_second": 7.5,
    }


def snapshot(status: Status, **lists: Page) -> Snapshot:
    record = operation_record(status=status, created_count=3, processed=3)
    return Snapshot(record, Page([]), {name: Page([]) for name in ID_LISTS} | lists)


def test_a_snapshot_of_an_operation_that_has_not_ended_has_no_result():
    body = snapshot(Status.RUNNING, created_ids=Page([1, 2, 3])).render()

    assert body["result"] is None


def test_the_result_of_an_ended_operation_holds_the_first_page_of_each_list():
    body = snapshot(
        Status.COMPLETED, created_ids=Page([1, 2, 3]), updated_ids=Page([]), results=Page([])
    ).render()

    assert body["result"] == {
        "created_ids": [1, 2, 3],
        "updated_ids": [],
        "deleted_ids": [],
        "unchanged_ids": [],
        "results": [],
    }


def test_a_list_longer_than_its_page_is_marked_truncated():
    ids = Page(list(range(STATUS_LIST_LIMIT)), next=NEXT)
    rows = Page([{"id": 1}], next=NEXT)

    body = snapshot(Status.COMPLETED, deleted_ids=ids, results=rows).render()

    assert body["result"]["ids_truncated"] is True
    assert body["result"]["results_truncated"] is True
    assert body["result"]["deleted_ids"] == list(range(STATUS_LIST_LIMIT))
