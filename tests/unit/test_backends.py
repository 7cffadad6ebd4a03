"""The database seam: which backend a connection gets, and what each one answers."""

import uuid

import psycopg
import pytest
from django.db import OperationalError, connections, transaction

from django_bulk_drf.backends import (
    BaseBulkBackend,
    backend_class,
    bulk_backend,
    postgresql,
    sqlite,
)
from django_bulk_drf.models import RECORD_ROW, ChunkLedger
from tests.unit.conftest import UNIT_DATABASES


def test_the_backend_is_picked_by_the_connections_vendor():
    assert type(bulk_backend("embedded")) is sqlite.BulkBackend
    assert type(bulk_backend(connections["embedded"])) is sqlite.BulkBackend
    # No database is reached to pick one: this test may not touch any.
    assert type(bulk_backend("default")) is postgresql.BulkBackend
    assert backend_class("postgresql") is postgresql.BulkBackend


def test_a_vendor_without_a_module_gets_the_portable_base():
    assert backend_class("somevendor") is BaseBulkBackend
    portable = BaseBulkBackend(connections["embedded"])

    assert (portable.returns_rows, portable.tells_inserted) == (False, False)
    assert not portable.copies(1_000_000)
    assert not portable.is_statement_timeout(OperationalError("cancelled"))


def statement_error(cause: Exception) -> OperationalError:
    """The exception Django raises for a driver error: the driver's error is its cause."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


class Psycopg2QueryCanceled(Exception):
    """The shape of psycopg2's errors: the SQLSTATE is ``pgcode``."""

    pgcode = "57014"


def test_postgresql_recognises_its_statement_timeout_from_either_driver():
    backend = bulk_backend("default")

    assert backend.is_statement_timeout(statement_error(psycopg.errors.QueryCanceled()))
    assert backend.is_statement_timeout(statement_error(Psycopg2QueryCanceled()))
    assert not backend.is_statement_timeout(statement_error(psycopg.OperationalError("gone")))
    assert not bulk_backend("embedded").is_statement_timeout(
        statement_error(psycopg.errors.QueryCanceled())
    )


def test_postgresql_copies_large_groups_only_when_the_driver_can(monkeypatch):
    backend = bulk_backend("default")
    assert backend.copies(postgresql.COPY_MIN_ROWS)
    assert not backend.copies(postgresql.COPY_MIN_ROWS - 1)

    monkeypatch.setattr(postgresql.BulkBackend, "copy_supported", False)  # as with psycopg2

    assert not bulk_backend("default").copies(1_000_000)


@pytest.mark.django_db(databases=UNIT_DATABASES)
@pytest.mark.parametrize("returns_rows", [True, False], ids=["returning", "portable"])
def test_a_ledger_chunk_is_claimed_once(monkeypatch, returns_rows):
    monkeypatch.setattr(sqlite.BulkBackend, "returns_rows", returns_rows)
    operation_id = uuid.uuid4()

    with transaction.atomic(using="embedded"):
        first = ChunkLedger.objects.using("embedded").open_chunk(operation_id, 0, 0)
        ended, again = ChunkLedger.objects.using("embedded").open_chunk(operation_id, 0, 0)
        other = ChunkLedger.objects.using("embedded").open_chunk(operation_id, 1, 0)

    assert first == other == (False, None)
    assert not ended and (again.operation_id, again.chunk_index) == (operation_id, 0)
    assert ChunkLedger.objects.using("embedded").count() == 2


@pytest.mark.django_db(databases=UNIT_DATABASES)
def test_no_chunk_opens_once_the_operation_was_ended_from_its_ledger():
    operation_id = uuid.uuid4()
    ChunkLedger.objects.using("embedded").create(
        operation_id=operation_id, chunk_index=RECORD_ROW, outcome={"ended": True}
    )

    with transaction.atomic(using="embedded"):
        opened = ChunkLedger.objects.using("embedded").open_chunk(operation_id, 0, 0)

    assert opened == (True, None)


@pytest.mark.django_db(databases=UNIT_DATABASES)
def test_sqlite_reads_the_ledgers_rows_without_row_locks():
    operation_id = uuid.uuid4()
    ChunkLedger.objects.using("embedded").create(operation_id=operation_id, chunk_index=-1)
    rows = ChunkLedger.objects.using("embedded").filter(operation_id=operation_id)

    with transaction.atomic(using="embedded"):
        read = bulk_backend("embedded").read_share_locked(rows)

    assert [(row.operation_id, row.chunk_index) for row in read] == [(operation_id, -1)]
