"""The writers on SQLite: exact ids, omitted fields untouched, model-side values applied, and a
fixed number of statements per batch. Each test runs twice: with SQLite's ``INSERT … RETURNING``
statements, and with the portable ORM writes a database without them gets."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from asgi_demo.contracts.models import Contract
from django_bulk_drf.backends import bulk_backend
from django_bulk_drf.backends.sqlite import BulkBackend as SQLiteBackend
from django_bulk_drf.validated import ValidatedItem
from django_bulk_drf.writers import create_rows, delete_rows, update_rows, upsert_rows
from tests.unit.conftest import UNIT_DATABASES

pytestmark = pytest.mark.django_db(databases=UNIT_DATABASES)

DB = "embedded"
KEY = ("contract_number", "year")
BATCH = 1000
#: When the rows of ``stored()`` were created and last written.
STAMPED = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["returning", "portable"], autouse=True)
def write_path(request, monkeypatch) -> str:
    """``returning``: SQLite's own statements; ``portable``: what an unknown database gets."""
    if request.param == "portable":
        monkeypatch.setattr(SQLiteBackend, "returns_rows", False)
    assert bulk_backend(DB).returns_rows is (request.param == "returning")
    return request.param


def contracts():
    return Contract.objects.using(DB)


def stored(count: int, prefix: str = "E", **fields: Any) -> list[Contract]:
    """Rows already in the database, created and written at ``STAMPED``."""
    rows = contracts().bulk_create(
        Contract(
            contract_number=f"{prefix}{index}",
            year=2024,
            amount=Decimal("10.00"),
            customer=f"Stored {prefix}{index}",
            **fields,
        )
        for index in range(count)
    )
    contracts().update(created_at=STAMPED, updated_at=STAMPED)
    return list(contracts().filter(pk__in=[row.pk for row in rows]).order_by("pk"))


def new_item(index: int, number: str, **data: Any) -> ValidatedItem:
    """A validated item for a row that does not exist yet."""
    fields = {"contract_number": number, "year": 2024, "amount": Decimal("1.00")}
    return ValidatedItem(index, fields | {"customer": f"New {number}"} | data)


def item_for(index: int, row: Contract, **data: Any) -> ValidatedItem:
    """A validated item for an existing row: its key, and the fields it changes."""
    key = {"contract_number": row.contract_number, "year": row.year}
    return ValidatedItem(index, key | data, instance=row)


def by_number() -> dict[str, Contract]:
    return {row.contract_number: row for row in contracts()}


def test_create_returns_the_new_ids_and_fills_model_defaults():
    result = create_rows(contracts(), [new_item(0, "N0"), new_item(1, "N1")], BATCH)

    rows = by_number()
    assert result.created_ids == [rows["N0"].pk, rows["N1"].pk]
    assert (result.updated_ids, result.deleted_ids) == ([], [])
    assert rows["N0"].status == "active"
    assert rows["N0"].created_at is not None and rows["N0"].updated_at is not None


def test_update_by_pk_writes_only_the_given_fields_and_bumps_auto_now():
    first, second = stored(2, status="pending")
    items = [item_for(0, first, amount=Decimal("99.99")), item_for(1, second, customer="Renamed")]

    result = update_rows(contracts(), items, BATCH)

    assert result.updated_ids == [first.pk, second.pk]
    rows = by_number()
    assert (rows["E0"].amount, rows["E0"].customer) == (Decimal("99.99"), "Stored E0")
    assert (rows["E1"].amount, rows["E1"].customer) == (Decimal("10.00"), "Renamed")
    for row in (rows["E0"], rows["E1"]):
        assert row.status == "pending"
        assert (row.created_at, row.updated_at > STAMPED) == (STAMPED, True)


def test_upsert_reports_exact_created_and_updated_ids():
    first, second = stored(2)
    items = [
        item_for(0, second, amount=Decimal("11.00")),
        new_item(1, "N0"),
        item_for(2, first, amount=Decimal("10.50")),
        new_item(3, "N1"),
    ]

    result = upsert_rows(contracts(), items, KEY, BATCH)

    rows = by_number()
    assert sorted(result.created_ids) == sorted([rows["N0"].pk, rows["N1"].pk])
    assert sorted(result.updated_ids) == sorted([first.pk, second.pk])
    assert (rows["E0"].amount, rows["E1"].amount) == (Decimal("10.50"), Decimal("11.00"))
    assert contracts().count() == 4


def test_upsert_touches_only_the_fields_each_item_carries():
    first, second = stored(2, status="pending")
    items = [
        item_for(0, first, amount=Decimal("99.99")),
        item_for(1, second, customer="Renamed"),
        new_item(2, "N0", customer="Newcomer"),
    ]

    upsert_rows(contracts(), items, KEY, BATCH)

    rows = by_number()
    assert (rows["E0"].amount, rows["E0"].customer, rows["E0"].status) == (
        Decimal("99.99"),
        "Stored E0",
        "pending",
    )
    assert (rows["E1"].amount, rows["E1"].customer, rows["E1"].status) == (
        Decimal("10.00"),
        "Renamed",
        "pending",
    )
    assert (rows["N0"].customer, rows["N0"].status) == ("Newcomer", "active")
    for row in (rows["E0"], rows["E1"]):
        assert (row.created_at, row.updated_at > STAMPED) == (STAMPED, True)


def test_upsert_by_primary_key_updates_the_row_it_names_and_inserts_new_keys():
    (row,) = stored(1)
    free_pk = row.pk + 100
    items = [
        ValidatedItem(0, {"id": row.pk, "customer": "Renamed"}, instance=row),
        ValidatedItem(1, new_item(1, "N0").data | {"id": free_pk}),
    ]

    result = upsert_rows(contracts(), items, ("id",), BATCH)

    assert (result.created_ids, result.updated_ids) == ([free_pk], [row.pk])
    rows = by_number()
    assert (rows["E0"].customer, rows["E0"].amount) == ("Renamed", Decimal("10.00"))
    assert rows["N0"].pk == free_pk


def test_delete_removes_only_the_rows_the_queryset_shows_in_payload_order():
    first, second, hidden = stored(3)
    contracts().filter(pk=hidden.pk).update(year=2023)

    result = delete_rows(contracts().filter(year=2024), [second.pk, 10_000, hidden.pk, first.pk])

    assert result.deleted_ids == [second.pk, first.pk]
    assert list(contracts().values_list("pk", flat=True)) == [hidden.pk]


@pytest.mark.parametrize("operation", ["create", "update", "upsert"])
def test_statements_per_batch_do_not_grow_with_items(operation):
    counts = []
    for size in (10, 60):
        prefix = f"S{size}-"
        existing = stored(size // 2, prefix=prefix)
        if operation == "create":
            items = [new_item(i, f"C{size}-{i}") for i in range(size)]
        elif operation == "update":
            items = [item_for(i, row, amount=Decimal("2.00")) for i, row in enumerate(existing)]
        else:
            items = [item_for(i, row, amount=Decimal("2.00")) for i, row in enumerate(existing)]
            items += [new_item(len(items) + i, f"{prefix}new{i}") for i in range(size // 2)]
        with CaptureQueriesContext(connections[DB]) as queries:
            if operation == "create":
                create_rows(contracts(), items, BATCH)
            elif operation == "update":
                update_rows(contracts(), items, BATCH)
            else:
                upsert_rows(contracts(), items, KEY, BATCH)
        counts.append(len(queries))

    assert counts[0] == counts[1]
