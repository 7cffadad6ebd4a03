"""Sync upsert: POST or PATCH (partial) and PUT (full) on the list with ``?unique_fields=``."""

import pytest

from asgi_demo.contracts.models import Contract
from tests.conftest import UPSERT_URL, answer_part, contract_item
from tests.testapp.models import Author, Book, Owned

pytestmark = pytest.mark.django_db(transaction=True)


async def test_upsert_reports_exact_created_and_updated_ids(api, saved_contracts, read_contracts):
    existing = await saved_contracts(2, prefix="E")
    payload = [
        contract_item("NEW0"),
        contract_item("E1", amount="11.00"),
        contract_item("NEW1"),
        contract_item("E0", amount="10.50"),
    ]

    response = await api.post(UPSERT_URL, json=payload)

    assert response.status_code == 200
    stored = await read_contracts()
    expected = {
        "message": "Upsert completed successfully",
        "total_items": 4,
        "created_count": 2,
        "updated_count": 2,
        "created_ids": sorted([stored["NEW0"].pk, stored["NEW1"].pk]),
        "updated_ids": sorted([existing[1].pk, existing[0].pk]),
        "is_sync": True,
    }
    body = response.json()
    assert answer_part(body, expected) == expected
    assert list(body)[: len(expected)] == list(expected)
    assert len(stored) == 4
    assert (str(stored["E0"].amount), str(stored["E1"].amount)) == ("10.50", "11.00")


async def test_upsert_accepts_the_conflict_target_in_any_order(api, saved_contracts):
    (existing,) = await saved_contracts(1, prefix="E")

    response = await api.post(
        "/api/contracts/?unique_fields=year,contract_number",
        json=[contract_item("E0", amount="1.00")],
    )

    assert response.status_code == 200
    assert response.json()["updated_ids"] == [existing.pk]


async def test_partial_upsert_with_mixed_key_sets_touches_only_the_given_fields(
    api, saved_contracts, read_contracts
):
    await saved_contracts(2, prefix="E", status="pending")
    before = await read_contracts()
    payload = [
        {"contract_number": "E0", "year": 2024, "amount": "99.99"},
        {"contract_number": "E1", "year": 2024, "customer": "Renamed"},
        {"contract_number": "N0", "year": 2024, "amount": "5.00", "customer": "Newcomer"},
    ]

    response = await api.post(UPSERT_URL, json=payload)

    assert response.status_code == 200
    after = await read_contracts()
    e0, e1, new = after["E0"], after["E1"], after["N0"]
    assert (str(e0.amount), e0.customer, e0.status) == ("99.99", "Stored E0", "pending")
    assert (str(e1.amount), e1.customer, e1.status) == ("10.00", "Renamed", "pending")
    for number in ("E0", "E1"):
        assert after[number].updated_at > before[number].updated_at
        assert after[number].created_at == before[number].created_at
    assert (str(new.amount), new.customer, new.status) == ("5.00", "Newcomer", "active")
    assert new.created_at is not None and new.updated_at is not None


async def test_csv_upsert_leaves_the_columns_of_empty_cells_untouched(
    api, saved_contracts, read_contracts
):
    await saved_contracts(2, prefix="E")
    csv_body = (
        "contract_number,year,amount,customer\n"
        "E0,2024,42.00,\n"
        "E1,2024,,Renamed\n"
        "N0,2024,7.00,Newcomer\n"
    )

    response = await api.post(
        UPSERT_URL, content=csv_body.encode(), headers={"Content-Type": "text/csv"}
    )

    assert response.status_code == 200
    assert (response.json()["created_count"], response.json()["updated_count"]) == (1, 2)
    stored = await read_contracts()
    assert (str(stored["E0"].amount), stored["E0"].customer) == ("42.00", "Stored E0")
    assert (str(stored["E1"].amount), stored["E1"].customer) == ("10.00", "Renamed")
    assert (str(stored["N0"].amount), stored["N0"].status) == ("7.00", "active")


async def test_patch_with_unique_fields_is_a_partial_upsert(api, saved_contracts, read_contracts):
    (existing,) = await saved_contracts(1, prefix="E")

    response = await api.patch(
        UPSERT_URL,
        json=[{"contract_number": "E0", "year": 2024, "status": "closed"}, contract_item("N0")],
    )

    assert response.status_code == 200
    body = response.json()
    stored = await read_contracts()
    assert body["message"] == "Upsert completed successfully"
    assert (body["created_ids"], body["updated_ids"]) == ([stored["N0"].pk], [existing.pk])
    assert (stored["E0"].status, str(stored["E0"].amount)) == ("closed", "10.00")


async def test_put_with_unique_fields_is_a_full_upsert(api, saved_contracts, read_contracts):
    (existing,) = await saved_contracts(1, prefix="E")

    response = await api.put(
        UPSERT_URL, json=[contract_item("E0", amount="3.00", customer="Replaced")]
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["created_ids"], body["updated_ids"]) == ([], [existing.pk])
    row = (await read_contracts())["E0"]
    assert (str(row.amount), row.customer) == ("3.00", "Replaced")


async def test_put_upsert_of_an_existing_row_needs_every_required_field(
    api, saved_contracts, read_contracts
):
    await saved_contracts(1, prefix="E")

    response = await api.put(UPSERT_URL, json=[{"contract_number": "E0", "year": 2024}])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 0,
            "errors": {
                "amount": ["This field is required."],
                "customer": ["This field is required."],
            },
        }
    ]
    assert (await read_contracts())["E0"].customer == "Stored E0"


async def test_upsert_item_with_a_new_key_must_carry_every_required_field(
    api, saved_contracts, read_contracts
):
    await saved_contracts(1, prefix="E")
    payload = [
        {"contract_number": "E0", "year": 2024, "amount": "1.00"},
        {"contract_number": "N0", "year": 2024, "amount": "1.00"},
    ]

    response = await api.post(UPSERT_URL, json=payload)

    assert response.status_code == 400
    assert response.json() == {
        "error": "Validation failed",
        "total_items": 2,
        "error_count": 1,
        "errors": [{"index": 1, "errors": {"customer": ["This field is required."]}}],
    }
    stored = await read_contracts()
    assert list(stored) == ["E0"]
    assert str(stored["E0"].amount) == "10.00"


async def test_upsert_by_primary_key_updates_the_row_with_that_id(
    api, saved_contracts, read_contracts
):
    first, second = await saved_contracts(2, prefix="E")

    response = await api.patch(
        "/api/contracts/?unique_fields=id",
        json=[{"id": second.pk, "customer": "By id"}, {"id": first.pk, "amount": "2.00"}],
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["created_ids"], sorted(body["updated_ids"])) == ([], sorted([second.pk, first.pk]))
    stored = await read_contracts()
    assert (stored["E1"].customer, str(stored["E1"].amount)) == ("By id", "10.00")
    assert (stored["E0"].customer, str(stored["E0"].amount)) == ("Stored E0", "2.00")


async def test_upsert_by_primary_key_needs_the_id_on_every_item(api, saved_contracts):
    (stored,) = await saved_contracts(1, prefix="E")

    response = await api.patch(
        "/api/contracts/?unique_fields=id",
        json=[{"id": stored.pk, "amount": "2.00"}, contract_item("N0"), {"id": None}],
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "errors": {"id": ["This field is required."]}},
        {"index": 2, "errors": {"id": ["This field is required."]}},
    ]
    assert await Contract.objects.acount() == 1


async def test_null_in_the_conflict_key_is_reported_as_drf_does(api):
    response = await api.post(
        UPSERT_URL, json=[contract_item("N0", year=None), contract_item("N1", contract_number=None)]
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "errors": {"year": ["This field may not be null."]}},
        {"index": 1, "errors": {"contract_number": ["This field may not be null."]}},
    ]
    assert await Contract.objects.acount() == 0


async def test_upsert_skips_the_unique_validator_of_the_target_but_runs_field_validators(
    api, alice
):
    await Owned.objects.acreate(owner=alice.user, sku="SKU-1", quantity=1)

    accepted = await api.post(
        "/test-api/owned/?unique_fields=sku",
        json=[{"sku": "SKU-1", "quantity": 5}],
        headers=alice.headers,
    )
    refused = await api.post(
        "/test-api/owned/?unique_fields=sku",
        json=[{"sku": "SKU-1", "quantity": -1}, {"sku": "SKU-2", "quantity": -3}],
        headers=alice.headers,
    )

    assert accepted.status_code == 200
    assert accepted.json()["updated_count"] == 1
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"index": 0, "errors": {"quantity": ["Quantity cannot be negative."]}},
        {"index": 1, "errors": {"quantity": ["Quantity cannot be negative."]}},
    ]
    assert [(row.sku, row.quantity) async for row in Owned.objects.all()] == [("SKU-1", 5)]


async def test_upsert_skips_the_unique_validator_of_the_target_but_runs_validate(api):
    author = await Author.objects.acreate(name="Ann")
    await Book.objects.acreate(title="Old", isbn="111", author=author)

    accepted = await api.post(
        "/test-api/books/?unique_fields=isbn", json=[{"isbn": "111", "title": "Renamed"}]
    )
    refused = await api.post(
        "/test-api/books/?unique_fields=isbn", json=[{"isbn": "111", "title": "forbidden"}]
    )

    assert accepted.status_code == 200
    assert accepted.json()["updated_count"] == 1
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"index": 0, "errors": {"non_field_errors": ["This title is not allowed."]}}
    ]
    assert [(book.isbn, book.title) async for book in Book.objects.all()] == [("111", "Renamed")]


async def test_upsert_still_checks_the_unique_fields_outside_the_target(api):
    author = await Author.objects.acreate(name="Ann")
    first = await Book.objects.acreate(title="First", isbn="111", author=author)
    await Book.objects.acreate(title="Second", isbn="222", author=author)

    response = await api.patch(
        "/test-api/books/?unique_fields=id", json=[{"id": first.pk, "isbn": "222"}]
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "errors": {"isbn": ["book with this isbn already exists."]}}
    ]
    assert await Book.objects.filter(isbn="111").aexists()


async def test_upsert_validates_every_item_before_writing_anything(
    api, saved_contracts, read_contracts
):
    await saved_contracts(1, prefix="E")
    payload = [contract_item("E0", amount="50.00"), contract_item("N0", amount="lots")]

    response = await api.post(UPSERT_URL, json=payload)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "errors": {"amount": ["A valid number is required."]}}
    ]
    stored = await read_contracts()
    assert list(stored) == ["E0"]
    assert str(stored["E0"].amount) == "10.00"
    assert await Contract.objects.acount() == 1
