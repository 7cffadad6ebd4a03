"""The SQL of bulk writes: create, update by primary key, upsert, delete.

Every function runs inside the caller's transaction and issues a fixed number of statements per
``batch_size`` rows, whatever the number of rows. Fields an item did not carry are never written to
an existing row; model-side values still apply (defaults on insert, ``auto_now`` on every write).
"""

from __future__ import annotations

import copy
import datetime
import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connections, models
from django.utils import timezone

from .serializers import ValidatedItem

# Backends whose INSERT can return the new primary keys.
RETURNING_VENDORS = ("postgresql", "sqlite")
# PostgreSQL and SQLite accept at most this many bind parameters in one statement.
MAX_QUERY_PARAMS = 32_000


@dataclass
class WriteResult:
    """The primary keys a write touched (created and deleted in payload order, upserted in key
    order)."""

    created_ids: list[Any] = field(default_factory=list)
    updated_ids: list[Any] = field(default_factory=list)
    deleted_ids: list[Any] = field(default_factory=list)

    def merge(self, other: WriteResult) -> None:
        self.created_ids += other.created_ids
        self.updated_ids += other.updated_ids
        self.deleted_ids += other.deleted_ids


def group_by_present_fields(items: Iterable[ValidatedItem]) -> dict[frozenset, list[ValidatedItem]]:
    """Items with the same key set can share one statement without nulling anything."""
    groups: dict[frozenset, list[ValidatedItem]] = defaultdict(list)
    for item in items:
        groups[item.present_fields].append(item)
    return groups


def auto_now_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]


def model_fields_for(model: type[models.Model], names: Iterable[str]) -> list[models.Field]:
    """The concrete columns behind validated-data keys (many-to-many keys are not columns)."""
    fields = []
    for name in names:
        model_field = model._meta.get_field(name)
        if model_field.concrete and not model_field.many_to_many:
            fields.append(model_field)
    return fields


def build_instance(model: type[models.Model], data: dict[str, Any]) -> models.Model:
    """A new instance: model defaults fill what the item left out."""
    columns = {f.name for f in model_fields_for(model, data)}
    return model(**{name: value for name, value in data.items() if name in columns})


def proposed_row(model: type[models.Model], item: ValidatedItem) -> models.Model:
    """The row an upsert item proposes to insert.

    For a row that exists, its stored values fill the columns the item omits: the database checks
    NOT NULL on the proposed row before the conflict turns it into an update of the given fields.
    """
    if item.instance is None:
        return build_instance(model, item.data)
    instance = copy.copy(item.instance)
    for model_field in model_fields_for(model, item.data):
        setattr(instance, model_field.attname, _attname_value(model_field, item.data))
    return instance


def create_rows(
    queryset: models.QuerySet, items: Sequence[ValidatedItem], batch_size: int
) -> WriteResult:
    """Insert every item; returns the new primary keys."""
    connection = connections[queryset.db]
    if connection.vendor not in RETURNING_VENDORS:
        instances = [build_instance(queryset.model, item.data) for item in items]
        queryset.model._default_manager.db_manager(queryset.db).bulk_create(
            instances, batch_size=batch_size
        )
        return WriteResult(created_ids=[instance.pk for instance in instances])
    return write_in_batches(InsertStatement(queryset.model, connection), items, batch_size)


def update_rows(
    queryset: models.QuerySet, items: Sequence[ValidatedItem], batch_size: int
) -> WriteResult:
    """Write each item's fields onto the row it was validated against (one UPDATE per batch)."""
    model = queryset.model
    bumped = auto_now_fields(model)
    manager = model._default_manager.db_manager(queryset.db)
    for present, group in group_by_present_fields(items).items():
        fields = model_fields_for(model, present)
        instances = []
        for item in group:
            instance = item.instance
            for model_field in fields:
                setattr(instance, model_field.attname, _attname_value(model_field, item.data))
            for model_field in bumped:
                setattr(instance, model_field.attname, model_field.pre_save(instance, add=False))
            instances.append(instance)
        names = list(dict.fromkeys([f.name for f in fields] + [f.name for f in bumped]))
        if names:
            manager.bulk_update(instances, names, batch_size=batch_size)
    return WriteResult(updated_ids=[item.instance.pk for item in items])


def _attname_value(model_field: models.Field, data: dict[str, Any]) -> Any:
    value = data[model_field.name]
    if model_field.is_relation and isinstance(value, models.Model):
        return value.pk
    return value


def delete_rows(queryset: models.QuerySet, ids: Sequence[Any]) -> WriteResult:
    """Delete the rows of ``queryset`` with these ids; ids it does not show are left alone."""
    doomed = queryset.filter(pk__in=ids)
    deleted_ids = list(doomed.values_list("pk", flat=True))
    if deleted_ids:
        queryset.model._default_manager.db_manager(queryset.db).filter(pk__in=deleted_ids).delete()
    wanted = set(deleted_ids)
    ordered = [pk for pk in dict.fromkeys(ids) if pk in wanted]
    return WriteResult(deleted_ids=ordered)


def upsert_rows(
    queryset: models.QuerySet,
    items: Sequence[ValidatedItem],
    unique_fields: Sequence[str],
    batch_size: int,
) -> WriteResult:
    """``INSERT … ON CONFLICT (unique_fields) DO UPDATE`` the fields each item carries, in key
    order (so the ids come back in that order).

    On PostgreSQL ``RETURNING pk, (xmax = 0)`` tells inserted from updated rows in the same round
    trip. Elsewhere the rows that existed are those the items were validated against.
    """
    writer = InsertStatement(queryset.model, connections[queryset.db], unique_fields)
    return write_in_batches(writer, items, batch_size)


def write_in_batches(
    writer: InsertStatement, items: Sequence[ValidatedItem], batch_size: int
) -> WriteResult:
    """One ``COPY`` per group of items with the same fields (merged in key order by the
    database), or ``VALUES`` of ``batch_size`` rows sorted by key here."""
    result = WriteResult()
    names = [f.name for f in writer.target]
    for present, group in group_by_present_fields(items).items():
        if writer.copies(len(group)):
            result.merge(writer.execute(group, present))
            continue
        group = in_key_order(group, names) if names else group
        rows_per_statement = max(1, min(batch_size, MAX_QUERY_PARAMS // writer.column_count))
        for start in range(0, len(group), rows_per_statement):
            result.merge(writer.execute(group[start : start + rows_per_statement], present))
    return result


def in_key_order(items: Sequence[ValidatedItem], names: Sequence[str]) -> list[ValidatedItem]:
    """Items sorted by their conflict key: concurrent upserts of overlapping keys then lock
    rows in the same order, and cannot deadlock."""

    def key(item: ValidatedItem) -> tuple:
        values = (item.data.get(name) for name in names)
        values = (value.pk if isinstance(value, models.Model) else value for value in values)
        return tuple((value is None, value if value is not None else 0) for value in values)

    return sorted(items, key=key)


class InsertStatement:
    """Builds and runs one multi-row insert (an upsert when given ``unique_fields``) for a model
    on one connection.

    Large groups on PostgreSQL are sent with ``COPY`` into a session-local staging table, then
    merged with one ``INSERT … SELECT … ON CONFLICT``: far less parsing and parameter handling
    than a statement with thousands of bind parameters.
    """

    def __init__(
        self, model: type[models.Model], connection: Any, unique_fields: Sequence[str] = ()
    ) -> None:
        self.model = model
        self.connection = connection
        self.quote = connection.ops.quote_name
        self.target = model_fields_for(model, unique_fields)
        opts = model._meta
        includes_pk = opts.pk.name in unique_fields
        self.columns = [
            f
            for f in opts.local_concrete_fields
            if includes_pk or not (f.primary_key and isinstance(f, models.AutoField))
        ]
        self.column_count = len(self.columns)
        self.bumped = auto_now_fields(model)
        self.returns_inserted_flag = connection.vendor == "postgresql"
        self.rows = RowBuilder(model, self.columns, connection)

    def copies(self, row_count: int) -> bool:
        """Whether ``row_count`` rows go through ``COPY`` (in one go, whatever their number)."""
        return self.returns_inserted_flag and row_count >= COPY_MIN_ROWS

    def execute(self, items: Sequence[ValidatedItem], present: frozenset[str]) -> WriteResult:
        rows = self.rows.build(items)
        if self.copies(len(rows)):
            returned = self._copy_and_merge(rows, present)
        else:
            returned = self._insert_values(rows, present)
        if self.returns_inserted_flag:
            created = [pk for pk, inserted in returned if inserted]
            updated = [pk for pk, inserted in returned if not inserted]
            return WriteResult(created_ids=created, updated_ids=updated)
        existed = {item.instance.pk for item in items if item.instance is not None}
        pks = [row[0] for row in returned]
        return WriteResult(
            created_ids=[pk for pk in pks if pk not in existed],
            updated_ids=[pk for pk in pks if pk in existed],
        )

    def _insert_values(self, rows: list[tuple], present: frozenset[str]) -> list[tuple]:
        row_placeholder = "(" + ", ".join(self._placeholder(f) for f in self.columns) + ")"
        sql = (
            f"INSERT INTO {self._table()} ({self._column_list()}) VALUES "
            + ", ".join([row_placeholder] * len(rows))
            + self._on_conflict(present)
        )
        with self.connection.cursor() as cursor:
            cursor.execute(sql, [value for row in rows for value in row])
            return cursor.fetchall()

    def _copy_and_merge(self, rows: list[tuple], present: frozenset[str]) -> list[tuple]:
        columns = self._column_list()
        stage = self.quote(f"bulkdrf_stage_{zlib.crc32(f'{self._table()}{columns}'.encode())}")
        target = ", ".join(self.quote(f.column) for f in self.target)
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                f"SELECT {columns} FROM {self._table()} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            order = f" ORDER BY {target}" if target else ""
            cursor.execute(
                f"INSERT INTO {self._table()} ({columns}) SELECT {columns} FROM {stage}"
                + order
                + self._on_conflict(present)
            )
            returned = cursor.fetchall()
            cursor.execute(f"TRUNCATE {stage}")
        return returned

    def _table(self) -> str:
        return self.quote(self.model._meta.db_table)

    def _column_list(self) -> str:
        return ", ".join(self.quote(f.column) for f in self.columns)

    def _on_conflict(self, present: frozenset[str]) -> str:
        """``ON CONFLICT … DO UPDATE`` of the fields present (none without a target), and the
        ``RETURNING`` clause."""
        returning = self.quote(self.model._meta.pk.column)
        if self.returns_inserted_flag:
            returning += ", (xmax = 0)"
        if not self.target:
            return f" RETURNING {returning}"
        target_names = {f.name for f in self.target}
        updated = [f for f in model_fields_for(self.model, present) if f.name not in target_names]
        updated = list({f.column: f for f in updated + self.bumped}.values()) or self.target[:1]
        assignments = ", ".join(
            f"{self.quote(f.column)} = EXCLUDED.{self.quote(f.column)}" for f in updated
        )
        target = ", ".join(self.quote(f.column) for f in self.target)
        return f" ON CONFLICT ({target}) DO UPDATE SET {assignments} RETURNING {returning}"

    def _placeholder(self, model_field: models.Field) -> str:
        if hasattr(model_field, "get_placeholder"):
            return model_field.get_placeholder(None, None, self.connection)
        return "%s"


# Below this many rows a VALUES list is as fast as COPY and costs fewer round trips (the
# synchronous default of 50 items stays below it).
COPY_MIN_ROWS = 64

# Built-in fields whose database value is the Python value itself on PostgreSQL.
PASSTHROUGH_FIELDS = (
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
PASSTHROUGH_TYPES = (str, int, bool, Decimal, float, datetime.datetime, datetime.date, uuid.UUID)
PLAIN_PRE_SAVE = (
    models.Field.pre_save,
    models.DateField.pre_save,
    models.DateTimeField.pre_save,
)


class RowBuilder:
    """The database values of the row each item proposes, in column order.

    On PostgreSQL, for built-in field types, values are taken straight from the validated data
    (or the stored row, or the model default) without building model instances; ``auto_now``
    columns get one timestamp per batch. Other backends and custom fields go through Django's
    ``pre_save`` and ``get_db_prep_save`` on a model instance, as ``Model.save()`` would.
    """

    def __init__(
        self, model: type[models.Model], columns: list[models.Field], connection: Any
    ) -> None:
        self.model = model
        self.columns = columns
        self.connection = connection
        self.direct = connection.vendor == "postgresql" and all(
            type(f).pre_save in PLAIN_PRE_SAVE and self._passthrough(f) for f in columns
        )

    @staticmethod
    def _passthrough(model_field: models.Field) -> bool:
        if model_field.is_relation:
            return model_field.many_to_one and RowBuilder._passthrough(model_field.target_field)
        return type(model_field) in PASSTHROUGH_FIELDS

    def build(self, items: Sequence[ValidatedItem]) -> list[tuple]:
        if not self.direct:
            return [self._prepared_row(item) for item in items]
        now = timezone.now()
        today = datetime.date.today()
        stamped = {
            f.name: (now if isinstance(f, models.DateTimeField) else today)
            for f in self.columns
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        }
        return [self._direct_row(item, stamped) for item in items]

    def _direct_row(self, item: ValidatedItem, stamped: dict[str, Any]) -> tuple:
        data = item.data
        instance = item.instance
        values = []
        for model_field in self.columns:
            name = model_field.name
            if name in stamped:
                value = stamped[name]
            elif name in data:
                value = data[name]
                if isinstance(value, models.Model):
                    value = value.pk
            elif instance is not None:
                value = getattr(instance, model_field.attname)
            else:
                value = model_field.get_default()
            if value is not None and not isinstance(value, PASSTHROUGH_TYPES):
                value = model_field.get_db_prep_save(value, connection=self.connection)
            values.append(value)
        return tuple(values)

    def _prepared_row(self, item: ValidatedItem) -> tuple:
        instance = proposed_row(self.model, item)
        return tuple(
            model_field.get_db_prep_save(
                model_field.pre_save(instance, add=True), connection=self.connection
            )
            for model_field in self.columns
        )
