"""The /bulk/ endpoints, processed by a real Celery worker process on PostgreSQL and Redis."""

from decimal import Decimal

import pytest
from django.urls import reverse

from asgi_demo.contracts.models import Contract
from tests.conftest import contract_item
from tests.fixtures.operations import STATUS_KEYS, run_bulk

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_settled"),
]


async def test_bulk_create_answers_202_with_the_operation_and_completes(api, contract_items):
    items = contract_items(250)
    items[7]["amount"] = "not a number"
    items[180] = {"contract_number": "no year"}

    accepted, status = await run_bulk(api, "POST", "/api/contracts/bulk/", json=items)

    body = accepted.json()
    operation_id = body["task_id"]
    assert body == {
        "message": "Bulk create task started for 250 items",
        "task_id": operation_id,
        "total_items": 250,
        "unique_fields": [],
        "status_url": f"/api/operations/{operation_id}/status/",
        "websocket_url": f"/ws/operations/{operation_id}/",
        "is_async": True,
    }
    assert accepted.headers["Location"] == body["status_url"]
    assert STATUS_KEYS <= set(status)
    assert status["operation"] == "create"
    assert (status["status"], status["state"]) == ("completed", "SUCCESS")
    assert status["progress"] == {"processed": 250, "total": 250, "percent": 100.0}
    assert (status["created_count"], status["error_count"]) == (248, 2)
    assert [error["index"] for error in status["errors"]] == [7, 180]
    assert status["errors"][0]["errors"] == {"amount": ["A valid number is required."]}
    assert set(status["errors"][1]["errors"]) == {"year", "amount", "customer"}
    created_ids = status["result"]["created_ids"]
    assert len(created_ids) == 248
    assert await Contract.objects.filter(pk__in=created_ids).acount() == 248
    assert status["started_at"] and status["finished_at"]


async def test_bulk_upsert_reports_invalid_items_by_index_and_exact_ids(
    api, saved_contracts, contract_items
):
    existing = await saved_contracts(120, prefix="C")
    items = contract_items(300, amount="55.50")
    items[5]["amount"] = "-"
    items[250]["year"] = "twenty"

    accepted, status = await run_bulk(
        api, "POST", "/api/contracts/bulk/?unique_fields=contract_number,year", json=items
    )

    assert accepted.json()["message"] == "Bulk upsert task started for 300 items"
    assert accepted.json()["unique_fields"] == ["contract_number", "year"]
    assert status["status"] == "completed"
    assert [error["index"] for error in status["errors"]] == [5, 250]
    existing_ids = {row.pk for row in existing} - {existing[5].pk}
    assert set(status["result"]["updated_ids"]) == existing_ids
    assert (status["updated_count"], status["created_count"]) == (119, 179)
    assert await Contract.objects.filter(amount=Decimal("55.50")).acount() == 298
    unchanged = await Contract.objects.aget(contract_number="C5")
    assert unchanged.amount == Decimal("10.00")


async def test_duplicate_keys_in_different_chunks_fail_on_the_later_item(api, contract_items):
    items = contract_items(250)
    items[230] = contract_item("C3", amount="1.00")

    _, status = await run_bulk(
        api, "POST", "/api/contracts/bulk/?unique_fields=contract_number,year", json=items
    )

    assert status["status"] == "completed"
    assert status["progress"] == {"processed": 250, "total": 250, "percent": 100.0}
    assert [error["index"] for error in status["errors"]] == [230]
    assert "Duplicate of item 3" in status["errors"][0]["errors"]["non_field_errors"][0]
    assert status["created_count"] == 249
    assert (await Contract.objects.aget(contract_number="C3")).amount == Decimal("100.00")


async def test_bulk_get_returns_the_rows_in_the_result(api, saved_contracts):
    rows = await saved_contracts(5)
    ids = ",".join(str(row.pk) for row in rows[:3]) + ",999999"

    accepted, status = await run_bulk(api, "GET", f"/api/contracts/bulk/?ids={ids}")

    assert accepted.json()["message"] == "Bulk get task started for 4 items"
    assert status["status"] == "completed"
    results = status["result"]["results"]
    assert [row["id"] for row in results] == [row.pk for row in rows[:3]]
    assert results[0]["contract_number"] == "E0"


async def test_bulk_delete_by_ids_and_by_array(api, saved_contracts):
    rows = await saved_contracts(6)

    _, by_query = await run_bulk(
        api, "DELETE", f"/api/contracts/bulk/?ids={rows[0].pk},{rows[1].pk}"
    )
    _, by_body = await run_bulk(
        api, "DELETE", "/api/contracts/bulk/", json=[rows[2].pk, rows[3].pk, 424242]
    )

    assert by_query["result"]["deleted_ids"] == [rows[0].pk, rows[1].pk]
    assert by_body["deleted_count"] == 2
    assert by_body["result"]["deleted_ids"] == [rows[2].pk, rows[3].pk]
    assert await Contract.objects.acount() == 2


async def test_bulk_replace_by_id_writes_every_field_and_reports_missing_rows(api, saved_contracts):
    rows = await saved_contracts(3)
    items = [
        {
            "id": rows[0].pk,
            "contract_number": "R0",
            "year": 2030,
            "amount": "1.00",
            "customer": "Replaced",
            "status": "closed",
        },
        {"id": rows[1].pk, "amount": "2.00"},
        {"id": 987654, "contract_number": "R9", "year": 2030, "amount": "1.00", "customer": "x"},
    ]

    accepted, status = await run_bulk(api, "PUT", "/api/contracts/bulk/", json=items)

    assert accepted.json()["message"] == "Bulk replace task started for 3 items"
    assert status["updated_count"] == 1
    assert status["result"]["updated_ids"] == [rows[0].pk]
    assert {error["index"] for error in status["errors"]} == {1, 2}
    assert status["errors"][1]["errors"] == {"id": ["Not found."]}
    replaced = await Contract.objects.aget(pk=rows[0].pk)
    assert (replaced.contract_number, replaced.status) == ("R0", "closed")


async def test_bulk_partial_update_touches_only_given_fields(api, saved_contracts):
    rows = await saved_contracts(2, status="active")

    accepted, status = await run_bulk(
        api,
        "PATCH",
        "/api/contracts/bulk/",
        json=[{"id": rows[0].pk, "amount": "7.00"}, {"id": rows[1].pk, "status": "paused"}],
    )

    assert accepted.json()["message"] == "Bulk update task started for 2 items"
    assert status["updated_count"] == 2
    first, second = [await Contract.objects.aget(pk=row.pk) for row in rows]
    assert (first.amount, first.status) == (Decimal("7.00"), "active")
    assert (second.amount, second.status) == (Decimal("10.00"), "paused")


async def test_a_create_duplicate_in_a_later_chunk_fails_the_later_item(api, contract_items):
    items = contract_items(200)
    items[150] = contract_item("C50", amount="1.00")

    _, status = await run_bulk(api, "POST", "/api/contracts/bulk/", json=items)

    assert status["status"] == "completed"
    assert status["errors"] == [
        {
            "index": 150,
            "errors": {
                "non_field_errors": ["The fields contract_number, year must make a unique set."]
            },
        }
    ]
    assert status["created_count"] == 199
    assert (await Contract.objects.aget(contract_number="C50")).amount == Decimal("100.00")


async def test_the_worker_sees_the_requests_action_in_get_serializer_class(
    api, contract_items, read_contracts
):
    _, status = await run_bulk(
        api, "POST", "/test-api/action-contracts/bulk/", json=contract_items(3, prefix="B")
    )
    sync = await api.post("/test-api/action-contracts/", json=contract_items(2, prefix="S"))

    assert (status["status"], status["created_count"]) == ("completed", 3)
    assert sync.status_code == 201, sync.text
    statuses = {number: row.status for number, row in (await read_contracts()).items()}
    assert statuses == {"B0": "imported", "B1": "imported", "B2": "imported"} | {
        "S0": "active",
        "S1": "active",
    }


async def test_a_handler_overridden_by_its_deprecated_name_still_serves_the_bulk_route(
    api, contract_items, read_contracts
):
    with pytest.warns(DeprecationWarning, match="async_bulk_create is deprecated"):
        accepted, status = await run_bulk(
            api, "POST", reverse("legacy-contract-bulk"), json=contract_items(3, prefix="L")
        )

    assert reverse("legacy-contract-bulk") == "/test-api/legacy-contracts/bulk/"
    assert accepted.headers["X-Handled-By"] == "async_bulk_create"
    assert (status["status"], status["created_count"]) == ("completed", 3)
    assert set(await read_contracts()) == {"L0", "L1", "L2"}
