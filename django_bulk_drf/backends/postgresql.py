"""PostgreSQL: ``COPY``, inserted or updated told apart, statement timeouts, share locks.

- An insert returns ``(pk, xmax = 0)``: a row an upsert inserted has no deleting transaction yet,
  so created and updated ids come from the statement itself, whatever ran concurrently.
- Large groups of rows are sent with ``COPY`` into a session-local staging table, then merged with
  one ``INSERT … SELECT … ON CONFLICT`` in key order: far less parsing and parameter handling than
  a statement with thousands of bind parameters. ``cursor.copy`` is psycopg 3's; with psycopg2
  (which Django also drives) the rows go in ``VALUES`` statements, with the same results.
- Built-in field types are sent as Python values, which both drivers adapt themselves.
- ``statement_timeout`` caps each statement of a transaction; a statement it cancels fails with
  SQLSTATE 57014. The chunk ledger's share lock is ``SELECT … FOR SHARE``; a chunk's transaction
  opens with one statement (timeout, share lock, claim: ``open_chunk``).
"""

from __future__ import annotations

import datetime
import uuid
import zlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.db import OperationalError, models
from django.db.backends.postgresql.psycopg_any import is_psycopg3

from .base import BaseBulkBackend, Insert
from .pgexport import export_json_sql, export_text_sql, json_rows_sql

#: SQLSTATE of a statement cancelled by ``statement_timeout`` (``query_canceled``).
QUERY_CANCELED = "57014"
# Below this many rows a VALUES list is as fast as COPY and costs fewer round trips (the
# synchronous default of 50 items stays below it).
COPY_MIN_ROWS = 64


class BulkBackend(BaseBulkBackend):
    """PostgreSQL through psycopg 3 or psycopg2."""

    returns_rows = True
    tells_inserted = True
    #: ``COPY … FROM STDIN`` through the driver's ``cursor.copy``: psycopg 3 only.
    copy_supported: bool = is_psycopg3
    passthrough_fields = (
        models.AutoField,
        models.BigAutoField,
        models.CharField,
        models.TextField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.BooleanField,
        models.DecimalField,
        models.FloatField,
        models.DateTimeField,
        models.DateField,
        models.UUIDField,
    )
    passthrough_types = (
        str,
        int,
        bool,
        Decimal,
        float,
        datetime.datetime,
        datetime.date,
        uuid.UUID,
    )

    def copies(self, row_count: int) -> bool:
        return self.copy_supported and row_count >= COPY_MIN_ROWS

    def insert(self, insert: Insert, rows: list[tuple]) -> list[tuple]:
        if not self.copies(len(rows)):
            return super().insert(insert, rows)
        table = self.table_sql(insert.model)
        columns = self.columns_sql(insert.columns)
        stage = self.quote(f"bulkdrf_stage_{zlib.crc32(f'{table}{columns}'.encode())}")
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                f"SELECT {columns} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            order = f" ORDER BY {self.columns_sql(insert.target)}" if insert.target else ""
            # The staged rows are moved, not copied: the stage is empty for the next group
            # without a TRUNCATE (one round trip less for each chunk).
            cursor.execute(
                f"WITH moved AS (DELETE FROM {stage} RETURNING {columns}) "
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM moved"
                + order
                + self.conflict_sql(insert)
            )
            return cursor.fetchall()

    def returning_sql(self, model: type[models.Model]) -> str:
        return f"{self.returning_pk_sql(model)}, (xmax = 0)"

    def open_chunk(
        self, ledger: type[models.Model], claim: dict[str, Any], record_row: int, timeout: float
    ) -> tuple[bool, bool]:
        """The base's three steps in one statement (one round trip for each chunk)."""
        fields = [ledger._meta.get_field(name) for name in claim]
        column = {f.name: self.quote(f.column) for f in fields}
        table = self.table_sql(ledger)
        timeout_sql = "set_config('statement_timeout', %s, true)" if timeout else "''"
        sql = (
            f"WITH copy AS (SELECT {column['outcome']} AS outcome FROM {table} "
            f"WHERE {column['operation_id']} = %s AND {column['chunk_index']} = %s FOR SHARE), "
            f"claim AS (INSERT INTO {table} ({self.columns_sql(fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({column['operation_id']}, {column['chunk_index']}) DO NOTHING "
            f"RETURNING 1) "
            f"SELECT {timeout_sql}, "
            f"EXISTS (SELECT 1 FROM copy WHERE copy.outcome @> '{{\"ended\": true}}'), "
            f"EXISTS (SELECT 1 FROM claim)"
        )
        params = [claim["operation_id"], record_row]
        params += [f.get_db_prep_save(claim[f.name], self.connection) for f in fields]
        if timeout:
            params.append(str(int(timeout * 1000)))
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            _, ended, claimed = cursor.fetchone()
        return ended, claimed and not ended

    def read_share_locked(self, queryset: models.QuerySet) -> list[models.Model]:
        sql, params = queryset.query.get_compiler(connection=self.connection).as_sql()
        manager = queryset.model._default_manager.db_manager(self.connection.alias)
        return list(manager.raw(f"{sql} FOR SHARE", params))

    def set_statement_timeout(self, seconds: float) -> None:
        if seconds:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [str(int(seconds * 1000))]
                )

    def is_statement_timeout(self, exc: OperationalError) -> bool:
        # psycopg 3 calls the SQLSTATE ``sqlstate``, psycopg2 ``pgcode``.
        cause = exc.__cause__
        return QUERY_CANCELED in (getattr(cause, "sqlstate", None), getattr(cause, "pgcode", None))

    # -- exports: ``COPY (SELECT …) TO STDOUT`` --------------------------------------------------

    @property
    def copies_out(self) -> bool:
        return self.copy_supported

    def export_column_sql(
        self, serializer_field: Any, model_field: models.Field, column: str
    ) -> str | None:
        return export_text_sql(serializer_field, model_field, column)

    def export_json_sql(
        self, serializer_field: Any, model_field: models.Field, column: str
    ) -> str | None:
        return export_json_sql(serializer_field, model_field, column)

    def json_rows_sql(self, names: list[str], values: list[str], source: str) -> str:
        return json_rows_sql(names, values, source)

    def copy_lines_out(self, sql: str, params: Sequence[Any]) -> Iterator[bytes]:
        # COPY's text format doubles backslashes, and would escape control characters, of
        # which JSON text has none: undoing the doubling gives the text back.
        statement = self.connection.ops.compose_sql(sql, params)
        with self.connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT") as copy:
                for data in copy:
                    yield bytes(data).replace(b"\\\\", b"\\")

    def copy_csv_out(self, sql: str, params: Sequence[Any]) -> Iterator[bytes]:
        statement = self.connection.ops.compose_sql(sql, params)
        with self.connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                for data in copy:
                    yield bytes(data)
