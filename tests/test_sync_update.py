"""PATCH (partial update) and PUT (replace) on the list, each item naming its row by ``id``."""

import pytest

from tests.conftest import CONTRACTS_URL, answer_part, contract_item
from tests.testapp.models import Author, Book
from tests.testapp.views import UpdateHookContractViewSet

pytestmark = pytest.mark.django_db(transaction=True)


async def test_patch_array_updates_rows_by_id(api, saved_contracts, read_contracts):
    first, second = await saved_contracts(2)

    response = await api.patch(
        CONTRACTS_URL,
        json=[{"id": second.pk, "amount": "20.00"}, {"id": first.pk, "amount": "30.00"}],
    )

    assert response.status_code == 200
    expected = {
        "message": "Bulk update completed successfully",
        "total_items": 2,
        "updated_count": 2,
        "updated_ids": sorted([second.pk, first.pk]),
        "is_sync": True,
    }
    body = response.json()
    assert answer_part(body, expected) == expected
    assert list(body)[: len(expected)] == list(expected)
    stored = await read_contracts()
    assert (str(stored["E0"].amount), str(stored["E1"].amount)) == ("30.00", "20.00")


async def test_patch_with_mixed_key_sets_touches_only_the_given_fields(
    api, saved_contracts, read_contracts
):
    first, second = await saved_contracts(2, status="pending")
    before = await read_contracts()

    response = await api.patch(
        CONTRACTS_URL,
        json=[{"id": first.pk, "amount": "99.99"}, {"id": second.pk, "customer": "Renamed"}],
    )

    assert response.status_code == 200
    assert sorted(response.json()["updated_ids"]) == sorted([first.pk, second.pk])
    after = await read_contracts()
    e0, e1 = after["E0"], after["E1"]
    assert (str(e0.amount), e0.customer, e0.status, e0.year) == (
        "99.99",
        "Stored E0",
        "pending",
        2024,
    )
    assert (str(e1.amount), e1.customer, e1.status, e1.year) == (
        "10.00",
        "Renamed",
        "pending",
        2024,
    )
    for number in ("E0", "E1"):
        assert after[number].updated_at > before[number].updated_at
        assert after[number].created_at == before[number].created_at


async def test_put_array_replaces_rows_by_id(api, saved_contracts, read_contracts):
    first, second = await saved_contracts(2)
    payload = [
        {"id": first.pk, **contract_item("R0", year=2030, amount="1.00", customer="One")},
        {"id": second.pk, **contract_item("R1", amount="2.00", customer="Two", status="closed")},
    ]

    response = await api.put(CONTRACTS_URL, json=payload)

    assert response.status_code == 200
    expected = {
        "message": "Bulk update completed successfully",
        "total_items": 2,
        "updated_count": 2,
        "updated_ids": sorted([first.pk, second.pk]),
        "is_sync": True,
    }
    assert answer_part(response.json(), expected) == expected
    stored = await read_contracts()
    assert sorted(stored) == ["R0", "R1"]
    assert (stored["R0"].pk, stored["R0"].year, str(stored["R0"].amount)) == (
        first.pk,
        2030,
        "1.00",
    )
    assert (stored["R1"].pk, stored["R1"].customer, stored["R1"].status) == (
        second.pk,
        "Two",
        "closed",
    )


async def test_put_writes_every_field_sent_and_keeps_an_optional_field_left_out(
    api, saved_contracts, read_contracts
):
    first, second = await saved_contracts(2, status="closed")

    response = await api.put(
        CONTRACTS_URL,
        json=[
            {"id": first.pk, **contract_item("R0", amount="1.00", status="active")},
            {"id": second.pk, **contract_item("R1", amount="2.00", customer="Two")},
        ],
    )

    assert response.status_code == 200
    stored = await read_contracts()
    assert (str(stored["R0"].amount), stored["R0"].customer, stored["R0"].status) == (
        "1.00",
        "Customer R0",
        "active",
    )
    # As on DRF's detail PUT, an optional field the item leaves out keeps its value.
    assert (str(stored["R1"].amount), stored["R1"].customer, stored["R1"].status) == (
        "2.00",
        "Two",
        "closed",
    )


@pytest.mark.parametrize(("method", "partial"), [("PATCH", True), ("PUT", False)])
async def test_update_hook_is_told_whether_the_update_is_partial(
    api, saved_contracts, method, partial
):
    (stored,) = await saved_contracts(1)
    UpdateHookContractViewSet.update_partials.clear()

    response = await api.request(
        method, "/test-api/hooked-contracts/", json=[{"id": stored.pk, **contract_item("E0")}]
    )

    assert response.status_code == 200
    assert UpdateHookContractViewSet.update_partials == [partial]


async def test_put_array_item_missing_a_required_field_is_refused(
    api, saved_contracts, read_contracts
):
    first, second = await saved_contracts(2)

    response = await api.put(
        CONTRACTS_URL,
        json=[
            {"id": first.pk, **contract_item("E0", amount="5.00")},
            {"id": second.pk, "amount": "6.00"},
        ],
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 1,
            "errors": {
                "contract_number": ["This field is required."],
                "year": ["This field is required."],
                "customer": ["This field is required."],
            },
        }
    ]
    stored = await read_contracts()
    assert (str(stored["E0"].amount), str(stored["E1"].amount)) == ("10.00", "10.00")


async def test_update_of_a_row_that_does_not_exist_is_a_per_item_not_found(
    api, saved_contracts, read_contracts
):
    (stored,) = await saved_contracts(1)

    response = await api.patch(
        CONTRACTS_URL,
        json=[{"id": stored.pk, "amount": "1.00"}, {"id": 987_654_321, "amount": "2.00"}],
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "Validation failed",
        "total_items": 2,
        "error_count": 1,
        "errors": [{"index": 1, "errors": {"id": ["Not found."]}}],
    }
    assert str((await read_contracts())["E0"].amount) == "10.00"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_update_item_without_an_id_is_refused(api, saved_contracts, method):
    await saved_contracts(1)

    response = await api.request(method, CONTRACTS_URL, json=[contract_item("E0")])

    assert response.status_code == 400
    assert list(response.json()["errors"][0]["errors"]) == ["id"]


async def test_update_item_with_an_id_that_is_not_an_integer_is_refused(api, saved_contracts):
    await saved_contracts(1)

    response = await api.patch(CONTRACTS_URL, json=[{"id": "abc", "amount": "1.00"}])

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [error["index"] for error in errors] == [0]
    assert list(errors[0]["errors"]) == ["id"]


async def test_update_onto_the_key_of_another_row_is_a_per_item_error(
    api, saved_contracts, read_contracts
):
    first, _ = await saved_contracts(2)

    response = await api.patch(CONTRACTS_URL, json=[{"id": first.pk, "contract_number": "E1"}])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 0,
            "errors": {
                "non_field_errors": ["The fields contract_number, year must make a unique set."]
            },
        }
    ]
    assert sorted(await read_contracts()) == ["E0", "E1"]


async def test_update_keeps_a_row_own_unique_value_and_checks_others(api):
    author = await Author.objects.acreate(name="Ann")
    first = await Book.objects.acreate(title="First", isbn="111", author=author)
    second = await Book.objects.acreate(title="Second", isbn="222", author=author)

    same_isbn = await api.patch(
        "/test-api/books/", json=[{"id": first.pk, "isbn": "111", "title": "Kept"}]
    )
    taken_isbn = await api.patch("/test-api/books/", json=[{"id": second.pk, "isbn": "111"}])

    assert same_isbn.status_code == 200
    assert taken_isbn.status_code == 400
    assert taken_isbn.json()["errors"] == [
        {"index": 0, "errors": {"isbn": ["book with this isbn already exists."]}}
    ]
    books = {book.pk: (book.isbn, book.title) async for book in Book.objects.all()}
    assert books == {first.pk: ("111", "Kept"), second.pk: ("222", "Second")}
