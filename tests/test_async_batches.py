"""Batches: consecutive chunks written in one transaction, each chunk still reported on its own.

A refused batch is applied again chunk by chunk, so only the chunk at fault is rolled back; a
worker killed between a batch's commit and its report leaves each chunk applied and counted once;
the statements of a batch do not grow with the number of its chunks.
"""

import pytest
import redis
from django.db import connection
from django.db.models import Count
from django.test import override_settings

from asgi_demo.contracts.models import Contract
from django_bulk_drf import background
from django_bulk_drf.models import ChunkLedger
from django_bulk_drf.operations import get_operation_store
from tests.conftest import contract_item
from tests.fixtures.operations import staged_operation, wait_until_ended
from tests.testapp.background_views import COMMITTED_BEFORE_KILL_KEY, KILL_AFTER_COMMIT_KEY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


@pytest.fixture
def refused_customer():
    """A check constraint: the database refuses a contract whose customer is "refused"."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE contracts_contract ADD CONSTRAINT tests_refused "
            "CHECK (customer <> 'refused')"
        )
    yield "refused"
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE contracts_contract DROP CONSTRAINT tests_refused")


def chunk_rows(operation_id):
    return dict(
        ChunkLedger.objects.filter(operation_id=operation_id, chunk_index__gte=0).values_list(
            "chunk_index", "processed"
        )
    )


@pytest.mark.usefixtures("end_staged")
def test_a_batch_whose_seventh_chunk_is_refused_commits_the_other_nine(refused_customer):
    items = [contract_item(f"B{i}") for i in range(100)]
    items[65]["customer"] = refused_customer  # chunk 6, the seventh of ten
    operation_id = staged_operation(items, chunk_size=10)
    background.plan_operation(operation_id)

    with override_settings(BULK_DRF_BATCH_SIZE=100):  # the ten chunks make one batch
        background.process_chunk(operation_id, 0, 10)

    status = get_operation_store().status(operation_id)
    assert status["status"] == "completed"
    assert status["progress"]["processed"] == 100
    assert (status["created_count"], status["error_count"]) == (90, 10)
    assert [error["index"] for error in status["errors"]] == list(range(60, 70))
    message = status["errors"][0]["errors"]["non_field_errors"][0]
    assert message.startswith("The database refused this chunk, which was rolled back")
    assert "tests_refused" in message
    stored = set(Contract.objects.values_list("contract_number", flat=True))
    assert stored == {f"B{i}" for i in range(100) if not 60 <= i < 70}
    stored_ids = set(Contract.objects.values_list("pk", flat=True))
    assert set(status["result"]["created_ids"]) == stored_ids
    assert chunk_rows(operation_id) == {index: 10 for index in range(10) if index != 6}


@pytest.mark.usefixtures("end_staged")
def test_statements_per_batch_do_not_grow_with_its_chunks(query_counter):
    def statements(chunks, prefix):
        items = [contract_item(f"{prefix}{i}") for i in range(chunks * 50)]
        operation_id = staged_operation(items, chunk_size=50)
        background.plan_operation(operation_id)
        query_counter.reset()
        with override_settings(BULK_DRF_BATCH_SIZE=5000):
            background.process_chunk(operation_id, 0, chunks)
        count = sum(query_counter.by_alias.values())
        status = get_operation_store().status(operation_id)
        assert (status["status"], status["created_count"]) == ("completed", chunks * 50)
        assert len(chunk_rows(operation_id)) == chunks
        return count

    statements(2, "W")  # the first batch makes the connection's staging table
    two, twenty = statements(2, "T"), statements(20, "N")

    assert two == twenty
    # The chunks opened (timeout, share lock, claims), the unique check, the new rows' keys
    # taken from the sequence (the rows are then copied), the ledger rows written.
    assert twenty <= 4


def test_a_worker_killed_between_a_batch_commit_and_its_report_counts_each_chunk_once(
    fault_processes, contract_items
):
    rows = 2_000
    redis_url = fault_processes.redis("batch-kill").url()
    env = {"REDIS_URL": redis_url, "BULK_DRF_CHUNK_SIZE": "10"}
    server = fault_processes.server("batch-kill", **env)
    fault_processes.worker("batch-kill", **env)
    client = fault_processes.client(server)
    store = redis.Redis.from_url(redis_url)
    store.set(KILL_AFTER_COMMIT_KEY, "1")

    accepted = client.start(
        "POST", "/test-api/kill-commit-contracts/bulk/", json=contract_items(rows, prefix="D")
    )
    status = client.wait_until_ended(accepted["task_id"], timeout=180)

    killed_batch = store.lrange(COMMITTED_BEFORE_KILL_KEY, 0, -1)
    assert store.get(KILL_AFTER_COMMIT_KEY) is None
    assert len(killed_batch) > 10, "the killed batch held several chunks"
    assert status["status"] == "completed", status
    assert (status["created_count"], status["error_count"]) == (rows, 0)
    assert status["progress"]["processed"] == rows
    assert Contract.objects.count() == rows
    duplicates = Contract.objects.values("contract_number").annotate(n=Count("id")).filter(n__gt=1)
    assert list(duplicates) == []
    created_ids = client.results(accepted["task_id"], "created")
    assert sorted(created_ids) == sorted(Contract.objects.values_list("pk", flat=True))
    assert chunk_rows(accepted["task_id"]) == {index: 10 for index in range(rows // 10)}


@pytest.mark.usefixtures("celery_worker_settled")
async def test_upsert_ids_come_back_in_payload_order_not_in_the_keys_text_order(api):
    keys = [f"K-{number}" for number in range(5_000)]  # "K-10" sorts before "K-2" as text
    existing = set(keys[::3])
    await Contract.objects.abulk_create(
        [
            Contract(contract_number=key, year=2024, amount="1.00", customer="old")
            for key in existing
        ]
    )
    items = [contract_item(key, customer="new") for key in keys]

    response = await api.post("/api/contracts/bulk/?unique_fields=contract_number,year", json=items)
    assert response.status_code == 202, response.text
    status = await wait_until_ended(api, response.json()["status_url"], timeout=120)

    assert status["status"] == "completed", status
    numbers = {
        pk: number async for pk, number in Contract.objects.values_list("pk", "contract_number")
    }
    expected = {
        "created": [key for key in keys if key not in existing],
        "updated": [key for key in keys if key in existing],
    }
    for kind, wanted in expected.items():
        in_status = [numbers[pk] for pk in status["result"][f"{kind}_ids"]]
        assert in_status == wanted[:1_000]
        paged = []
        page = (await api.get(f"/api/operations/{status['task_id']}/results/?kind={kind}")).json()
        while True:
            paged += page["results"]
            if page["next"] is None:
                break
            page = (await api.get(page["next"])).json()
        assert [numbers[pk] for pk in paged] == wanted
