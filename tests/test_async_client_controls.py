"""Idempotency-Key, the bulk throttle scope and metrics on the background endpoints."""

import asyncio

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.settings import api_settings

from asgi_demo.contracts.models import Contract
from tests.fixtures.operations import wait_until_ended

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_settled"),
]


async def test_same_idempotency_key_and_body_return_the_same_operation(api, contract_items):
    items = contract_items(30)
    headers = {"Idempotency-Key": "import-2026-11-28"}

    first = await api.post("/api/contracts/bulk/", json=items, headers=headers)
    second = await api.post("/api/contracts/bulk/", json=items, headers=headers)

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["task_id"] == second.json()["task_id"]
    status = await wait_until_ended(api, first.json()["status_url"])
    assert status["created_count"] == 30
    assert await Contract.objects.acount() == 30


async def test_same_idempotency_key_with_another_body_is_422(api, contract_items):
    headers = {"Idempotency-Key": "key-1"}
    first = await api.post("/api/contracts/bulk/", json=contract_items(3), headers=headers)

    other = await api.post("/api/contracts/bulk/", json=contract_items(4), headers=headers)

    assert first.status_code == 202
    assert other.status_code == 422
    assert "different request payload" in other.json()["error"]


async def test_an_idempotency_key_over_255_characters_is_a_400_and_starts_nothing(
    api, contract_items
):
    too_long = await api.post(
        "/api/contracts/bulk/", json=contract_items(3), headers={"Idempotency-Key": "k" * 256}
    )
    longest = await api.post(
        "/api/contracts/bulk/", json=contract_items(2), headers={"Idempotency-Key": "k" * 255}
    )

    assert too_long.status_code == 400
    assert too_long.json() == {
        "error": "The Idempotency-Key header is 256 characters long; at most 255 are accepted."
    }
    assert longest.status_code == 202
    status = await wait_until_ended(api, longest.json()["status_url"])
    assert status["created_count"] == 2
    assert await Contract.objects.acount() == 2


async def test_idempotency_keys_are_scoped_to_the_user(api, alice, bob):
    body = [{"sku": "S1", "quantity": 1}]
    first = await api.post(
        "/test-api/owned/bulk/", json=body, headers={**alice.headers, "Idempotency-Key": "k"}
    )
    second = await api.post(
        "/test-api/owned/bulk/",
        json=[{"sku": "S2", "quantity": 1}],
        headers={**bob.headers, "Idempotency-Key": "k"},
    )

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["task_id"] != second.json()["task_id"]


async def test_a_retry_while_the_first_request_is_accepted_is_409(api, contract_items):
    items = contract_items(2_000)
    headers = {"Idempotency-Key": "racing"}

    answers = await asyncio.gather(
        *[api.post("/api/contracts/bulk/", json=items, headers=headers) for _ in range(4)]
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes.count(202) >= 1
    assert set(codes) <= {202, 409}
    task_ids = {answer.json()["task_id"] for answer in answers if answer.status_code == 202}
    assert len(task_ids) == 1


async def test_the_bulk_throttle_scope_caps_operations_per_user(api, contract_items):
    # The throttle's history alone: clearing the whole cache would flush the test Redis database,
    # the broker's queues and the run's claim on it included.
    cache.delete_pattern("throttle_*")
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "bulk": "2/minute"}
    rest_framework = {**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": rates}
    with override_settings(REST_FRAMEWORK=rest_framework):
        codes = [
            (
                await api.post("/api/contracts/bulk/", json=contract_items(1, prefix=f"T{i}"))
            ).status_code
            for i in range(3)
        ]
        sync = await api.post("/api/contracts/", json=contract_items(1, prefix="sync"))

    assert codes == [202, 202, 429]
    assert sync.status_code == 201


async def test_metrics_are_reported_when_enabled(api, contract_items):
    with override_settings(BULK_DRF_ENABLE_METRICS=True):
        sync = await api.post("/api/contracts/", json=contract_items(5, prefix="M"))
        accepted = await api.post("/api/contracts/bulk/", json=contract_items(5, prefix="N"))
        status = await wait_until_ended(api, accepted.json()["status_url"])
    plain = await api.post("/api/contracts/", json=contract_items(5, prefix="P"))

    assert set(sync.json()["metrics"]) == {"duration_ms", "queries", "rows_per_second"}
    assert sync.json()["metrics"]["queries"] >= 2
    assert set(status["metrics"]) == {"elapsed_seconds", "worker_seconds", "rows_per_second"}
    assert "metrics" not in plain.json()
