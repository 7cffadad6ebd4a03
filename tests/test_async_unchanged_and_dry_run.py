"""``/bulk/`` imports by a real Celery worker: a nightly re-import of the same rows writes nothing,
and a dry run reports exactly what the real run then does, leaving the table as it was."""

from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from asgi_demo.contracts.models import Contract
from tests.conftest import contract_item
from tests.fixtures.operations import run_bulk

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_settled"),
]

BULK_UPSERT_URL = "/api/contracts/bulk/?unique_fields=contract_number,year"


async def table() -> list[tuple]:
    """Every column of every row, as the database holds them."""
    columns = [f.attname for f in Contract._meta.concrete_fields]
    return await sync_to_async(list)(Contract.objects.order_by("pk").values_list(*columns))


async def read_list(api, operation_id: str, kind: str) -> list[Any]:
    """Every value of one of the operation's lists, page after page."""
    url = f"/api/operations/{operation_id}/results/?kind={kind}&limit=10000"
    values: list[Any] = []
    while url:
        response = await api.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        values += page["results"]
        url = page["next"]
    return values


def store_rows(count: int) -> None:
    Contract.objects.bulk_create(
        Contract(
            contract_number=f"R{i}", year=2024, amount=Decimal("10.00"), customer=f"Customer R{i}"
        )
        for i in range(count)
    )


async def test_a_dry_run_of_10000_mixed_rows_reports_what_the_real_run_does(api):
    await sync_to_async(store_rows)(6000)
    items = [contract_item(f"R{i}", amount="10.00") for i in range(3000)]  # unchanged
    items += [contract_item(f"R{i}", amount="11.00") for i in range(3000, 6000)]  # updated
    items += [contract_item(f"N{i}") for i in range(3990)]  # created
    items += [contract_item(f"X{i}", amount="not a number") for i in range(10)]  # refused
    items[10], items[-20] = items[-20], items[10]  # refusals and creations among the others
    before = await table()

    accepted, dry = await run_bulk(api, "POST", f"{BULK_UPSERT_URL}&dry_run=true", json=items)

    assert accepted.json()["dry_run"] is True
    assert dry["status"] == "completed"
    assert (dry["dry_run"], dry["skip_unchanged"]) == (True, True)
    assert await table() == before

    _, real = await run_bulk(api, "POST", BULK_UPSERT_URL, json=items)

    assert real["status"] == "completed"
    assert "dry_run" not in real
    counts = ("created_count", "updated_count", "unchanged_count", "error_count")
    assert [dry[name] for name in counts] == [real[name] for name in counts]
    assert [real[name] for name in counts] == [3990, 3000, 3000, 10]
    for kind in ("updated", "unchanged", "errors"):
        assert await read_list(api, dry["task_id"], kind) == await read_list(
            api, real["task_id"], kind
        )
    # Rows a dry run would create have no id yet: their list holds the items' indices.
    would_create = await read_list(api, dry["task_id"], "created")
    created = await read_list(api, real["task_id"], "created")
    assert len(would_create) == len(created) == 3990
    numbers = dict(await sync_to_async(list)(Contract.objects.values_list("pk", "contract_number")))
    assert sorted(numbers[pk] for pk in created) == sorted(
        items[index]["contract_number"] for index in would_create
    )


async def test_a_reimport_of_the_same_10000_rows_writes_nothing_but_the_changed_ones(api):
    items = [contract_item(f"R{i}") for i in range(10_000)]
    _, first = await run_bulk(api, "POST", BULK_UPSERT_URL, json=items)
    assert first["created_count"] == 10_000
    stamps = dict(await sync_to_async(list)(Contract.objects.values_list("pk", "updated_at")))

    _, again = await run_bulk(api, "POST", BULK_UPSERT_URL, json=items)

    assert (again["updated_count"], again["unchanged_count"], again["created_count"]) == (
        0,
        10_000,
        0,
    )
    assert sorted(await read_list(api, again["task_id"], "unchanged")) == sorted(stamps)
    assert dict(await sync_to_async(list)(Contract.objects.values_list("pk", "updated_at"))) == (
        stamps
    )

    for index in range(0, 10_000, 1000):
        items[index]["customer"] = "Changed"
    _, changed = await run_bulk(api, "PUT", BULK_UPSERT_URL, json=items)

    assert (changed["updated_count"], changed["unchanged_count"]) == (10, 9_990)
    updated = set(await read_list(api, changed["task_id"], "updated"))
    expected = set(
        await sync_to_async(list)(
            Contract.objects.filter(customer="Changed").values_list("pk", flat=True)
        )
    )
    assert updated == expected and len(updated) == 10
    after = dict(await sync_to_async(list)(Contract.objects.values_list("pk", "updated_at")))
    assert {pk for pk, stamp in after.items() if stamp != stamps[pk]} == updated


async def test_a_dry_run_does_not_use_up_the_idempotency_key_of_the_real_run(api):
    items = [contract_item(f"K{i}") for i in range(20)]
    headers = {"Idempotency-Key": "nightly-2026-12-06"}

    dry, _ = await run_bulk(
        api, "POST", f"{BULK_UPSERT_URL}&dry_run=true", json=items, headers=headers
    )
    real, status = await run_bulk(api, "POST", BULK_UPSERT_URL, json=items, headers=headers)
    replay = await api.post(BULK_UPSERT_URL, json=items, headers=headers)

    assert real.json()["task_id"] != dry.json()["task_id"]
    assert status["created_count"] == 20
    assert replay.json()["task_id"] == real.json()["task_id"]
    assert await Contract.objects.acount() == 20
