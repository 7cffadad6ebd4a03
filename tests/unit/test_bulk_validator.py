"""The bulk validator on SQLite: every item through the viewset's serializer, errors by index,
duplicates inside the payload refused on the later item, and unique and foreign-key checks done
in batches."""

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from asgi_demo.contracts.models import Contract
from django_bulk_drf.actions import CREATE, UPDATE, UPSERT
from django_bulk_drf.validation import NON_FIELD_ERRORS, BulkItemsValidator
from django_bulk_drf.viewsets import BulkModelViewSet
from tests.testapp.models import Author, Book
from tests.testapp.serializers import BookSerializer
from tests.testapp.views import EmbeddedContractViewSet
from tests.unit.conftest import UNIT_DATABASES

pytestmark = pytest.mark.django_db(databases=UNIT_DATABASES)

DB = "embedded"
CONTRACT_KEY = ("contract_number", "year")
UNIQUE_SET = "The fields contract_number, year must make a unique set."


class EmbeddedBookSerializer(BookSerializer):
    author = serializers.PrimaryKeyRelatedField(queryset=Author.objects.using(DB))


class EmbeddedBookViewSet(BulkModelViewSet):
    """Books (a foreign key, a unique field, an object-level ``validate()``) on SQLite."""

    queryset = Book.objects.using(DB)
    serializer_class = EmbeddedBookSerializer


def contract(number: str, **fields) -> dict:
    item = {"contract_number": number, "year": 2024, "amount": "10.00", "customer": "Acme"}
    return item | fields


def stored_contract(number: str) -> Contract:
    return Contract.objects.using(DB).create(
        contract_number=number, year=2024, amount=Decimal("1.00"), customer="Stored"
    )


def errors_by_index(outcome) -> dict[int, dict]:
    return {error["index"]: error["errors"] for error in outcome.error_list()}


def test_valid_items_come_back_typed_in_payload_order_and_invalid_ones_by_index(make_viewset):
    validator = BulkItemsValidator(make_viewset(EmbeddedContractViewSet), CREATE)
    payload = [contract("A"), contract("B", amount="abc"), "not an object", contract("C")]

    outcome = validator.validate(payload)

    assert [(item.index, item.data["contract_number"]) for item in outcome.items] == [
        (0, "A"),
        (3, "C"),
    ]
    assert outcome.items[0].data["amount"] == Decimal("10.00")
    errors = errors_by_index(outcome)
    assert list(errors) == [1, 2]
    assert errors[1] == {"amount": ["A valid number is required."]}
    assert list(errors[2]) == [NON_FIELD_ERRORS]


def test_a_duplicate_key_in_the_payload_fails_the_later_item(make_viewset):
    stored_contract("E")
    viewset = make_viewset(EmbeddedContractViewSet)
    payload = [contract("N"), contract("E", amount="2.00"), contract("N")]

    upsert = BulkItemsValidator(viewset, UPSERT, unique_fields=CONTRACT_KEY).validate(payload)
    create = BulkItemsValidator(viewset, CREATE).validate([contract("N"), contract("N")])

    assert list(errors_by_index(upsert)) == [2]
    assert [item.instance is not None for item in upsert.items] == [False, True]
    assert errors_by_index(create) == {1: {NON_FIELD_ERRORS: [UNIQUE_SET]}}


def test_a_key_taken_in_the_database_fails_a_create_but_is_the_row_of_an_upsert(make_viewset):
    stored = stored_contract("E")
    viewset = make_viewset(EmbeddedContractViewSet)

    create = BulkItemsValidator(viewset, CREATE).validate([contract("E")])
    upsert = BulkItemsValidator(viewset, UPSERT, unique_fields=CONTRACT_KEY, partial=True)
    upserted = upsert.validate([{"contract_number": "E", "year": 2024, "customer": "Renamed"}])

    assert errors_by_index(create) == {0: {NON_FIELD_ERRORS: [UNIQUE_SET]}}
    assert [(item.instance.pk, item.data) for item in upserted.items] == [
        (stored.pk, {"contract_number": "E", "year": 2024, "customer": "Renamed"})
    ]


def test_an_upsert_item_for_a_new_key_needs_every_required_field(make_viewset):
    upsert = BulkItemsValidator(
        make_viewset(EmbeddedContractViewSet), UPSERT, unique_fields=CONTRACT_KEY, partial=True
    )

    outcome = upsert.validate([{"contract_number": "N", "year": 2024, "customer": "New"}])

    assert errors_by_index(outcome) == {0: {"amount": ["This field is required."]}}


def test_an_update_names_existing_rows_by_id_once(make_viewset):
    row = stored_contract("E")
    update = BulkItemsValidator(make_viewset(EmbeddedContractViewSet), UPDATE, partial=True)

    outcome = update.validate(
        [{"id": row.pk, "amount": "3.00"}, {"id": 10_000}, {"amount": "1.00"}, {"id": row.pk}]
    )

    assert [(item.index, item.instance.pk) for item in outcome.items] == [(0, row.pk)]
    errors = errors_by_index(outcome)
    assert errors[1] == {"id": ["Not found."]}
    assert errors[2] == {"id": ["This field is required to find the row to update."]}
    assert list(errors[3]) == [NON_FIELD_ERRORS]


def test_foreign_keys_unique_fields_and_object_validation_are_checked(make_viewset):
    author = Author.objects.using(DB).create(name="Ann")
    Book.objects.using(DB).create(title="Old", isbn="111", author=author)
    validator = BulkItemsValidator(make_viewset(EmbeddedBookViewSet), CREATE)
    book = {"title": "T", "author": author.pk}

    outcome = validator.validate(
        [
            book | {"isbn": "222"},
            book | {"isbn": "111"},
            book | {"isbn": "333", "author": 10_000},
            book | {"isbn": "444", "title": "forbidden"},
            book | {"isbn": "222"},
        ]
    )

    assert [item.index for item in outcome.items] == [0]
    assert outcome.items[0].data["author"] == author
    errors = errors_by_index(outcome)
    assert errors[1] == {"isbn": ["book with this isbn already exists."]}
    assert errors[2] == {"author": ['Invalid pk "10000" - object does not exist.']}
    assert errors[3] == {NON_FIELD_ERRORS: ["This title is not allowed."]}
    assert errors[4] == {"isbn": ["book with this isbn already exists."]}


@pytest.mark.parametrize("viewset_name", ["contracts", "books"])
def test_queries_do_not_grow_with_the_number_of_items(make_viewset, viewset_name):
    authors = Author.objects.using(DB).bulk_create(Author(name=f"A{i}") for i in range(60))
    counts = []
    for size in (5, 60):
        if viewset_name == "contracts":
            viewset = make_viewset(EmbeddedContractViewSet)
            payload = [contract(f"C{size}-{i}") for i in range(size)]
        else:
            viewset = make_viewset(EmbeddedBookViewSet)
            payload = [
                {"title": "T", "isbn": f"{size}-{i}", "author": authors[i].pk} for i in range(size)
            ]
        with CaptureQueriesContext(connections[DB]) as queries:
            outcome = BulkItemsValidator(viewset, CREATE).validate(payload)
        assert (len(outcome.items), outcome.errors) == (size, {})
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_the_keys_an_item_claims_are_normalised_as_validation_normalises_them(make_viewset):
    upsert = BulkItemsValidator(
        make_viewset(EmbeddedContractViewSet), UPSERT, unique_fields=CONTRACT_KEY
    )
    create = BulkItemsValidator(make_viewset(EmbeddedContractViewSet), CREATE)

    as_json = create.claimed_keys(contract("A", year=2024))
    as_csv = create.claimed_keys(contract(" A ", year="2024"))

    assert as_json == as_csv == [(1, ("A", 2024))]
    assert upsert.claimed_keys(contract("A", year="2024")) == [(0, ("A", 2024))]
    assert create.claimed_keys(contract("A", year=None)) == []  # NULLs never collide
    assert create.claimed_keys(contract("A", year="soon")) == []  # refused by its validation
    assert create.claimed_keys("not an object") == []


def test_an_update_by_id_claims_its_id_and_one_without_id_claims_nothing(make_viewset):
    validator = BulkItemsValidator(make_viewset(EmbeddedContractViewSet), UPDATE)

    assert validator.claimed_keys({"id": "7", "amount": "1.00"})[0] == (0, (7,))
    assert validator.claimed_keys({"amount": "1.00"}) == []
    assert validator.duplicate_error(0, 3) == {
        NON_FIELD_ERRORS: ["Duplicate of item 3: id must be unique within the payload."]
    }
