"""PostgreSQL: ``COPY``, inserted or updated told apart, statement timeouts, share locks.

- An insert returns ``(pk, xmax = 0)``: a row an upsert inserted has no deleting transaction yet,
  so created and updated ids come from the statement itself, whatever ran concurrently.
- Large groups of rows are sent with ``COPY`` into a session-local staging table (created once
  per connection), then merged with one ``INSERT … SELECT … ON CONFLICT`` in the order they were
  sent: far less parsing and parameter handling than a statement with thousands of bind
  parameters. A plain insert into a table whose primary key comes from a sequence takes its
  keys from the sequence and copies the rows straight into the table. ``cursor.copy`` is
  psycopg 3's; with psycopg2 (which Django also drives) the rows go in ``VALUES`` statements,
  with the same results.
- Built-in field types are sent as Python values, which both drivers adapt themselves.
- ``statement_timeout`` caps each statement of a transaction; a statement it cancels fails with
  SQLSTATE 57014. The chunk ledger's share lock is ``SELECT … FOR SHARE``; a chunk's transaction
  opens with one statement (timeout, share lock, claims: ``open_chunks``), and one
  statement writes the outcomes of all its chunks (``record_outcomes``).
"""

from __future__ import annotations

import datetime
import uuid
import weakref
import zlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.db import OperationalError, models, transaction
from django.db.backends.postgresql.psycopg_any import is_psycopg3

from .base import BaseBulkBackend, Insert, column_name, stored_fields
from .pgexport import export_json_sql, export_text_sql, json_rows_sql

#: SQLSTATE of a statement cancelled by ``statement_timeout`` (``query_canceled``).
QUERY_CANCELED = "57014"
# Below this many rows a VALUES list is as fast as COPY and costs fewer round trips (the
# synchronous default of 50 items stays below it).
COPY_MIN_ROWS = 64
#: The staging table's column that holds each row's position in what was sent.
ORDINAL = "bulkdrf_ordinal"
#: The sequence of each table's auto-incremented primary key, by connection alias and table.
SEQUENCES: dict[tuple[str, str], str | None] = {}
#: The staging tables each open connection has (a temporary table lives as long as its session).
STAGES: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


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
        """Rows go through the connection's staging table with their position, and are merged
        in that order (the order the writers sorted them in), so ``RETURNING`` gives one row
        for each, in the order sent."""
        if not self.copies(len(rows)):
            return super().insert(insert, rows)
        table = self.table_sql(insert.model)
        columns = self.columns_sql(insert.columns)
        if not insert.target:
            sequence = self.pk_sequence(insert.model)
            if sequence is not None:
                return self.copy_with_ids(insert, rows, sequence)
        stage = self.staging_table(table, columns)
        with self.connection.cursor() as cursor:
            with self.connection.wrap_database_errors:
                sql = f"COPY {stage} ({columns}, {ORDINAL}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for position, row in enumerate(rows):
                        copy.write_row((*row, position))
            # The staged rows are moved, not copied: the stage is empty for the next group
            # without a TRUNCATE (one round trip less for each batch).
            cursor.execute(
                f"WITH moved AS (DELETE FROM {stage} RETURNING {columns}, {ORDINAL}) "
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM moved ORDER BY {ORDINAL}"
                + self.conflict_sql(insert)
            )
            return cursor.fetchall()

    def copy_with_ids(self, insert: Insert, rows: list[tuple], sequence: str) -> list[tuple]:
        """A plain insert: the primary keys taken from the table's sequence in one statement,
        then the rows copied straight into the table with them (no staging table, no merge:
        about a sixth less time for a thousand rows)."""
        pk = insert.model._meta.pk
        columns = self.columns_sql([pk, *insert.columns])
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, len(rows)]
            )
            pks = [pk for (pk,) in cursor.fetchall()]
            with self.connection.wrap_database_errors:
                sql = f"COPY {self.table_sql(insert.model)} ({columns}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for key, row in zip(pks, rows, strict=True):
                        copy.write_row((key, *row))
        return [(key, True) for key in pks]

    def pk_sequence(self, model: type[models.Model]) -> str | None:
        """The sequence behind an auto-incremented primary key (serial or identity), or None;
        asked once per table and connection alias."""
        pk = model._meta.pk
        if not isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField):
            return None
        key = (self.connection.alias, model._meta.db_table)
        if key not in SEQUENCES:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, %s)", [self.table_sql(model), pk.column]
                )
                SEQUENCES[key] = cursor.fetchone()[0]
        return SEQUENCES[key]

    def staging_table(self, table: str, columns: str) -> str:
        """The name of this connection's staging table for these columns of ``table`` (rows
        deleted at each commit), created the first time a connection needs it: once it is
        committed the connection remembers it, so later batches skip the statement."""
        stage = self.quote(f"bulkdrf_stage_{zlib.crc32(f'{table}{columns}{ORDINAL}'.encode())}")
        raw = self.connection.connection
        created = STAGES.setdefault(raw, set())
        if stage not in created:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                    f"SELECT {columns}, 0 AS {ORDINAL} FROM {table} WITH NO DATA"
                )
            # Rolled back with its transaction, the table is gone: remembered once committed.
            transaction.on_commit(lambda: created.add(stage), using=self.connection.alias)
        return stage

    def returning_sql(self, model: type[models.Model]) -> str:
        return f"{self.returning_pk_sql(model)}, (xmax = 0)"

    def open_chunks(
        self,
        ledger: type[models.Model],
        claims: list[dict[str, Any]],
        record_row: int,
        timeout: float,
    ) -> tuple[bool, list[int]]:
        """The base's steps in one statement (one round trip for a batch of chunks)."""
        names = [name for name in claims[0] if name != "chunk_index"]
        fields = {f.name: f for f in stored_fields(ledger, (*names, "chunk_index"))}
        column = {name: self.quote(column_name(f)) for name, f in fields.items()}
        table = self.table_sql(ledger)
        timeout_sql = "set_config('statement_timeout', %s, true)" if timeout else "''"
        inserted = ", ".join(column[name] for name in (*names, "chunk_index"))
        sql = (
            f"WITH copy AS (SELECT {column['outcome']} AS outcome FROM {table} "
            f"WHERE {column['operation_id']} = %s AND {column['chunk_index']} = %s FOR SHARE), "
            f"claim AS (INSERT INTO {table} ({inserted}) "
            f"SELECT {', '.join(['%s'] * len(names))}, chunk FROM unnest(%s::integer[]) AS chunk "
            f"ON CONFLICT ({column['operation_id']}, {column['chunk_index']}) DO NOTHING "
            f"RETURNING {column['chunk_index']}) "
            f"SELECT {timeout_sql}, "
            f"EXISTS (SELECT 1 FROM copy WHERE copy.outcome @> '{{\"ended\": true}}'), "
            f"ARRAY(SELECT * FROM claim)"
        )
        first = claims[0]
        params = [first["operation_id"], record_row]
        params += [fields[name].get_db_prep_save(first[name], self.connection) for name in names]
        params.append([claim["chunk_index"] for claim in claims])
        if timeout:
            params.append(str(int(timeout * 1000)))
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            _, ended, claimed = cursor.fetchone()
        return ended, [] if ended else claimed

    def record_outcomes(
        self, ledger: type[models.Model], operation_id: Any, outcomes: dict[int, tuple[int, str]]
    ) -> None:
        """One statement for the whole batch."""
        names = ("operation_id", "chunk_index", "processed", "outcome")
        column = {f.name: self.quote(column_name(f)) for f in stored_fields(ledger, names)}
        sql = (
            f"UPDATE {self.table_sql(ledger)} SET {column['processed']} = done.processed, "
            f"{column['outcome']} = done.outcome FROM (SELECT unnest(%s::integer[]) AS chunk, "
            "unnest(%s::integer[]) AS processed, unnest(%s::text[]::jsonb[]) AS outcome) AS done "
            f"WHERE {column['operation_id']} = %s AND {column['chunk_index']} = done.chunk"
        )
        indexes = list(outcomes)
        params = [
            indexes,
            [outcomes[index][0] for index in indexes],
            [outcomes[index][1] for index in indexes],
            operation_id,
        ]
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)

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
        statement = self.connection.ops.compose_sql(sql, params)  # type: ignore[attr-defined]
        with self.connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT") as copy:
                for data in copy:
                    yield bytes(data).replace(b"\\\\", b"\\")

    def copy_csv_out(self, sql: str, params: Sequence[Any]) -> Iterator[bytes]:
        statement = self.connection.ops.compose_sql(sql, params)  # type: ignore[attr-defined]
        with self.connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                for data in copy:
                    yield bytes(data)
