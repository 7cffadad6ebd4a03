"""A worker killed with SIGKILL in the middle of an operation: nothing lost, nothing twice.

When the whole worker dies (its main process with its pool), nobody is left to reject its tasks:
``task_reject_on_worker_lost`` only covers a pool child dying under a living main process. The
chunks it held stay unacknowledged in the broker, and the Redis transport delivers them again once
they are older than ``visibility_timeout``; the chunk ledger makes the second run a no-op for the
chunks that had committed. This test runs with a 5 s visibility timeout (production: see the
README's deployment notes).
"""

import pytest
import redis
from django.db.models import Count

from asgi_demo.contracts.models import Contract
from tests.fixtures.faults import flush_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

BROKER = "redis://127.0.0.1:6379/5"
ROWS = 20_000


def test_a_worker_killed_mid_create_loses_nothing_and_writes_nothing_twice(
    fault_processes, contract_items
):
    flush_redis(BROKER)
    env = {
        "REDIS_URL": BROKER,
        "BULK_DRF_MAX_RECORDS": str(ROWS),
        "BULK_TEST_VISIBILITY_TIMEOUT": "5",
    }
    server = fault_processes.server("crash", **env)
    doomed = fault_processes.worker("crash-first", **env)
    client = fault_processes.client(server)

    accepted = client.start("POST", "/api/contracts/bulk/", json=contract_items(ROWS, prefix="K"))
    task_id = accepted["task_id"]
    client.wait_for_progress(task_id, ROWS // 5)
    doomed.kill()
    broker = redis.Redis.from_url(BROKER)
    held_by_the_dead_worker = broker.hlen("unacked")
    broker.close()
    assert client.status(task_id)["status"] == "running"

    fault_processes.worker("crash-second", **env)
    status = client.wait_until_ended(task_id, timeout=120)

    # Chunks in flight at the kill: nobody rejected them, the broker redelivered them.
    assert held_by_the_dead_worker >= 1
    assert status["status"] == "completed", status
    assert (status["created_count"], status["error_count"]) == (ROWS, 0)
    assert status["progress"] == {"processed": ROWS, "total": ROWS, "percent": 100.0}
    assert Contract.objects.count() == ROWS
    duplicates = Contract.objects.values("contract_number").annotate(n=Count("id")).filter(n__gt=1)
    assert list(duplicates) == []
    created_ids = client.results(task_id, "created")
    assert len(created_ids) == ROWS
    assert set(created_ids) == set(Contract.objects.values_list("id", flat=True))
