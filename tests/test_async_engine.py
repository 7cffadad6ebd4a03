"""The background engine as plain functions: chunk ledger, atomic counters, sequential mode."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings

from asgi_demo.contracts.models import Contract
from django_bulk_drf import background, capture, ledger, tasks
from django_bulk_drf.chunks import StagedChunk
from django_bulk_drf.models import ChunkLedger
from django_bulk_drf.operations import ChunkReport, get_operation_store
from django_bulk_drf.writers import WriteResult
from tests.conftest import contract_item
from tests.fixtures.operations import staged_operation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("end_staged")]


def test_a_chunk_applied_twice_writes_once_and_reports_the_same():
    operation_id = staged_operation([contract_item(f"L{i}") for i in range(10)])
    record = get_operation_store().record(operation_id)
    viewset = capture.rebuild_viewset(record)
    chunk = StagedChunk.decode(get_operation_store().load_chunk(operation_id, 0))

    first = background.apply_chunk(viewset, record, 0, chunk)
    second = background.apply_chunk(viewset, record, 0, chunk)

    assert Contract.objects.count() == 10
    assert second.to_dict() == first.to_dict()
    assert ChunkLedger.objects.filter(operation_id=operation_id).count() == 1


def test_reporting_a_chunk_twice_counts_it_once():
    operation_id = staged_operation([contract_item(f"R{i}") for i in range(20)])
    store = get_operation_store()

    report = ChunkReport(10, WriteResult(created_ids=list(range(10))))
    assert store.report_chunk(operation_id, 0, report)
    assert not store.report_chunk(operation_id, 0, report)

    status = store.status(operation_id)
    assert (status["progress"]["processed"], status["created_count"]) == (10, 10)
    assert status["status"] == "running"


def test_concurrent_chunk_reports_add_up_exactly_and_complete_once():
    operation_id = staged_operation([contract_item(f"P{i}") for i in range(1000)], chunk_size=5)
    store = get_operation_store()

    def report(index):
        ids = list(range(index * 5, index * 5 + 4))
        errors = [{"index": index * 5 + 4, "errors": {"amount": ["bad"]}}]
        report = ChunkReport(5, WriteResult(created_ids=ids), errors=errors)
        return store.report_chunk(operation_id, index, report)

    with ThreadPoolExecutor(max_workers=8) as pool:
        counted = list(pool.map(report, range(200)))

    status = store.status(operation_id)
    assert all(counted)
    assert status["status"] == "completed"
    assert status["progress"]["processed"] == 1000
    assert (status["created_count"], status["error_count"]) == (800, 200)
    assert len(status["result"]["created_ids"]) == 800
    assert status["seq"] == 200


def test_sequential_mode_processes_every_chunk_in_one_task():
    items = [contract_item(f"S{i}") for i in range(35)]
    operation_id = staged_operation(items, chunk_size=10)

    with override_settings(BULK_DRF_USE_OPTIMIZED_TASKS=False):
        tasks.run_operation.apply(args=[operation_id]).get()

    status = get_operation_store().status(operation_id)
    assert status["status"] == "completed"
    assert status["created_count"] == 35
    assert Contract.objects.count() == 35


def test_an_operation_that_gives_up_fails_with_the_committed_counts():
    operation_id = staged_operation([contract_item(f"F{i}") for i in range(30)], chunk_size=10)
    background.plan_operation(operation_id)
    background.process_chunk(operation_id, 0)

    ledger.fail_operation(operation_id, "The database went away.")

    status = get_operation_store().status(operation_id)
    assert (status["status"], status["state"]) == ("failed", "FAILURE")
    assert status["message"] == (
        "The database went away. Committed before the failure: 1 chunk(s), "
        "10 created, 0 updated, 0 deleted."
    )
    assert status["created_count"] == Contract.objects.count() == 10
