"""``GET /api/operations/<id>/results/``: every id, row and error of an operation, a page at a time,
in payload order; and a status body whose size does not grow with the operation.

Operations are driven by hand through the Redis store (chunks reported out of order, as several
workers report them), except the 100,000-row one, which a served demo and two worker processes run.
"""

import asyncio
from typing import Any

import orjson
import pytest

from asgi_demo.contracts.models import Contract
from django_bulk_drf.operations import ChunkReport, get_operation_store, new_operation_id
from django_bulk_drf.writers import WriteResult
from tests.conftest import contract_item
from tests.fixtures.progress import CHUNK, report_chunk, start_operation
from tests.fixtures.records import operation_record

pytestmark = pytest.mark.django_db(transaction=True)


def results_url(operation_id: str) -> str:
    return f"/api/operations/{operation_id}/results/"


async def read_all(api, operation_id: str, kind: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of one list, following ``next``."""
    response = await api.get(results_url(operation_id), params={"kind": kind, **params})
    pages = []
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if pages[-1]["next"] is None:
            return pages
        response = await api.get(pages[-1]["next"])


async def test_pages_give_every_id_and_error_once_in_payload_order(api):
    operation_id = start_operation(chunks=5)
    for index in (3, 0, 4, 1, 2):  # as workers report them: out of order
        await report_chunk(operation_id, index, errors=1 if index in (1, 3) else 0)

    pages = await read_all(api, operation_id, "created", limit=7)
    errors = await read_all(api, operation_id, "errors", limit=1)

    created = [value for page in pages for value in page["results"]]
    assert created == [value for value in range(5 * CHUNK) if value not in (10, 30)]
    assert [len(page["results"]) for page in pages] == [7] * 6 + [6]
    assert {page["kind"] for page in pages} == {"created"}
    assert pages[0]["next"].startswith(f"{results_url(operation_id)}?kind=created&limit=7&cursor=")
    assert [page["results"] for page in errors] == [
        [{"index": 10, "errors": {"amount": ["Bad."]}}],
        [{"index": 30, "errors": {"amount": ["Bad."]}}],
    ]
    deleted = await api.get(results_url(operation_id), params={"kind": "deleted"})
    assert deleted.json() == {"kind": "deleted", "results": [], "next": None}


async def test_a_get_pages_its_rows(api):
    record = operation_record(chunks=2, operation="get", action="async_bulk_get", method="GET")
    store = get_operation_store()
    store.create(record, [orjson.dumps([{}] * CHUNK)] * 2)
    for index in (1, 0):
        rows = [{"id": index * CHUNK + i} for i in range(CHUNK)]
        report = ChunkReport(CHUNK, results=rows)
        await asyncio.to_thread(store.report_chunk, record.task_id, index, report)

    pages = await read_all(api, record.task_id, "rows", limit=15)

    assert [row["id"] for page in pages for row in page["results"]] == list(range(2 * CHUNK))
    status = (await api.get(f"/api/operations/{record.task_id}/status/")).json()
    assert status["result"]["results"] == [{"id": i} for i in range(2 * CHUNK)]
    assert "results_truncated" not in status["result"]


async def test_the_status_lists_the_first_thousand_and_the_limit_is_capped(api):
    chunks = 1_050  # 10,500 ids
    operation_id = start_operation(chunks=chunks)
    store = get_operation_store()

    def report_all() -> None:
        for index in reversed(range(chunks)):
            created = list(range(index * CHUNK, (index + 1) * CHUNK))
            store.report_chunk(operation_id, index, ChunkReport(CHUNK, WriteResult(created)))

    await asyncio.to_thread(report_all)
    status = (await api.get(f"/api/operations/{operation_id}/status/")).json()
    first = (await api.get(results_url(operation_id), params={"kind": "created"})).json()
    largest = await api.get(results_url(operation_id), params={"kind": "created", "limit": 50_000})

    assert status["status"] == "completed"
    assert status["result"]["created_ids"] == list(range(1000))
    assert status["result"]["ids_truncated"] is True
    assert status["results_url"] == results_url(operation_id)
    assert first["results"] == list(range(1000))
    assert largest.json()["results"] == list(range(10_000))
    assert "limit=10000" in largest.json()["next"]
    last = (await api.get(largest.json()["next"])).json()
    assert (last["results"], last["next"]) == (list(range(10_000, 10_500)), None)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind": "ids"},
        {"kind": "created", "limit": "0"},
        {"kind": "created", "limit": "-5"},
        {"kind": "created", "limit": "ten"},
        {"kind": "created", "limit": "²"},
        {"kind": "created", "cursor": "not a cursor"},
        {"kind": "created", "cursor": "MS4"},  # cut short
        {"kind": "created", "cursor": "LTEuMA=="},  # "-1.0"
        {"kind": "created", "cursor": "w6kuMQ=="},  # "é.1"
    ],
)
async def test_a_bad_kind_limit_or_cursor_is_400(api, params):
    operation_id = start_operation(chunks=1)
    await report_chunk(operation_id, 0)  # ended: no operation is left running for later tests

    response = await api.get(results_url(operation_id), params=params)

    assert response.status_code == 400, response.text
    assert "error" in response.json()


@pytest.mark.parametrize(
    "operation_path", [pytest.param(new_operation_id(), id="unknown"), "not-a-uuid", "1' OR '1'='1"]
)
async def test_an_unknown_or_malformed_operation_is_404(api, operation_path):
    response = await api.get(results_url(operation_path), params={"kind": "created"})
    assert response.status_code == 404


async def test_a_users_operation_pages_for_that_user_only(api, alice, bob):
    operation_id = start_operation(owner_id=alice.user.pk, chunks=1)
    await report_chunk(operation_id, 0)
    query = {"kind": "created"}

    mine = await api.get(results_url(operation_id), params=query, headers=alice.headers)
    theirs = await api.get(results_url(operation_id), params=query, headers=bob.headers)
    nobody = await api.get(results_url(operation_id), params=query)

    assert (mine.status_code, theirs.status_code, nobody.status_code) == (200, 404, 404)
    assert mine.json()["results"] == list(range(CHUNK))


ROWS = 100_000


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_100k_row_create_reads_back_every_id_once_in_payload_order(fault_processes):
    env = {"BULK_DRF_MAX_RECORDS": str(ROWS), "BULK_DRF_CHUNK_SIZE": "1000"}
    server = fault_processes.server("results", **env)
    fault_processes.worker("results", concurrency=2, **env)
    client = fault_processes.client(server)
    items = [contract_item(f"H{index}") for index in range(ROWS)]

    accepted = client.start("POST", "/api/contracts/bulk/", json=items)
    status = client.wait_until_ended(accepted["task_id"], timeout=240)
    body = client.http.get(f"/api/operations/{accepted['task_id']}/status/").content
    created_ids = client.results(accepted["task_id"], "created", limit=777)

    assert status["status"] == "completed", status
    assert status["created_count"] == ROWS
    assert len(body) < 16 * 1024
    assert len(created_ids) == len(set(created_ids)) == ROWS
    numbers = dict(Contract.objects.values_list("id", "contract_number"))
    assert [numbers[pk] for pk in created_ids] == [item["contract_number"] for item in items]
    assert status["result"]["created_ids"] == created_ids[:1000]
