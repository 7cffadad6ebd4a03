"""Every bulk read and write goes through ``get_queryset()``: on the Owned viewset each user sees
and changes their own rows only (DRF Token auth)."""

import pytest

from tests.testapp.models import Owned

pytestmark = pytest.mark.django_db(transaction=True)

OWNED_URL = "/test-api/owned/"


@pytest.fixture
async def alices_rows(alice):
    """Two rows of Alice's."""
    return [
        await Owned.objects.acreate(owner=alice.user, sku="A-1", quantity=1, note="alice"),
        await Owned.objects.acreate(owner=alice.user, sku="A-2", quantity=2, note="alice"),
    ]


async def owned_rows() -> dict[str, tuple[str, int, str]]:
    """Every stored row, whoever owns it: sku -> (owner, quantity, note)."""
    rows = Owned.objects.select_related("owner").order_by("sku")
    return {row.sku: (row.owner.username, row.quantity, row.note) async for row in rows}


async def test_anonymous_requests_are_refused(api, alices_rows):
    responses = [
        await api.get(OWNED_URL, params={"ids": str(alices_rows[0].pk)}),
        await api.post(OWNED_URL, json=[{"sku": "X"}]),
        await api.patch(OWNED_URL, json=[{"id": alices_rows[0].pk, "quantity": 9}]),
        await api.delete(OWNED_URL, params={"ids": str(alices_rows[0].pk)}),
    ]

    assert [response.status_code in (401, 403) for response in responses] == [True] * 4
    assert await Owned.objects.acount() == 2


async def test_bulk_create_stamps_the_requesting_user(api, alice, bob):
    response = await api.post(
        OWNED_URL, json=[{"sku": "B-1", "quantity": 3}, {"sku": "B-2"}], headers=bob.headers
    )

    assert response.status_code == 201
    assert await owned_rows() == {"B-1": ("bob", 3, ""), "B-2": ("bob", 0, "")}


async def test_standard_create_of_one_object_stamps_the_requesting_user(api, bob):
    response = await api.post(OWNED_URL, json={"sku": "B-1", "quantity": 4}, headers=bob.headers)

    assert response.status_code == 201
    assert (response.json()["sku"], response.json()["quantity"]) == ("B-1", 4)
    assert await owned_rows() == {"B-1": ("bob", 4, "")}


async def test_multi_get_leaves_out_other_users_rows(api, alice, bob, alices_rows):
    bobs_row = await Owned.objects.acreate(owner=bob.user, sku="B-1")
    ids = f"{alices_rows[0].pk},{bobs_row.pk},{alices_rows[1].pk}"

    as_bob = await api.get(OWNED_URL, params={"ids": ids}, headers=bob.headers)
    as_alice = await api.get(OWNED_URL, params={"ids": ids}, headers=alice.headers)

    assert as_bob.status_code == 200
    assert (as_bob.json()["count"], [row["sku"] for row in as_bob.json()["results"]]) == (
        1,
        ["B-1"],
    )
    assert sorted(row["sku"] for row in as_alice.json()["results"]) == ["A-1", "A-2"]


async def test_update_by_id_of_another_users_row_is_not_found(api, bob, alices_rows):
    before = await owned_rows()

    response = await api.patch(
        OWNED_URL, json=[{"id": alices_rows[0].pk, "quantity": 99}], headers=bob.headers
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "errors": {"id": ["Not found."]}}]
    assert await owned_rows() == before


async def test_upsert_on_another_users_key_is_a_per_item_error(api, bob, alices_rows):
    before = await owned_rows()

    response = await api.post(
        f"{OWNED_URL}?unique_fields=sku",
        json=[{"sku": "B-1", "quantity": 1}, {"sku": "A-1", "quantity": 99, "note": "bob"}],
        headers=bob.headers,
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [error["index"] for error in errors] == [1]
    assert list(errors[0]["errors"]) == ["non_field_errors"]
    assert await owned_rows() == before


async def test_delete_skips_other_users_rows(api, alice, bob, alices_rows):
    bobs_row = await Owned.objects.acreate(owner=bob.user, sku="B-1")

    response = await api.delete(
        OWNED_URL,
        params={"ids": f"{alices_rows[0].pk},{bobs_row.pk},{alices_rows[1].pk}"},
        headers=bob.headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["deleted_count"], body["deleted_ids"]) == (1, [bobs_row.pk])
    assert sorted(await owned_rows()) == ["A-1", "A-2"]


async def test_users_change_their_own_rows(api, alice, bob, alices_rows):
    update = await api.patch(
        OWNED_URL, json=[{"id": alices_rows[0].pk, "quantity": 10}], headers=alice.headers
    )
    upsert = await api.post(
        f"{OWNED_URL}?unique_fields=sku",
        json=[{"sku": "A-2", "note": "upserted"}, {"sku": "A-3", "quantity": 3}],
        headers=alice.headers,
    )

    assert update.status_code == 200
    assert update.json()["updated_ids"] == [alices_rows[0].pk]
    assert upsert.status_code == 200
    assert (upsert.json()["updated_ids"], upsert.json()["created_count"]) == (
        [alices_rows[1].pk],
        1,
    )
    assert await owned_rows() == {
        "A-1": ("alice", 10, "alice"),
        "A-2": ("alice", 2, "upserted"),
        "A-3": ("alice", 3, ""),
    }
