"""The PostgreSQL backend on the real database: ``COPY`` and its fallback for drivers without it
(psycopg2) write the same rows and report the same ids; statement timeouts are recognised; the
ledger's share lock is a ``FOR SHARE``."""

import uuid
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction

from asgi_demo.contracts.models import Contract
from django_bulk_drf.backends import bulk_backend, postgresql
from django_bulk_drf.models import RECORD_ROW, ChunkLedger
from django_bulk_drf.validated import ValidatedItem
from django_bulk_drf.writers import create_rows, upsert_rows

pytestmark = pytest.mark.django_db

KEY = ("contract_number", "year")
SIZE = 2 * postgresql.COPY_MIN_ROWS


def upsert_payload(prefix: str) -> list[ValidatedItem]:
    """Half the keys exist (items carry only ``amount`` or only ``customer``), half are new."""
    stored = Contract.objects.bulk_create(
        Contract(
            contract_number=f"{prefix}{i}",
            year=2024,
            amount=Decimal("1.00"),
            customer="Stored",
            status="pending",
        )
        for i in range(SIZE // 2)
    )
    items = []
    for index, row in enumerate(stored):
        change = {"amount": Decimal("2.00")} if index % 2 else {"customer": "Renamed"}
        key = {"contract_number": row.contract_number, "year": 2024}
        items.append(ValidatedItem(index, key | change, instance=row))
    for index in range(SIZE // 2, SIZE):
        data = {"contract_number": f"{prefix}{index}", "year": 2024, "amount": Decimal("3.00")}
        items.append(ValidatedItem(index, data | {"customer": "New"}))
    return items


def written(prefix: str, result) -> dict:
    """What a write did, by payload position: ids as positions, rows as their values."""
    rows = Contract.objects.filter(contract_number__startswith=prefix)
    number_of = {row.pk: int(row.contract_number.removeprefix(prefix)) for row in rows}
    return {
        "created": sorted(number_of[pk] for pk in result.created_ids),
        "updated": sorted(number_of[pk] for pk in result.updated_ids),
        "rows": sorted(
            (int(row.contract_number.removeprefix(prefix)), row.amount, row.customer, row.status)
            for row in rows
        ),
    }


@pytest.mark.parametrize("write", ["upsert", "create"])
def test_values_statements_give_what_copy_gives(monkeypatch, query_counter, write):
    def run(prefix: str) -> dict:
        if write == "upsert":
            result = upsert_rows(Contract.objects.all(), upsert_payload(prefix), KEY, 1000)
        else:
            items = [item for item in upsert_payload(prefix) if item.instance is None]
            result = create_rows(Contract.objects.all(), items, 1000)
        return written(prefix, result)

    # An upsert is copied into the staging table; a create takes its keys from the sequence and
    # is copied into the table.
    copying = "bulkdrf_stage" if write == "upsert" else "nextval"
    query_counter.reset()
    copied = run("C")
    assert any(copying in sql for sql in query_counter.statements)

    monkeypatch.setattr(postgresql.BulkBackend, "copy_supported", False)  # as with psycopg2
    query_counter.reset()
    inserted = run("V")
    assert not any(copying in sql for sql in query_counter.statements)

    assert inserted == copied
    assert (len(copied["created"]), len(copied["rows"])) == (SIZE // 2, SIZE)


def test_a_statement_past_the_timeout_is_recognised():
    backend = bulk_backend("default")

    with pytest.raises(OperationalError) as cancelled, transaction.atomic():
        backend.set_statement_timeout(0.05)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")

    assert backend.is_statement_timeout(cancelled.value)


def test_the_ledgers_record_copy_is_read_under_a_share_lock(query_counter):
    operation_id = uuid.uuid4()
    ChunkLedger.objects.create(operation_id=operation_id, chunk_index=-1, outcome={"ended": True})
    copies = ChunkLedger.objects.filter(operation_id=operation_id, chunk_index=-1)

    with transaction.atomic():
        read = bulk_backend("default").read_share_locked(copies)

    assert [row.outcome for row in read] == [{"ended": True}]
    assert any(sql.endswith(" FOR SHARE") for sql in query_counter.statements)


def test_a_chunk_opens_in_one_statement_claimed_once_and_not_after_its_operation_ended(
    query_counter,
):
    operation_id = uuid.uuid4()
    with transaction.atomic():
        query_counter.reset()
        first = ChunkLedger.objects.using("default").open_chunk(operation_id, 0, 0.05)
        assert len(query_counter.statements) == 1
        ended, again = ChunkLedger.objects.using("default").open_chunk(operation_id, 0, 0.05)
    ChunkLedger.objects.create(operation_id=operation_id, chunk_index=RECORD_ROW, outcome={})
    ChunkLedger.objects.filter(chunk_index=RECORD_ROW).update(outcome={"ended": True})
    with transaction.atomic():
        after_the_end = ChunkLedger.objects.using("default").open_chunk(operation_id, 1, 0)

    assert first == (False, None)
    assert not ended and (again.operation_id, again.chunk_index) == (operation_id, 0)
    assert after_the_end == (True, None)
