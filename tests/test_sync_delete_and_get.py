"""GET ?ids= (multi-get), DELETE on the list (bulk delete), and the detail routes left standard."""

import pytest

from asgi_demo.contracts.models import Contract
from tests.conftest import CONTRACTS_URL, answer_part, contract_item

pytestmark = pytest.mark.django_db(transaction=True)

MISSING_ID = 987_654_321


# -- multi-get ------------------------------------------------------------------------------------


async def test_multi_get_answers_the_rows_asked_for(api, saved_contracts):
    first, _, third = await saved_contracts(3)

    response = await api.get(CONTRACTS_URL, params={"ids": f"{first.pk},{third.pk}"})

    assert response.status_code == 200
    body = response.json()
    assert list(body)[:3] == ["count", "results", "is_sync"]
    assert body["count"] == 2
    assert body["is_sync"] is True
    assert sorted(row["id"] for row in body["results"]) == [first.pk, third.pk]
    row = next(row for row in body["results"] if row["id"] == first.pk)
    assert (row["contract_number"], row["amount"], row["status"]) == ("E0", "10.00", "active")


async def test_multi_get_leaves_out_ids_that_do_not_exist(api, saved_contracts):
    (stored,) = await saved_contracts(1)

    response = await api.get(CONTRACTS_URL, params={"ids": f"{stored.pk},{MISSING_ID}"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [row["id"] for row in body["results"]] == [stored.pk]


async def test_list_without_ids_is_the_standard_paginated_list(api, saved_contracts):
    await saved_contracts(2)

    response = await api.get(CONTRACTS_URL)

    assert response.status_code == 200
    assert response.json()["next"] is None
    assert [row["contract_number"] for row in response.json()["results"]] == ["E1", "E0"]


@pytest.mark.parametrize("ids", ["1,abc", "1.5", "true", ",", ""])
async def test_multi_get_with_ids_that_are_not_integers_is_a_400(api, ids):
    response = await api.get(CONTRACTS_URL, params={"ids": ids})

    assert response.status_code == 400
    assert "error" in response.json()


# -- bulk delete ----------------------------------------------------------------------------------


async def test_delete_with_ids_in_the_query_deletes_those_rows(api, saved_contracts):
    first, second, kept = await saved_contracts(3)

    response = await api.delete(CONTRACTS_URL, params={"ids": f"{first.pk},{second.pk}"})

    assert response.status_code == 200
    expected = {
        "message": "Bulk delete completed successfully",
        "total_items": 2,
        "deleted_count": 2,
        "deleted_ids": sorted([first.pk, second.pk]),
        "is_sync": True,
    }
    assert answer_part(response.json(), expected) == expected
    assert [pk async for pk in Contract.objects.values_list("pk", flat=True)] == [kept.pk]


async def test_delete_with_an_array_of_ids_deletes_those_rows(api, saved_contracts):
    first, kept, third = await saved_contracts(3)

    response = await api.request("DELETE", CONTRACTS_URL, json=[third.pk, first.pk])

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Bulk delete completed successfully"
    assert (body["total_items"], body["deleted_count"]) == (2, 2)
    assert sorted(body["deleted_ids"]) == sorted([first.pk, third.pk])
    assert [pk async for pk in Contract.objects.values_list("pk", flat=True)] == [kept.pk]


async def test_delete_accepts_an_array_of_objects_carrying_the_id(api, saved_contracts):
    first, kept = await saved_contracts(2)

    response = await api.request("DELETE", CONTRACTS_URL, json=[{"id": first.pk}])

    assert response.status_code == 200
    assert response.json()["deleted_ids"] == [first.pk]
    assert [pk async for pk in Contract.objects.values_list("pk", flat=True)] == [kept.pk]


async def test_delete_reports_only_the_rows_it_deleted(api, saved_contracts):
    (stored,) = await saved_contracts(1)

    response = await api.delete(CONTRACTS_URL, params={"ids": f"{stored.pk},{MISSING_ID}"})

    assert response.status_code == 200
    body = response.json()
    assert (body["total_items"], body["deleted_count"], body["deleted_ids"]) == (2, 1, [stored.pk])


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {},
        {"json": []},
        {"params": {"ids": ""}},
        {"params": {"ids": ",,"}},
        {"json": {}},
    ],
    ids=["no-body", "empty-array", "empty-ids", "only-commas", "empty-object"],
)
async def test_delete_without_ids_is_a_400_and_deletes_nothing(
    api, saved_contracts, request_kwargs
):
    await saved_contracts(3)

    response = await api.request("DELETE", CONTRACTS_URL, **request_kwargs)

    assert response.status_code == 400
    assert "error" in response.json()
    assert await Contract.objects.acount() == 3


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"params": {"ids": "1,abc"}},
        {"json": ["abc"]},
        {"json": [1.5]},
        {"json": [True]},
        {"json": [[1]]},
        {"json": [None]},
        {"json": "1,2"},
        {"json": 7},
    ],
    ids=["query-word", "word", "float", "boolean", "nested-array", "null", "string", "number"],
)
async def test_delete_with_ids_that_are_not_integers_is_a_400_and_deletes_nothing(
    api, saved_contracts, request_kwargs
):
    await saved_contracts(2)

    response = await api.request("DELETE", CONTRACTS_URL, **request_kwargs)

    assert response.status_code == 400
    assert "error" in response.json()
    assert await Contract.objects.acount() == 2


# -- detail routes --------------------------------------------------------------------------------


async def test_detail_get_answers_the_standard_representation(api, saved_contracts):
    (stored,) = await saved_contracts(1)

    response = await api.get(f"{CONTRACTS_URL}{stored.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["contract_number"], body["year"]) == (stored.pk, "E0", 2024)
    assert "is_sync" not in body


async def test_detail_get_of_a_missing_row_is_a_404(api):
    response = await api.get(f"{CONTRACTS_URL}{MISSING_ID}/")

    assert response.status_code == 404


async def test_detail_put_replaces_the_row(api, saved_contracts, read_contracts):
    (stored,) = await saved_contracts(1)

    response = await api.put(
        f"{CONTRACTS_URL}{stored.pk}/", json=contract_item("E0", amount="77.00", customer="New")
    )

    assert response.status_code == 200
    assert response.json()["amount"] == "77.00"
    row = (await read_contracts())["E0"]
    assert (str(row.amount), row.customer) == ("77.00", "New")


async def test_detail_patch_changes_only_the_given_fields(api, saved_contracts, read_contracts):
    (stored,) = await saved_contracts(1)

    response = await api.patch(f"{CONTRACTS_URL}{stored.pk}/", json={"customer": "Patched"})

    assert response.status_code == 200
    row = (await read_contracts())["E0"]
    assert (str(row.amount), row.customer) == ("10.00", "Patched")


async def test_detail_delete_removes_the_row(api, saved_contracts):
    first, kept = await saved_contracts(2)

    response = await api.delete(f"{CONTRACTS_URL}{first.pk}/")

    assert response.status_code == 204
    assert [pk async for pk in Contract.objects.values_list("pk", flat=True)] == [kept.pk]
