"""The number of SQL statements of a sync bulk request does not grow with the number of items:
existing rows, foreign keys and unique checks are looked up once per batch, never per item."""

import pytest

from tests.conftest import CONTRACTS_URL, UPSERT_URL, contract_item
from tests.testapp.models import Author, Book, Owned

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = (5, 50)


async def statements_of(api, query_counter, method, url, *, json=None, headers=None) -> int:
    """The statements one successful request runs on the default database."""
    query_counter.reset()
    response = await api.request(method, url, json=json, headers=headers)
    assert response.status_code in (200, 201), response.text
    return query_counter.by_alias["default"]


async def test_upsert_queries_do_not_grow_with_items(api, query_counter, saved_contracts):
    counts = []
    for size in SIZES:
        prefix = f"S{size}-"
        await saved_contracts(size // 2, prefix=prefix)
        payload = [contract_item(f"{prefix}{index}", amount="1.00") for index in range(size)]
        counts.append(await statements_of(api, query_counter, "POST", UPSERT_URL, json=payload))

    assert counts[0] == counts[1]


async def test_partial_upsert_of_stored_rows_does_not_grow_with_items(
    api, query_counter, saved_contracts
):
    """The items leave NOT NULL columns out: the stored values fill the proposed rows, read in
    the one lookup of the batch."""
    counts = []
    for size in SIZES:
        rows = await saved_contracts(size, prefix=f"P{size}-")
        payload = [{"contract_number": row.contract_number, "year": 2024} for row in rows]
        payload[0]["customer"] = "Renamed"
        counts.append(await statements_of(api, query_counter, "PATCH", UPSERT_URL, json=payload))

    assert counts[0] == counts[1]


async def test_create_queries_do_not_grow_with_items(api, query_counter, contract_items):
    counts = [
        await statements_of(
            api, query_counter, "POST", CONTRACTS_URL, json=contract_items(size, prefix=f"S{size}-")
        )
        for size in SIZES
    ]

    assert counts[0] == counts[1]


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_update_by_id_queries_do_not_grow_with_items(
    api, query_counter, saved_contracts, method
):
    counts = []
    for size in SIZES:
        rows = await saved_contracts(size, prefix=f"S{size}-")
        payload = [
            {"id": row.pk, **contract_item(row.contract_number, amount="2.00")} for row in rows
        ]
        counts.append(await statements_of(api, query_counter, method, CONTRACTS_URL, json=payload))

    assert counts[0] == counts[1]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_multi_get_and_delete_queries_do_not_grow_with_ids(
    api, query_counter, saved_contracts, method
):
    counts = []
    for size in SIZES:
        rows = await saved_contracts(size, prefix=f"S{size}-")
        ids = ",".join(str(row.pk) for row in rows)
        counts.append(await statements_of(api, query_counter, method, f"{CONTRACTS_URL}?ids={ids}"))

    assert counts[0] == counts[1]


async def test_book_create_with_foreign_keys_and_unique_field_does_not_grow_with_items(
    api, query_counter
):
    authors = [await Author.objects.acreate(name=f"Author {index}") for index in range(3)]
    counts = []
    for size in SIZES:
        payload = [
            {"title": "T", "isbn": f"{size}-{index}", "author": authors[index % 3].pk}
            for index in range(size)
        ]
        counts.append(
            await statements_of(api, query_counter, "POST", "/test-api/books/", json=payload)
        )

    assert counts[0] == counts[1]


async def test_book_upsert_and_update_do_not_grow_with_items(api, query_counter):
    authors = [await Author.objects.acreate(name=f"Author {index}") for index in range(3)]
    upserts, updates = [], []
    for size in SIZES:
        existing = await Book.objects.abulk_create(
            Book(title="Old", isbn=f"{size}-{index}", author=authors[0]) for index in range(size)
        )
        upsert_payload = [
            {"title": "New", "isbn": f"{size}-{index}", "author": authors[index % 3].pk}
            for index in range(size // 2, size + size // 2)
        ]
        update_payload = [
            {"id": book.pk, "isbn": f"{size}-moved-{index}", "author": authors[1].pk}
            for index, book in enumerate(existing)
        ]
        upserts.append(
            await statements_of(
                api,
                query_counter,
                "POST",
                "/test-api/books/?unique_fields=isbn",
                json=upsert_payload,
            )
        )
        updates.append(
            await statements_of(
                api, query_counter, "PATCH", "/test-api/books/", json=update_payload
            )
        )

    assert upserts[0] == upserts[1]
    assert updates[0] == updates[1]


async def test_scoped_upsert_does_not_grow_with_items(api, query_counter, alice, bob):
    counts = []
    for size in SIZES:
        await Owned.objects.abulk_create(
            Owned(owner=alice.user, sku=f"{size}-{index}") for index in range(size // 2)
        )
        payload = [{"sku": f"{size}-{index}", "quantity": index} for index in range(size)]
        counts.append(
            await statements_of(
                api,
                query_counter,
                "POST",
                "/test-api/owned/?unique_fields=sku",
                json=payload,
                headers=alice.headers,
            )
        )

    assert counts[0] == counts[1]
