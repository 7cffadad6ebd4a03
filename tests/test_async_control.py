"""Background operations: hand-off rules, limits, cancellation, ownership and scoping."""

import asyncio
import json
import time

import pytest
from celery.signals import before_task_publish
from django.test import override_settings
from django_redis import get_redis_connection

from asgi_demo.contracts.models import Contract
from tests.fixtures.operations import run_bulk, wait_until_ended
from tests.testapp.background_views import CHUNK_LIVES_KEY, CHUNK_PIDS_KEY
from tests.testapp.models import Owned

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_settled"),
]


async def test_prefer_respond_async_hands_a_small_array_to_the_background(api, contract_items):
    response = await api.post(
        "/api/contracts/", json=contract_items(3), headers={"Prefer": "respond-async"}
    )

    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async"
    status = await wait_until_ended(api, response.json()["status_url"])
    assert status["created_count"] == 3


async def test_auto_route_sends_oversized_arrays_to_the_background(api, contract_items):
    with override_settings(BULK_DRF_AUTO_ROUTE=True):
        response = await api.post("/api/contracts/", json=contract_items(60))

    assert response.status_code == 202
    assert "Preference-Applied" not in response.headers
    status = await wait_until_ended(api, response.json()["status_url"])
    assert status["created_count"] == 60


async def test_more_than_max_records_is_refused_with_413(api, contract_items):
    with override_settings(BULK_DRF_MAX_RECORDS=100):
        response = await api.post("/api/contracts/bulk/", json=contract_items(101))

    assert response.status_code == 413
    assert response.json()["max_records"] == 100
    assert await Contract.objects.acount() == 0


async def test_empty_array_on_bulk_is_a_400(api):
    response = await api.post("/api/contracts/bulk/", json=[])

    assert response.status_code == 400


async def test_a_3mb_body_is_accepted_whatever_data_upload_max_memory_size_says(
    api, contract_items
):
    items = contract_items(16_000, customer="c" * 100, status="imported")
    body = json.dumps(items).encode()
    assert len(body) > 3_000_000

    with override_settings(BULK_DRF_MAX_RECORDS=20_000):
        response = await api.post(
            "/api/contracts/bulk/", content=body, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 202, response.text
    status = await wait_until_ended(api, response.json()["status_url"], timeout=120)
    assert status["created_count"] == 16_000
    assert await Contract.objects.filter(status="imported").acount() == 16_000


async def test_the_broker_message_carries_the_operation_id_not_the_rows(api, contract_items):
    published = []

    def capture(body=None, headers=None, **kwargs):
        published.append((headers["task"], json.dumps(body)))

    before_task_publish.connect(capture, weak=False)
    try:
        response = await api.post("/api/contracts/bulk/", json=contract_items(10_000))
    finally:
        before_task_publish.disconnect(capture)

    assert response.status_code == 202
    operation_id = response.json()["task_id"]
    assert [task for task, _ in published] == ["django_bulk_drf.run_operation"]
    message = published[0][1]
    assert operation_id in message
    assert len(message) < 500
    status = await wait_until_ended(api, response.json()["status_url"], timeout=120)
    assert status["created_count"] == 10_000


async def test_two_worker_processes_share_one_operation_and_counts_are_exact(api, contract_items):
    redis = get_redis_connection("default")
    redis.delete(CHUNK_PIDS_KEY, CHUNK_LIVES_KEY)
    with override_settings(BULK_DRF_CHUNK_SIZE=20):
        _, status = await run_bulk(
            api, "POST", "/test-api/pid-contracts/bulk/", json=contract_items(1_000)
        )

    assert len(redis.smembers(CHUNK_PIDS_KEY)) == 2
    assert status["status"] == "completed"
    assert status["progress"]["processed"] == 1_000
    assert status["created_count"] == 1_000
    assert len(set(status["result"]["created_ids"])) == 1_000
    assert await Contract.objects.acount() == 1_000
    # Both pool processes release their chunks as the one life of the worker that received them
    # and beats for them (its main process): else their holdings would outlive them.
    [life] = redis.smembers(CHUNK_LIVES_KEY)
    assert redis.exists(f"bulkdrf:worker:{life.decode()}")


async def test_cancel_stops_between_chunks_and_reports_what_was_written(api, contract_items):
    with override_settings(BULK_DRF_CHUNK_SIZE=10):
        response = await api.post("/test-api/pid-contracts/bulk/", json=contract_items(2_000))
    operation_id = response.json()["task_id"]
    status_url = response.json()["status_url"]
    deadline = time.monotonic() + 120
    while (await api.get(status_url)).json()["created_count"] == 0:
        assert time.monotonic() < deadline, "no chunk written"
        await asyncio.sleep(0.02)

    cancel = await api.delete(f"/api/operations/{operation_id}/")

    assert cancel.status_code == 202
    status = await wait_until_ended(api, status_url)
    assert (status["status"], status["state"]) == ("cancelled", "REVOKED")
    assert 0 < status["created_count"] < 2_000
    assert await Contract.objects.acount() == status["created_count"]
    again = await api.delete(f"/api/operations/{operation_id}/")
    assert again.status_code == 409


async def test_a_database_error_rolls_back_its_chunk_only(api, contract_items):
    items = contract_items(200)
    items[120]["customer"] = "boom"

    with override_settings(BULK_DRF_CHUNK_SIZE=50):
        _, status = await run_bulk(api, "POST", "/test-api/failing-contracts/bulk/", json=items)

    assert status["status"] == "completed"
    assert status["created_count"] == 150
    assert status["error_count"] == 50
    assert {error["index"] for error in status["errors"]} == set(range(100, 150))
    assert "division by zero" in status["errors"][0]["errors"]["non_field_errors"][0]
    assert await Contract.objects.acount() == 150
    stored = {pk async for pk in Contract.objects.values_list("pk", flat=True)}
    assert stored == set(status["result"]["created_ids"])


@pytest.mark.parametrize("operation_id", ["8c7d4e6e-7d1f-4f44-9a53-4d2d9c1f0b11", "not-a-uuid"])
async def test_unknown_or_malformed_operation_ids_are_404(api, operation_id):
    assert (await api.get(f"/api/operations/{operation_id}/status/")).status_code == 404
    assert (await api.delete(f"/api/operations/{operation_id}/")).status_code == 404


async def test_a_users_operation_is_hidden_from_other_users_and_anonymous(api, alice, bob):
    response = await api.post(
        "/test-api/owned/bulk/", json=[{"sku": "A1", "quantity": 1}], headers=alice.headers
    )
    status_url = response.json()["status_url"]
    operation_id = response.json()["task_id"]

    assert (await wait_until_ended(api, status_url, headers=alice.headers))["created_count"] == 1
    assert (await api.get(status_url, headers=bob.headers)).status_code == 404
    assert (await api.get(status_url)).status_code == 404
    assert (await api.delete(f"/api/operations/{operation_id}/")).status_code == 404
    assert (
        await api.delete(f"/api/operations/{operation_id}/", headers=bob.headers)
    ).status_code == 404


async def test_an_anonymous_operation_is_reachable_by_its_id(api, contract_items):
    accepted, status = await run_bulk(api, "POST", "/api/contracts/bulk/", json=contract_items(2))

    assert status["created_count"] == 2


async def test_the_worker_sees_only_the_requesting_users_rows(api, alice, bob):
    await api.post(
        "/test-api/owned/",
        json=[{"sku": "A1", "quantity": 1}, {"sku": "A2", "quantity": 2}],
        headers=alice.headers,
    )
    alice_ids = [row.pk async for row in Owned.objects.order_by("pk")]

    _, updated = await run_bulk(
        api,
        "PATCH",
        "/test-api/owned/bulk/",
        headers=bob.headers,
        json=[{"id": alice_ids[0], "quantity": 99}],
    )
    _, upserted = await run_bulk(
        api,
        "POST",
        "/test-api/owned/bulk/?unique_fields=sku",
        headers=bob.headers,
        json=[{"sku": "A2", "quantity": 50}, {"sku": "B1", "quantity": 5}],
    )
    _, deleted = await run_bulk(
        api,
        "DELETE",
        f"/test-api/owned/bulk/?ids={alice_ids[0]},{alice_ids[1]}",
        headers=bob.headers,
    )
    _, read = await run_bulk(
        api, "GET", f"/test-api/owned/bulk/?ids={alice_ids[0]}", headers=bob.headers
    )

    assert updated["updated_count"] == 0
    assert updated["errors"] == [{"index": 0, "errors": {"id": ["Not found."]}}]
    assert (upserted["created_count"], upserted["updated_count"]) == (1, 0)
    assert [error["index"] for error in upserted["errors"]] == [0]
    assert deleted["deleted_count"] == 0
    assert read["result"]["results"] == []
    rows = {row.sku: row async for row in Owned.objects.select_related("owner")}
    assert (rows["A1"].quantity, rows["A2"].quantity) == (1, 2)
    assert rows["B1"].owner == bob.user
