"""What the sync endpoints refuse, and how: all-or-nothing validation, duplicates inside a payload,
bad conflict targets, malformed bodies and size limits. Nothing is ever written, never a 500."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from asgi_demo.contracts.models import Contract
from tests.conftest import CONTRACTS_URL, UPSERT_URL, contract_item
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db(transaction=True)

BOOKS_URL = "/test-api/books/"
LIMITED_URL = "/test-api/limited-contracts/"
TOO_LARGE_KEYS = ["error", "total_items", "max_sync_items", "suggestion", "bulk_url"]


# -- all-or-nothing validation --------------------------------------------------------------------


async def test_invalid_item_answers_400_with_every_error_by_index_and_writes_nothing(
    api, contract_items
):
    payload = contract_items(4)
    payload[1]["amount"] = "lots"
    payload[3]["year"] = "soon"
    del payload[3]["customer"]

    response = await api.post(CONTRACTS_URL, json=payload)

    assert response.status_code == 400
    assert response.json() == {
        "error": "Validation failed",
        "total_items": 4,
        "error_count": 2,
        "errors": [
            {"index": 1, "errors": {"amount": ["A valid number is required."]}},
            {
                "index": 3,
                "errors": {
                    "year": ["A valid integer is required."],
                    "customer": ["This field is required."],
                },
            },
        ],
    }
    assert await Contract.objects.acount() == 0


async def test_invalid_item_in_an_update_leaves_every_row_as_it_was(
    api, saved_contracts, read_contracts
):
    first, second = await saved_contracts(2)

    response = await api.patch(
        CONTRACTS_URL,
        json=[{"id": first.pk, "amount": "1.00"}, {"id": second.pk, "amount": "1e99"}],
    )

    assert response.status_code == 400
    assert [error["index"] for error in response.json()["errors"]] == [1]
    stored = await read_contracts()
    assert (str(stored["E0"].amount), str(stored["E1"].amount)) == ("10.00", "10.00")


async def test_values_out_of_the_column_range_are_item_errors(api):
    payload = [contract_item("BIG", year=10**12), contract_item("KEY", year=10**12)]

    created = await api.post(CONTRACTS_URL, json=payload[:1])
    upserted = await api.post(UPSERT_URL, json=payload[1:])

    for response in (created, upserted):
        assert response.status_code == 400
        assert list(response.json()["errors"][0]["errors"]) == ["year"]
    assert await Contract.objects.acount() == 0


# -- duplicates inside one payload ----------------------------------------------------------------


async def test_duplicate_conflict_key_in_an_upsert_fails_on_the_later_item(
    api, saved_contracts, read_contracts
):
    await saved_contracts(1)
    payload = [
        contract_item("N0"),
        contract_item("E0", amount="1.00"),
        contract_item("N0", year="2024", amount="2.00"),
    ]

    response = await api.post(UPSERT_URL, json=payload)

    assert response.status_code == 400
    body = response.json()
    assert (body["total_items"], body["error_count"]) == (3, 1)
    assert [error["index"] for error in body["errors"]] == [2]
    assert list(body["errors"][0]["errors"]) == ["non_field_errors"]
    stored = await read_contracts()
    assert list(stored) == ["E0"]
    assert str(stored["E0"].amount) == "10.00"


async def test_duplicate_id_in_an_update_fails_on_the_later_item(
    api, saved_contracts, read_contracts
):
    first, second = await saved_contracts(2)
    payload = [
        {"id": first.pk, "amount": "1.00"},
        {"id": second.pk, "amount": "2.00"},
        {"id": str(first.pk), "amount": "3.00"},
    ]

    response = await api.patch(CONTRACTS_URL, json=payload)

    assert response.status_code == 400
    assert [error["index"] for error in response.json()["errors"]] == [2]
    stored = await read_contracts()
    assert (str(stored["E0"].amount), str(stored["E1"].amount)) == ("10.00", "10.00")


async def test_duplicate_key_in_a_create_fails_on_the_later_item(api):
    payload = [contract_item("D0"), contract_item("D1"), contract_item("D0")]

    response = await api.post(CONTRACTS_URL, json=payload)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 2,
            "errors": {
                "non_field_errors": ["The fields contract_number, year must make a unique set."]
            },
        }
    ]
    assert await Contract.objects.acount() == 0


# -- relations, field-level unique and validate() (Book) ------------------------------------------


async def test_foreign_key_to_a_missing_row_is_a_per_item_error(api):
    author = await Author.objects.acreate(name="Ann")
    payload = [
        {"title": "Kept", "isbn": "1", "author": author.pk},
        {"title": "Orphan", "isbn": "2", "author": author.pk + 1000},
        {"title": "Odd", "isbn": "3", "author": [author.pk]},
    ]

    response = await api.post(BOOKS_URL, json=payload)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 1,
            "errors": {"author": [f'Invalid pk "{author.pk + 1000}" - object does not exist.']},
        },
        {"index": 2, "errors": {"author": ["Incorrect type. Expected pk value, received list."]}},
    ]
    assert await Book.objects.acount() == 0


async def test_unique_field_taken_by_a_row_or_an_earlier_item_is_a_per_item_error(api):
    author = await Author.objects.acreate(name="Ann")
    await Book.objects.acreate(title="Old", isbn="111", author=author)
    payload = [
        {"title": "A", "isbn": "111", "author": author.pk},
        {"title": "B", "isbn": "222", "author": author.pk},
        {"title": "C", "isbn": "222", "author": author.pk},
    ]

    response = await api.post(BOOKS_URL, json=payload)

    assert response.status_code == 400
    message = ["book with this isbn already exists."]
    assert response.json()["errors"] == [
        {"index": 0, "errors": {"isbn": message}},
        {"index": 2, "errors": {"isbn": message}},
    ]
    assert await Book.objects.acount() == 1


async def test_object_level_validate_runs_for_every_item(api):
    author = await Author.objects.acreate(name="Ann")
    payload = [
        {"title": "fine", "isbn": "1", "author": author.pk},
        {"title": "forbidden", "isbn": "2", "author": author.pk},
    ]

    response = await api.post(BOOKS_URL, json=payload)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "errors": {"non_field_errors": ["This title is not allowed."]}}
    ]


# -- unique_fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "unique_fields",
    ["amount", "id;DROP TABLE contracts_contract", "contract_number", "year,amount", ""],
)
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
async def test_unknown_unique_fields_are_a_400_listing_the_allowed_targets(
    api, saved_contracts, read_contracts, method, unique_fields
):
    await saved_contracts(2)

    response = await api.request(
        method,
        CONTRACTS_URL,
        params={"unique_fields": unique_fields},
        json=[contract_item("E0", amount="1.00")],
    )

    assert response.status_code == 400
    body = response.json()
    assert "error" in body
    assert body["allowed_unique_fields"] == [["id"], ["contract_number", "year"]]
    stored = await read_contracts()
    assert sorted(stored) == ["E0", "E1"]
    assert str(stored["E0"].amount) == "10.00"


# -- malformed bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "content", "content_type"),
    [
        ("POST", CONTRACTS_URL, b'[{"contract_number": ', "application/json"),
        ("POST", CONTRACTS_URL, b"42", "application/json"),
        ("POST", CONTRACTS_URL, b'"a string"', "application/json"),
        ("POST", CONTRACTS_URL, b"null", "application/json"),
        ("POST", CONTRACTS_URL, b"true", "application/json"),
        ("POST", CONTRACTS_URL, b'[1, "two", null, [3]]', "application/json"),
        ("POST", UPSERT_URL, b"42", "application/json"),
        ("POST", UPSERT_URL, b'["E0"]', "application/json"),
        ("PATCH", CONTRACTS_URL, b'{"id": 1, "amount": "1.00"}', "application/json"),
        ("PATCH", CONTRACTS_URL, b"42", "application/json"),
        ("PATCH", CONTRACTS_URL, b'"a string"', "application/json"),
        ("PATCH", CONTRACTS_URL, b"[1, 2]", "application/json"),
        ("PATCH", UPSERT_URL, b'{"contract_number": "E0"}', "application/json"),
        ("PUT", CONTRACTS_URL, b"{not json", "application/json"),
        ("PUT", CONTRACTS_URL, b'{"id": 1}', "application/json"),
        ("PUT", CONTRACTS_URL, b"null", "application/json"),
        ("POST", CONTRACTS_URL, b"\xff\xfe\x00,amount\n", "text/csv"),
        ("POST", CONTRACTS_URL, b"contract_number,year\nX,2024,extra,cells\n", "text/csv"),
    ],
    ids=[
        "post-bad-json",
        "post-number",
        "post-string",
        "post-null",
        "post-boolean",
        "post-array-of-non-objects",
        "upsert-number",
        "upsert-array-of-strings",
        "patch-object",
        "patch-number",
        "patch-string",
        "patch-array-of-numbers",
        "patch-upsert-object",
        "put-bad-json",
        "put-object",
        "put-null",
        "csv-bad-encoding",
        "csv-extra-cells",
    ],
)
async def test_malformed_body_is_a_400_and_writes_nothing(
    api, saved_contracts, read_contracts, method, url, content, content_type
):
    await saved_contracts(1)

    response = await api.request(
        method, url, content=content, headers={"Content-Type": content_type}
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    stored = await read_contracts()
    assert list(stored) == ["E0"]
    assert (str(stored["E0"].amount), stored["E0"].customer) == ("10.00", "Stored E0")


async def test_array_of_non_objects_reports_each_item(api):
    response = await api.post(CONTRACTS_URL, json=[contract_item("OK"), 7, "x"])

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["total_items"], body["error_count"]) == ("Validation failed", 3, 2)
    assert [error["index"] for error in body["errors"]] == [1, 2]
    assert await Contract.objects.acount() == 0


# -- size limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body_of"),
    [
        ("POST", CONTRACTS_URL, lambda items: items),
        ("POST", UPSERT_URL, lambda items: items),
        (
            "PATCH",
            CONTRACTS_URL,
            lambda items: [{"id": i + 1} | item for i, item in enumerate(items)],
        ),
        (
            "PUT",
            CONTRACTS_URL,
            lambda items: [{"id": i + 1} | item for i, item in enumerate(items)],
        ),
        ("DELETE", CONTRACTS_URL, lambda items: list(range(1, len(items) + 1))),
    ],
    ids=["create", "upsert", "patch", "put", "delete"],
)
async def test_more_than_50_items_is_a_413_pointing_to_the_bulk_endpoint(
    api, contract_items, method, url, body_of
):
    response = await api.request(method, url, json=body_of(contract_items(51)))

    assert response.status_code == 413
    body = response.json()
    assert list(body)[: len(TOO_LARGE_KEYS)] == TOO_LARGE_KEYS
    assert (body["total_items"], body["max_sync_items"]) == (51, 50)
    assert body["bulk_url"].split("?")[0] == "http://testserver/api/contracts/bulk/"
    assert await Contract.objects.acount() == 0


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_more_than_50_ids_in_the_query_is_a_413(api, saved_contracts, method):
    await saved_contracts(1)

    response = await api.request(
        method, CONTRACTS_URL, params={"ids": ",".join(str(pk) for pk in range(1, 52))}
    )

    assert response.status_code == 413
    assert list(response.json())[: len(TOO_LARGE_KEYS)] == TOO_LARGE_KEYS
    assert await Contract.objects.acount() == 1


async def test_exactly_50_items_are_answered_at_once(api, contract_items):
    response = await api.post(CONTRACTS_URL, json=contract_items(50))

    assert response.status_code == 201
    assert response.json()["created_count"] == 50


@pytest.mark.parametrize("query", ["max_items=1000", "max_sync_items=1000", "limit=1000"])
async def test_the_client_cannot_raise_the_sync_limit(api, contract_items, query):
    response = await api.post(f"{CONTRACTS_URL}?{query}", json=contract_items(51))

    assert response.status_code == 413
    assert response.json()["max_sync_items"] == 50
    assert await Contract.objects.acount() == 0


async def test_sync_limit_follows_the_setting(api, contract_items):
    with override_settings(BULK_DRF_SYNC_UPSERT_MAX_ITEMS=5):
        too_many = await api.post(CONTRACTS_URL, json=contract_items(6, prefix="A"))
        enough = await api.post(CONTRACTS_URL, json=contract_items(5, prefix="B"))
    after = await api.post(CONTRACTS_URL, json=contract_items(6, prefix="C"))

    assert too_many.status_code == 413
    assert (too_many.json()["total_items"], too_many.json()["max_sync_items"]) == (6, 5)
    assert enough.status_code == 201
    assert after.status_code == 201
    assert await Contract.objects.acount() == 11


async def test_more_than_the_max_records_setting_is_a_413(api, contract_items):
    with override_settings(BULK_DRF_MAX_RECORDS=3):
        response = await api.post(CONTRACTS_URL, json=contract_items(4))

    assert response.status_code == 413
    assert response.json()["total_items"] == 4
    assert await Contract.objects.acount() == 0


# -- per-viewset overrides ------------------------------------------------------------------------


async def test_viewset_sync_limit_overrides_the_setting(api, contract_items):
    too_many = await api.post(LIMITED_URL, json=contract_items(4, prefix="A"))
    enough = await api.post(LIMITED_URL, json=contract_items(3, prefix="B"))

    assert too_many.status_code == 413
    assert too_many.json()["max_sync_items"] == 3
    assert too_many.json()["bulk_url"].split("?")[0] == f"http://testserver{LIMITED_URL}bulk/"
    assert enough.status_code == 201


async def test_viewset_conflict_targets_replace_the_model_defaults(api, saved_contracts):
    (stored,) = await saved_contracts(1)

    by_id = await api.patch(
        LIMITED_URL, params={"unique_fields": "id"}, json=[{"id": stored.pk, "amount": "1.00"}]
    )
    by_key = await api.patch(
        LIMITED_URL,
        params={"unique_fields": "contract_number,year"},
        json=[{"contract_number": "E0", "year": 2024, "amount": "1.00"}],
    )

    assert by_id.status_code == 400
    assert by_id.json()["allowed_unique_fields"] == [["contract_number", "year"]]
    assert by_key.status_code == 200
    assert by_key.json()["updated_ids"] == [stored.pk]


# -- configuration --------------------------------------------------------------------------------


def test_mixing_the_bulk_mixin_into_a_sync_viewset_fails_at_class_creation():
    from rest_framework import viewsets

    from django_bulk_drf.mixins import BulkOperationsMixin

    with pytest.raises(ImproperlyConfigured, match="BulkModelViewSet"):

        class SyncContractViewSet(BulkOperationsMixin, viewsets.ModelViewSet):
            queryset = Contract.objects.all()
