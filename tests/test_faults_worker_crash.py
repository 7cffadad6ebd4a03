"""Lost workers, with the demo's default broker settings (no ``visibility_timeout`` tuning).

A worker killed outright (its whole process group, SIGKILL) cannot give its tasks back, and the
Redis broker would redeliver them only after an hour. The other workers notice that its heartbeat
stopped and re-queue the tasks it held (``django_bulk_drf.recovery``); the chunk ledger keeps each
chunk applied exactly once. So does a worker started in its place under the same node name: a
holder is one life of a worker process, not a name. A worker that is merely slow keeps its
chunks.

Each test has a Redis of its own (records and broker), so that no other test run takes its tasks.
"""

import time

import pytest
from django.db.models import Count
from django.db.models.functions import Left

from asgi_demo.contracts.models import Contract
from tests.fixtures.faults import kill_while_holding

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
    pytest.mark.slow,
]

ROWS = 10_000


def assert_written_once(status: dict, rows: int) -> None:
    assert status["status"] == "completed", status
    assert (status["created_count"], status["error_count"]) == (rows, 0)
    assert status["progress"] == {"processed": rows, "total": rows, "percent": 100.0}
    assert Contract.objects.count() == rows, rows_by_prefix()
    duplicates = Contract.objects.values("contract_number").annotate(n=Count("id")).filter(n__gt=1)
    assert list(duplicates) == []


def rows_by_prefix() -> dict[str, int]:
    """How many rows each test wrote (the first letter of the contract numbers it gives): rows of
    another test, or of another run, are told apart from rows written twice."""
    prefixes = Contract.objects.values(prefix=Left("contract_number", 1))
    return {row["prefix"]: row["n"] for row in prefixes.annotate(n=Count("id")).order_by()}


def kill_mid_operation_and_replace(fault_processes, contract_items, first: str, second: str):
    """Kill worker ``first`` (its whole process group) past a fifth of a create, while it holds
    chunks it has not reported, then start worker ``second``, which must end the operation within
    a minute, each row written once; both workers."""
    redis_url = fault_processes.redis("crash").url()
    env = {"REDIS_URL": redis_url}
    server = fault_processes.server("crash", **env)
    doomed = fault_processes.worker(first, **env)
    client = fault_processes.client(server)

    accepted = client.start("POST", "/api/contracts/bulk/", json=contract_items(ROWS, prefix="K"))
    task_id = accepted["task_id"]
    client.wait_for_progress(task_id, ROWS // 5)
    kill_while_holding(doomed, client, redis_url, task_id)
    assert client.status(task_id)["status"] == "running"

    successor = fault_processes.worker(second, **env)
    started = time.monotonic()
    status = client.wait_until_ended(task_id, timeout=120)
    taken_up_in = time.monotonic() - started

    assert taken_up_in < 60, f"completed {taken_up_in:.0f} s after the new worker started"
    assert "a worker that stopped beating" in successor.log_path.read_text()
    assert_written_once(status, ROWS)
    created_ids = client.results(task_id, "created")
    assert len(created_ids) == ROWS
    assert set(created_ids) == set(Contract.objects.values_list("id", flat=True))
    return doomed, successor


def test_the_chunks_of_a_killed_worker_are_taken_up_within_a_minute(
    fault_processes, contract_items
):
    kill_mid_operation_and_replace(fault_processes, contract_items, "crash-first", "crash-second")


def test_a_worker_restarted_under_the_same_name_takes_up_the_chunks_of_the_dead_one(
    fault_processes, contract_items
):
    # What systemd, supervisor or a StatefulSet does: the same command line on the same host.
    doomed, successor = kill_mid_operation_and_replace(
        fault_processes, contract_items, "restarted", "restarted"
    )
    assert successor.process.args == doomed.process.args


def test_a_slow_chunk_is_neither_taken_from_its_live_worker_nor_applied_twice(
    fault_processes, contract_items
):
    env = {"REDIS_URL": fault_processes.redis("slow").url()}
    server = fault_processes.server("slow", **env)
    worker = fault_processes.worker("slow", **env)
    watcher = fault_processes.worker("slow-watcher", concurrency=1, **env)
    client = fault_processes.client(server)
    items = contract_items(300, prefix="S")
    items[0]["customer"] = "slow"  # the first chunk outlives a heartbeat expiry and a sweep

    accepted = client.start("POST", "/test-api/slow-statement-contracts/bulk/", json=items)
    status = client.wait_until_ended(accepted["task_id"], timeout=120)

    logs = worker.log_path.read_text() + watcher.log_path.read_text()
    assert "re-queued" not in logs
    assert_written_once(status, 300)
