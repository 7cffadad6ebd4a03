"""POST on the list: an object is DRF's standard create, an array (JSON or CSV) a bulk create."""

import pytest

from asgi_demo.contracts.models import Contract
from tests.conftest import CONTRACTS_URL, answer_part, contract_item

pytestmark = pytest.mark.django_db(transaction=True)


async def test_post_object_is_the_standard_create(api, read_contracts):
    response = await api.post(CONTRACTS_URL, json=contract_item("A1", amount="12.50"))

    assert response.status_code == 201
    body = response.json()
    assert "is_sync" not in body
    stored = (await read_contracts())["A1"]
    assert body["id"] == stored.pk
    assert body["contract_number"] == "A1"
    assert body["amount"] == "12.50"
    assert body["status"] == "active"


async def test_post_array_creates_every_item_and_answers_their_ids(
    api, contract_items, read_contracts
):
    response = await api.post(CONTRACTS_URL, json=contract_items(3, prefix="N"))

    assert response.status_code == 201
    body = response.json()
    stored = await read_contracts()
    expected = {
        "message": "Bulk create completed successfully",
        "total_items": 3,
        "created_count": 3,
        "created_ids": sorted([stored["N0"].pk, stored["N1"].pk, stored["N2"].pk]),
        "is_sync": True,
    }
    assert answer_part(body, expected) == expected
    assert list(body)[: len(expected)] == list(expected)


async def test_bulk_create_fills_model_defaults_and_timestamps(api, read_contracts):
    payload = [contract_item("D0"), contract_item("D1", status="closed")]

    response = await api.post(CONTRACTS_URL, json=payload)

    assert response.status_code == 201
    stored = await read_contracts()
    assert stored["D0"].status == "active"
    assert stored["D1"].status == "closed"
    assert all(row.created_at is not None and row.updated_at is not None for row in stored.values())


async def test_csv_body_creates_one_row_per_line(api, read_contracts):
    csv_body = (
        "contract_number,year,amount,customer,status\n"
        "CSV1,2024,10.00,Acme,closed\n"
        "CSV2,2025,20.50,Beta,\n"
    )

    response = await api.post(
        CONTRACTS_URL, content=csv_body.encode(), headers={"Content-Type": "text/csv"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["created_count"] == 2
    stored = await read_contracts()
    assert sorted(body["created_ids"]) == sorted([stored["CSV1"].pk, stored["CSV2"].pk])
    assert (stored["CSV1"].year, str(stored["CSV1"].amount), stored["CSV1"].status) == (
        2024,
        "10.00",
        "closed",
    )
    # An empty cell is an omitted field: the model default applies.
    assert (stored["CSV2"].year, str(stored["CSV2"].amount), stored["CSV2"].status) == (
        2025,
        "20.50",
        "active",
    )


async def test_bulk_create_of_an_existing_key_is_a_per_item_error(
    api, saved_contracts, contract_items
):
    await saved_contracts(1, prefix="E")
    payload = [contract_item("NEW"), contract_item("E0")]

    response = await api.post(CONTRACTS_URL, json=payload)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 1,
            "errors": {
                "non_field_errors": ["The fields contract_number, year must make a unique set."]
            },
        }
    ]
    assert await Contract.objects.acount() == 1
