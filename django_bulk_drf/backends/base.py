"""What the writers and the chunk ledger ask of a database, and the portable answers.

A backend is picked by ``connection.vendor`` (``backends/__init__.py``): the module of that name in
this package, or this base for a vendor without one. The base does what works on any database
Django supports:

- writes go through the ORM (``bulk_create``, ``bulk_update``) unless a backend sets
  ``returns_rows``; then the writers send multi-row ``INSERT … VALUES … RETURNING`` statements,
  built here with the conflict clause and ``RETURNING`` that Django's own ``connection.ops``
  spells for that database;
- one row is inserted unless its unique key is taken (the chunk ledger's claim), in the statements
  that open a batch's transaction (``open_chunks``);
- a share lock is taken as an exclusive one (``SELECT … FOR UPDATE``) where the database has row
  locks: correct, but concurrent chunks of one operation then commit one at a time;
- no statement timeout.

A vendor module defines ``BulkBackend``, a subclass that switches on or overrides what its
database does better; nothing outside this package names a vendor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, OperationalError, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.constants import OnConflict


def column_name(field: models.Field) -> str:
    """The column ``field`` is stored in."""
    if field.column is None:
        raise ValueError(f"{field} is not stored in a column")
    return field.column


def stored_fields(model: type[models.Model], names: Iterable[str]) -> list[models.Field]:
    """The fields of ``model`` named ``names``, each stored in a column of its table."""
    fields: list[models.Field] = []
    for name in names:
        field = model._meta.get_field(name)
        if not isinstance(field, models.Field):
            raise ValueError(f"{model.__name__}.{name} is not stored in a column")
        fields.append(field)
    return fields


@dataclass(frozen=True)
class Insert:
    """One multi-row insert into ``model``: the columns it fills and, for an upsert, the conflict
    target and the columns a conflict overwrites."""

    model: type[models.Model]
    columns: Sequence[models.Field]
    target: Sequence[models.Field] = ()
    overwritten: Sequence[models.Field] = ()
    #: The columns whose values decide whether a conflicting row changes: when given, a row
    #: equal to the proposed one in all of them is left alone (not updated, not returned).
    compared: Sequence[models.Field] | None = None


class BaseBulkBackend:
    """The portable behaviour; vendor modules subclass it as ``BulkBackend``."""

    #: The rows an insert returns are ``(pk, inserted)``: inserted, or updated by a conflict.
    tells_inserted: bool = False
    #: Bind parameters one statement may carry (PostgreSQL and SQLite 3.32+ accept a little more).
    max_query_params: int = 32_000
    #: Field types, and Python value types, that the driver sends as they are: rows of such
    #: fields are built without model instances (see ``writers.RowBuilder``).
    passthrough_fields: tuple[type[models.Field], ...] = ()
    passthrough_types: tuple[type, ...] = ()

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.quote = connection.ops.quote_name

    @property
    def returns_rows(self) -> bool:
        """The writers send their own multi-row ``INSERT … RETURNING`` (else the ORM's
        statements)."""
        return False

    # -- writes -----------------------------------------------------------------------------------

    def copies(self, row_count: int) -> bool:
        """Whether ``row_count`` rows go in one bulk load, whatever their number, merged in
        conflict-key order by the database (else: statements of at most ``max_query_params``)."""
        return False

    def insert(self, insert: Insert, rows: list[tuple]) -> list[tuple]:
        """Run one multi-row insert of ``rows`` (database values in column order); returns what
        ``RETURNING`` gave for each row written."""
        row_placeholder = "(" + ", ".join(self.placeholder(f) for f in insert.columns) + ")"
        sql = (
            f"INSERT INTO {self.table_sql(insert.model)} ({self.columns_sql(insert.columns)}) "
            "VALUES " + ", ".join([row_placeholder] * len(rows)) + self.conflict_sql(insert)
        )
        with self.connection.cursor() as cursor:
            cursor.execute(sql, [value for row in rows for value in row])
            return cursor.fetchall()

    def conflict_sql(self, insert: Insert) -> str:
        """The upsert's ``ON CONFLICT … DO UPDATE`` (none without a target) and ``RETURNING``;
        a conditional upsert, which leaves some rows out, returns each row's key last."""
        clause = ""
        returning = self.returning_sql(insert.model)
        if insert.target:
            clause = " " + self.connection.ops.on_conflict_suffix_sql(
                insert.columns,
                OnConflict.UPDATE,
                [f.column for f in insert.overwritten],
                [f.column for f in insert.target],
            )
            if insert.compared is not None:
                clause += " " + self.skip_unchanged_sql(insert)
                returning += ", " + self.columns_sql(insert.target)
        return f"{clause} {returning}"

    def skip_unchanged_sql(self, insert: Insert) -> str:
        """The ``WHERE`` of a conflict's update that leaves a row equal to the proposed one alone:
        some compared column differs, nulls compared as values (a row with no compared column
        never changes)."""
        table = self.table_sql(insert.model)
        columns = [self.quote(column_name(f)) for f in insert.compared or ()]
        differences = [
            f"{table}.{column} {self.distinct_operator} EXCLUDED.{column}" for column in columns
        ]
        return "WHERE " + (" OR ".join(differences) if differences else "false")

    #: The comparison that is true when two values differ, a null being a value like any other.
    distinct_operator = "IS DISTINCT FROM"

    def returning_sql(self, model: type[models.Model]) -> str:
        """``RETURNING`` the primary key (and the inserted flag, where ``tells_inserted``)."""
        return self.returning_pk_sql(model)

    def returning_pk_sql(self, model: type[models.Model]) -> str:
        # Defined by the operations of every backend that supports RETURNING.
        sql, _ = self.connection.ops.return_insert_columns(  # type: ignore[attr-defined]
            [model._meta.pk]
        )
        return sql

    def placeholder(self, model_field: models.Field) -> str:
        if hasattr(model_field, "get_placeholder"):
            return model_field.get_placeholder(None, None, self.connection)
        return "%s"

    def table_sql(self, model: type[models.Model]) -> str:
        return self.quote(model._meta.db_table)

    def columns_sql(self, columns: Sequence[models.Field]) -> str:
        return ", ".join(self.quote(column_name(f)) for f in columns)

    # -- exports ----------------------------------------------------------------------------------

    @property
    def copies_out(self) -> bool:
        """The database writes CSV itself (``copy_csv_out``) of columns ``export_column_sql``
        spells."""
        return False

    def export_column_sql(
        self, serializer_field: Any, model_field: models.Field, column: str
    ) -> str | None:
        """SQL giving ``column`` as text exactly as ``serializer_field`` renders it (None: it
        cannot, and the rows are rendered in Python)."""
        return None

    def export_json_sql(
        self, serializer_field: Any, model_field: models.Field, column: str
    ) -> str | None:
        """SQL giving ``column`` as the JSON value ``serializer_field`` renders (None: it
        cannot)."""
        return None

    def json_rows_sql(self, names: list[str], values: list[str], source: str) -> str:
        """A query of one JSON object text per row of ``source`` (a ``FROM`` item), of
        ``values`` under ``names`` in that order."""
        raise NotImplementedError

    def copy_csv_out(self, sql: str, params: Sequence[Any]) -> Iterator[bytes]:
        """The rows of ``sql`` as CSV lines, from the database's own bulk output."""
        raise NotImplementedError

    def copy_lines_out(self, sql: str, params: Sequence[Any]) -> Iterator[bytes]:
        """The one text column of ``sql``'s rows, a line each, from the database's bulk
        output."""
        raise NotImplementedError

    # -- the chunk ledger -------------------------------------------------------------------------

    def insert_unless_taken(self, model: type[models.Model], values: dict[str, Any]) -> bool:
        """Insert one row (``values`` by field name) unless its unique key is taken; True when
        this call inserted it. A concurrent insert of the same key makes it wait for the other
        transaction to end."""
        if self.returns_rows:
            return self._insert_or_ignore(model, values)
        try:
            with transaction.atomic(using=self.connection.alias):
                model._default_manager.db_manager(self.connection.alias).create(**values)
        except IntegrityError:
            return False
        return True

    def _insert_or_ignore(self, model: type[models.Model], values: dict[str, Any]) -> bool:
        """One statement: Django spells the ignored conflict for this database."""
        ops = self.connection.ops
        fields = stored_fields(model, values)
        sql = (
            f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {self.table_sql(model)} "
            f"({self.columns_sql(fields)}) VALUES ({', '.join(['%s'] * len(fields))}) "
            f"{ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, [], [])} "
            f"{self.returning_pk_sql(model)}"
        )
        params = [f.get_db_prep_save(values[f.name], self.connection) for f in fields]
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() is not None

    def open_chunks(
        self,
        ledger: type[models.Model],
        claims: list[dict[str, Any]],
        record_row: int,
        timeout: float,
    ) -> tuple[bool, list[int]]:
        """Start the transaction of a batch of chunks: cap its statements at ``timeout`` seconds,
        read the operation's record copy (ledger row ``record_row``) under a share lock, and
        insert each chunk's ledger row (``claims``, by field name) unless it is taken. Returns
        whether the copy says the operation was ended from its ledger, and the ``chunk_index``
        of each row this call inserted."""
        self.set_statement_timeout(timeout)
        copies = ledger._default_manager.db_manager(self.connection.alias).filter(
            operation_id=claims[0]["operation_id"], chunk_index=record_row
        )
        for copy in self.read_share_locked(copies):
            if copy.outcome.get("ended"):  # type: ignore[attr-defined]  # the ledger's JSON
                return True, []
        return False, [
            claim["chunk_index"] for claim in claims if self.insert_unless_taken(ledger, claim)
        ]

    def record_outcomes(
        self, ledger: type[models.Model], operation_id: Any, outcomes: dict[int, tuple[int, str]]
    ) -> None:
        """Write what each chunk did onto its ledger row: ``{chunk_index: (processed, outcome
        as JSON text)}``."""
        rows = ledger._default_manager.db_manager(self.connection.alias)
        for index, (processed, outcome) in outcomes.items():
            rows.filter(operation_id=operation_id, chunk_index=index).update(
                processed=processed, outcome=json.loads(outcome)
            )

    def read_share_locked(self, queryset: models.QuerySet) -> list[models.Model]:
        """The rows of ``queryset``, which no other transaction can change or lock exclusively
        until this one ends."""
        if self.connection.features.has_select_for_update:
            return list(queryset.select_for_update())
        return list(queryset)  # no row locks: the database has one writer at a time

    # -- statement timeouts -----------------------------------------------------------------------

    def set_statement_timeout(self, seconds: float) -> None:
        """Cap each statement of the current transaction at ``seconds`` (0: no cap)."""

    def is_statement_timeout(self, exc: OperationalError) -> bool:
        """Whether ``exc`` is a statement cancelled by that cap."""
        return False
