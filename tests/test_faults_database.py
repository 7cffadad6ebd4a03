"""PostgreSQL out of reach in the middle of an operation: the chunks retry and it completes exactly.

The worker reaches PostgreSQL through a proxy that the test cuts for a few seconds: every open
connection is dropped (a transaction in flight is rolled back, or its COMMIT's answer is lost) and
new connections are refused. The chunk tasks retry with backoff; a chunk whose commit went through
before its answer was lost finds its ledger row on the retry and is not written again.
"""

import time

import pytest
from django.db.models import Count

from asgi_demo.contracts.models import Contract
from tests.fixtures.faults import database_url, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
    pytest.mark.slow,
]

EXISTING, NEW = 3_000, 5_000


def test_an_upsert_survives_losing_the_database_and_counts_exactly(fault_processes, contract_items):
    broker = fault_processes.redis("database").url()
    Contract.objects.bulk_create(
        Contract(**item, status="old") for item in contract_items(EXISTING, prefix="U")
    )
    proxy = fault_processes.proxy()
    server = fault_processes.server("database", REDIS_URL=broker)
    worker = fault_processes.worker(
        "database", REDIS_URL=broker, DATABASE_URL=database_url(proxy.port)
    )
    client = fault_processes.client(server)
    items = contract_items(EXISTING + NEW, prefix="U", status="new")

    accepted = client.start(
        "POST", "/api/contracts/bulk/?unique_fields=contract_number,year", json=items
    )
    client.wait_for_progress(accepted["task_id"], 1_000)
    proxy.cut()
    time.sleep(3)
    proxy.restore()
    status = client.wait_until_ended(accepted["task_id"], timeout=120)

    assert proxy.dropped + proxy.refused >= 1
    assert "retry: Retry in" in worker.log_path.read_text()
    assert status["status"] == "completed", status
    assert (status["created_count"], status["updated_count"]) == (NEW, EXISTING)
    assert status["error_count"] == 0
    assert Contract.objects.count() == EXISTING + NEW
    assert Contract.objects.filter(status="new").count() == EXISTING + NEW
    duplicates = Contract.objects.values("contract_number").annotate(n=Count("id")).filter(n__gt=1)
    assert list(duplicates) == []
    created = client.results(accepted["task_id"], "created")
    updated = client.results(accepted["task_id"], "updated")
    assert len(created) + len(updated) == EXISTING + NEW
    assert set(created) | set(updated) == set(Contract.objects.values_list("id", flat=True))


def test_an_operation_whose_database_stays_away_past_the_retries_ends_failed_with_exact_counts(
    fault_processes, contract_items
):
    broker = fault_processes.redis("database-gone").url()
    proxy = fault_processes.proxy()
    server = fault_processes.server("database-gone", REDIS_URL=broker)
    worker = fault_processes.worker(
        "database-gone",
        REDIS_URL=broker,
        DATABASE_URL=database_url(proxy.port),
        BULK_TEST_MAX_RETRIES="1",
    )
    client = fault_processes.client(server)

    accepted = client.start("POST", "/api/contracts/bulk/", json=contract_items(NEW, prefix="G"))
    task_id = accepted["task_id"]
    client.wait_for_progress(task_id, 1_000)
    proxy.cut()
    # Every chunk left gives up (one retry); none can read what was committed to say so.
    wait_for(lambda: "could not end bulk operation" in worker.log_path.read_text(), timeout=60)
    time.sleep(2)
    assert client.status(task_id)["status"] == "running"
    proxy.restore()
    status = client.wait_until_ended(task_id, timeout=60)

    committed = Contract.objects.count()
    assert status["status"] == "failed", status
    assert 1_000 <= committed < NEW
    assert status["created_count"] == committed
    assert f"{committed} created" in status["message"]
    assert set(client.results(task_id, "created")) == set(
        Contract.objects.values_list("id", flat=True)
    )
