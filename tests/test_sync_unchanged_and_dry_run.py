"""Sync writes leave rows equal to their item alone, and ``?dry_run=true`` reports what a real run
does without writing: on PostgreSQL and on SQLite (the embedded mode's database)."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from asgi_demo.contracts.models import Contract
from tests.conftest import UPSERT_URL, contract_item

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "embedded"])

EMBEDDED_URL = "/test-api/embedded-contracts/"
URLS = {"default": "/api/contracts/", "embedded": EMBEDDED_URL}


def upsert_url(using: str, **query: str) -> str:
    extra = "".join(f"&{name}={value}" for name, value in query.items())
    return f"{URLS[using]}?unique_fields=contract_number,year{extra}"


async def table(using: str = "default") -> list[tuple]:
    """Every column of every row, as the database holds them."""
    columns = [f.attname for f in Contract._meta.concrete_fields]
    rows = Contract.objects.using(using).order_by("pk").values_list(*columns)
    return await sync_to_async(list)(rows)


@pytest.mark.parametrize("using", ["default", "embedded"])
async def test_an_upsert_of_the_stored_values_writes_nothing(api, saved_contracts, using):
    rows = await saved_contracts(3, using=using)
    payload = [contract_item(f"E{i}", amount="10.00", customer=f"Stored E{i}") for i in range(3)]
    before = await table(using)

    response = await api.post(upsert_url(using), json=payload)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created_count"], body["updated_count"], body["unchanged_count"]) == (0, 0, 3)
    assert body["unchanged_ids"] == [row.pk for row in rows]
    assert body["skip_unchanged"] is True
    assert await table(using) == before


@pytest.mark.parametrize("using", ["default", "embedded"])
async def test_only_the_rows_that_differ_are_written(api, saved_contracts, read_contracts, using):
    rows = await saved_contracts(4, using=using)
    before = {row.contract_number: row.updated_at for row in rows}
    payload = [
        contract_item("E0", amount="10.00", customer="Stored E0"),
        contract_item("E1", amount="10.50", customer="Stored E1"),
        contract_item("E2", amount="10.0", customer="Stored E2"),  # equal as a decimal
        contract_item("N0"),
    ]

    response = await api.patch(upsert_url(using), json=payload)

    body = response.json()
    stored = await read_contracts(using=using)
    assert body["created_ids"] == [stored["N0"].pk]
    assert body["updated_ids"] == [rows[1].pk]
    assert sorted(body["unchanged_ids"]) == [rows[0].pk, rows[2].pk]
    assert stored["E1"].amount == Decimal("10.50")
    assert stored["E1"].updated_at > before["E1"]
    assert [stored[n].updated_at for n in ("E0", "E2", "E3")] == [
        before[n] for n in ("E0", "E2", "E3")
    ]


@pytest.mark.parametrize("using", ["default", "embedded"])
async def test_an_update_by_id_of_the_stored_values_writes_nothing(
    api, saved_contracts, read_contracts, using
):
    rows = await saved_contracts(2, using=using)

    response = await api.patch(
        URLS[using],
        json=[{"id": rows[0].pk, "customer": "Stored E0"}, {"id": rows[1].pk, "customer": "New"}],
    )

    body = response.json()
    assert (body["updated_ids"], body["unchanged_ids"]) == ([rows[1].pk], [rows[0].pk])
    stored = await read_contracts(using=using)
    assert stored["E0"].updated_at == rows[0].updated_at
    assert stored["E1"].customer == "New"


@pytest.mark.parametrize("using", ["default", "embedded"])
async def test_the_setting_turns_it_off_and_the_answer_says_so(api, saved_contracts, using):
    rows = await saved_contracts(1, using=using)

    with override_settings(BULK_DRF_SKIP_UNCHANGED=False):
        response = await api.post(
            upsert_url(using), json=[contract_item("E0", amount="10.00", customer="Stored E0")]
        )

    body = response.json()
    assert (body["updated_ids"], body["skip_unchanged"]) == ([rows[0].pk], False)
    assert "unchanged_ids" not in body
    stored = await Contract.objects.using(using).aget(pk=rows[0].pk)
    assert stored.updated_at > rows[0].updated_at


async def test_a_dry_run_of_50_rows_reports_what_the_real_run_does(api, saved_contracts):
    rows = await saved_contracts(30)
    payload = [contract_item(f"E{i}", amount="10.00", customer=f"Stored E{i}") for i in range(10)]
    payload += [contract_item(f"E{i}", amount="12.00") for i in range(10, 30)]
    payload += [contract_item(f"N{i}") for i in range(20)]
    before = await table()

    dry = await api.post(f"{UPSERT_URL}&dry_run=true", json=payload)

    assert dry.status_code == 200, dry.text
    assert await table() == before
    rehearsed = dry.json()
    assert rehearsed["dry_run"] is True
    assert rehearsed["created_ids"] == []
    assert rehearsed["created_indices"] == list(range(30, 50))
    assert rehearsed["updated_indices"] == list(range(10, 30))
    assert rehearsed["unchanged_indices"] == list(range(10))

    real = (await api.post(UPSERT_URL, json=payload)).json()

    for name in ("created", "updated", "unchanged"):
        assert rehearsed[f"{name}_count"] == real[f"{name}_count"]
    assert sorted(rehearsed["updated_ids"]) == sorted(real["updated_ids"])
    assert sorted(rehearsed["unchanged_ids"]) == sorted(real["unchanged_ids"])
    assert sorted(real["unchanged_ids"]) == [row.pk for row in rows[:10]]
    assert await Contract.objects.acount() == 50


@pytest.mark.parametrize("using", ["default", "embedded"])
async def test_dry_runs_of_create_update_and_delete_write_nothing(api, saved_contracts, using):
    rows = await saved_contracts(3, using=using)
    before = await table(using)
    url = URLS[using]

    created = await api.post(f"{url}?dry_run=true", json=[contract_item("N0")])
    updated = await api.put(
        f"{url}?dry_run=1",
        json=[{"id": rows[0].pk, **contract_item("E0", customer="Renamed")}],
    )
    deleted = await api.delete(f"{url}?ids={rows[1].pk},{rows[2].pk}&dry_run=true")

    assert (created.status_code, created.json()["created_count"]) == (201, 1)
    assert created.json()["created_indices"] == [0]
    assert (updated.json()["updated_ids"], updated.json()["updated_indices"]) == ([rows[0].pk], [0])
    assert deleted.json()["deleted_ids"] == [rows[1].pk, rows[2].pk]
    assert deleted.json()["dry_run"] is True
    assert await table(using) == before


async def test_a_dry_run_refuses_what_the_real_run_refuses(api, saved_contracts):
    await saved_contracts(1)
    payload = [contract_item("E0", amount="nope"), contract_item("N0")]

    dry = await api.post(f"{UPSERT_URL}&dry_run=true", json=payload)
    real = await api.post(UPSERT_URL, json=payload)

    assert dry.status_code == real.status_code == 400
    assert dry.json() == real.json()


async def test_a_dry_run_flag_that_is_not_a_boolean_is_a_400(api):
    response = await api.post("/api/contracts/?dry_run=maybe", json=[contract_item("N0")])

    assert response.status_code == 400
    assert "dry_run" in response.json()["error"]
    assert await Contract.objects.acount() == 0


async def test_a_dry_run_of_one_object_is_a_one_item_bulk_dry_run(api):
    response = await api.post("/api/contracts/?dry_run=true", json=contract_item("N0"))

    assert response.status_code == 201
    assert (response.json()["created_indices"], response.json()["dry_run"]) == ([0], True)
    assert await Contract.objects.acount() == 0
