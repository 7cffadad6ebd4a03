"""The sync path on SQLite (the embedded mode's database): the demo's contracts served from the
``embedded`` alias at ``/test-api/embedded-contracts/``."""

import pytest

from asgi_demo.contracts.models import Contract
from tests.conftest import answer_part, contract_item

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "embedded"])

EMBEDDED_URL = "/test-api/embedded-contracts/"
EMBEDDED_UPSERT_URL = f"{EMBEDDED_URL}?unique_fields=contract_number,year"


async def test_bulk_create_writes_to_the_sqlite_database(api, contract_items, read_contracts):
    response = await api.post(EMBEDDED_URL, json=contract_items(3, prefix="Lite"))

    assert response.status_code == 201
    stored = await read_contracts(using="embedded")
    expected = {
        "message": "Bulk create completed successfully",
        "total_items": 3,
        "created_count": 3,
        "created_ids": sorted(row.pk for row in stored.values()),
        "is_sync": True,
    }
    assert answer_part(response.json(), expected) == expected
    assert sorted(stored) == ["Lite0", "Lite1", "Lite2"]
    assert stored["Lite0"].status == "active"
    # Written to SQLite only: none of its rows on PostgreSQL.
    assert not await Contract.objects.filter(contract_number__startswith="Lite").aexists()


async def test_upsert_reports_exact_created_and_updated_ids(api, saved_contracts, read_contracts):
    existing = await saved_contracts(2, prefix="E", using="embedded")
    payload = [
        contract_item("E1", amount="11.00"),
        contract_item("N0"),
        contract_item("E0", amount="10.50"),
        contract_item("N1"),
    ]

    response = await api.post(EMBEDDED_UPSERT_URL, json=payload)

    assert response.status_code == 200
    stored = await read_contracts(using="embedded")
    expected = {
        "message": "Upsert completed successfully",
        "total_items": 4,
        "created_count": 2,
        "updated_count": 2,
        "created_ids": sorted([stored["N0"].pk, stored["N1"].pk]),
        "updated_ids": sorted([existing[1].pk, existing[0].pk]),
        "is_sync": True,
    }
    assert answer_part(response.json(), expected) == expected
    assert (str(stored["E0"].amount), str(stored["E1"].amount)) == ("10.50", "11.00")


async def test_partial_upsert_with_mixed_key_sets_touches_only_the_given_fields(
    api, saved_contracts, read_contracts
):
    await saved_contracts(2, prefix="E", using="embedded", status="pending")
    before = await read_contracts(using="embedded")
    payload = [
        {"contract_number": "E0", "year": 2024, "amount": "99.99"},
        {"contract_number": "E1", "year": 2024, "customer": "Renamed"},
        {"contract_number": "N0", "year": 2024, "amount": "5.00", "customer": "Newcomer"},
    ]

    response = await api.patch(EMBEDDED_UPSERT_URL, json=payload)

    assert response.status_code == 200
    after = await read_contracts(using="embedded")
    assert (str(after["E0"].amount), after["E0"].customer, after["E0"].status) == (
        "99.99",
        "Stored E0",
        "pending",
    )
    assert (str(after["E1"].amount), after["E1"].customer, after["E1"].status) == (
        "10.00",
        "Renamed",
        "pending",
    )
    assert after["N0"].status == "active"
    for number in ("E0", "E1"):
        assert after[number].updated_at > before[number].updated_at
        assert after[number].created_at == before[number].created_at


async def test_partial_update_by_id_touches_only_the_given_fields(
    api, saved_contracts, read_contracts
):
    first, second = await saved_contracts(2, prefix="E", using="embedded")
    before = await read_contracts(using="embedded")

    response = await api.patch(
        EMBEDDED_URL,
        json=[{"id": first.pk, "amount": "99.99"}, {"id": second.pk, "customer": "Renamed"}],
    )

    assert response.status_code == 200
    assert sorted(response.json()["updated_ids"]) == sorted([first.pk, second.pk])
    after = await read_contracts(using="embedded")
    assert (str(after["E0"].amount), after["E0"].customer) == ("99.99", "Stored E0")
    assert (str(after["E1"].amount), after["E1"].customer) == ("10.00", "Renamed")
    assert after["E0"].updated_at > before["E0"].updated_at


async def test_duplicate_key_in_a_payload_is_a_400_and_writes_nothing(
    api, saved_contracts, read_contracts
):
    await saved_contracts(1, prefix="E", using="embedded")
    payload = [contract_item("N0"), contract_item("E0", amount="1.00"), contract_item("N0")]

    response = await api.post(EMBEDDED_UPSERT_URL, json=payload)

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["error_count"]) == ("Validation failed", 1)
    assert [error["index"] for error in body["errors"]] == [2]
    stored = await read_contracts(using="embedded")
    assert list(stored) == ["E0"]
    assert str(stored["E0"].amount) == "10.00"


async def test_upsert_queries_do_not_grow_with_items(api, query_counter, saved_contracts):
    counts = []
    for size in (5, 50):
        prefix = f"S{size}-"
        await saved_contracts(size // 2, prefix=prefix, using="embedded")
        payload = [contract_item(f"{prefix}{index}") for index in range(size)]
        query_counter.reset()
        response = await api.post(EMBEDDED_UPSERT_URL, json=payload)
        assert response.status_code == 200
        counts.append(query_counter.by_alias["embedded"])

    assert counts[0] == counts[1]
