"""Fifty clients upserting overlapping keys in random orders, at once, on the sync and /bulk/
endpoints: rows are written in key order, so nobody deadlocks, nobody gets an error, and every row
ends in the state one of the clients wrote (never a mix of two)."""

import asyncio
import random

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from asgi_demo.contracts.models import Contract
from tests.fixtures.operations import wait_until_ended

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_settled"),
    pytest.mark.timeout(300),
    pytest.mark.slow,
]

CLIENTS = 50
KEYS = 60
UPSERT = "?unique_fields=contract_number,year"
ENDPOINTS = [
    ("POST", f"/api/contracts/{UPSERT}"),
    ("PUT", f"/api/contracts/{UPSERT}"),
    ("POST", f"/api/contracts/bulk/{UPSERT}"),
    ("PATCH", f"/api/contracts/bulk/{UPSERT}"),
]


def client_state(client: int) -> dict[str, str]:
    """What one client writes on every row it touches: recognisable as a whole."""
    return {"customer": f"client {client}", "amount": f"{client}.00", "status": f"s{client}"}


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


async def test_fifty_concurrent_upserting_clients_never_deadlock_and_leave_whole_rows(
    api, celery_worker_settled
):
    rng = random.Random(20261128)
    deadlocks_before = await sync_to_async(deadlocks)()
    worker_log_start = celery_worker_settled.log_path.stat().st_size
    touched: dict[int, set[str]] = {}
    requests = []
    for client in range(CLIENTS):
        keys = rng.sample(range(KEYS), rng.randint(25, 45))  # a random subset, in random order
        touched[client] = {f"K{key}" for key in keys}
        items = [
            {"contract_number": f"K{key}", "year": 2024, **client_state(client)} for key in keys
        ]
        method, url = ENDPOINTS[client % len(ENDPOINTS)]
        requests.append(api.request(method, url, json=items))

    answers = await asyncio.gather(*requests)

    codes = [answer.status_code for answer in answers]
    refused = [(code, answer.text[:300]) for code, answer in zip(codes, answers, strict=True)]
    assert set(codes) <= {200, 202}, [(code, text) for code, text in refused if code >= 300]
    ended = await asyncio.gather(
        *[
            wait_until_ended(api, answer.json()["status_url"], timeout=90)
            for answer in answers
            if answer.status_code == 202
        ]
    )
    assert [(status["status"], status["error_count"]) for status in ended] == [
        ("completed", 0)
    ] * len(ended)
    rows = [row async for row in Contract.objects.all()]
    assert sorted(row.contract_number for row in rows) == sorted(set().union(*touched.values()))
    for row in rows:
        writers = [client for client, keys in touched.items() if row.contract_number in keys]
        states = [client_state(client) for client in writers]
        assert {
            "customer": row.customer,
            "amount": f"{row.amount:.2f}",
            "status": row.status,
        } in states, row.contract_number
    # PostgreSQL resolves a deadlock by failing one transaction: none happened. A sync request
    # would have answered an error; a chunk would have been retried, and the worker says why.
    # (PostgreSQL's statistics are flushed lazily, seconds later: they only add a witness.)
    with open(celery_worker_settled.log_path, "rb") as log:
        log.seek(worker_log_start)
        assert b"deadlock detected" not in log.read()
    assert await sync_to_async(deadlocks)() == deadlocks_before
