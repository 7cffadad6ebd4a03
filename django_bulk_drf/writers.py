"""The bulk writes: create, update by primary key, upsert, delete.

Every function runs inside the caller's transaction and issues a fixed number of statements per
``batch_size`` rows, whatever the number of rows. Fields an item did not carry are never written to
an existing row; model-side values still apply (defaults on insert, ``auto_now`` on every write).

These are the algorithms (which rows, which columns, in which order, in how many statements); the
SQL that differs between databases is the backend's (``backends/``), asked for the queryset's
database.
"""

from __future__ import annotations

import copy
import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils import timezone

from .backends import BaseBulkBackend, Insert, bulk_backend
from .unchanged import settle_unchanged, split_unchanged
from .validated import ValidatedItem

#: The id lists of a ``WriteResult``.
ID_NAMES = ("created_ids", "updated_ids", "deleted_ids", "unchanged_ids")


@dataclass
class WriteResult:
    """The primary keys a write touched, in payload order.

    ``origins`` says, for each id list, which item wrote each id (its position in the written
    payload: ``ValidatedItem.index``, or an id's position in a delete's list), where the writer
    knows it. The package's writers always do; with it a batch of chunks written together is
    told apart into its chunks. A write hook that leaves it out still works: its chunks are then
    written one at a time.
    """

    created_ids: list[Any] = field(default_factory=list)
    updated_ids: list[Any] = field(default_factory=list)
    deleted_ids: list[Any] = field(default_factory=list)
    #: Rows an update or upsert item named but left alone: the item equals the stored row.
    unchanged_ids: list[Any] = field(default_factory=list)
    origins: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)

    def knows_origins(self, name: str) -> bool:
        """Whether each id of list ``name`` has its item (an empty list trivially has)."""
        return len(self.origins.get(name, ())) == len(getattr(self, name))

    def merge(self, other: WriteResult) -> None:
        for name in ID_NAMES:
            known = self.knows_origins(name) and other.knows_origins(name)
            setattr(self, name, getattr(self, name) + getattr(other, name))
            if known:
                self.origins[name] = self.origins.get(name, []) + other.origins.get(name, [])
            else:
                self.origins.pop(name, None)

    def in_payload_order(self) -> WriteResult:
        """The ids of each list whose items are known, sorted by item; returns ``self``."""
        for name in ID_NAMES:
            ids = getattr(self, name)
            if len(ids) < 2 or not self.knows_origins(name):
                continue
            pairs = sorted(zip(self.origins[name], ids, strict=True), key=lambda pair: pair[0])
            self.origins[name] = [origin for origin, _ in pairs]
            setattr(self, name, [pk for _, pk in pairs])
        return self


def written(name: str, ids: list[Any], origins: list[int]) -> WriteResult:
    """A ``WriteResult`` of one id list with the item behind each id."""
    return WriteResult(**{name: ids}, origins={name: origins})


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
    if item.stored is None:
        return build_instance(model, item.data)
    instance = copy.copy(item.stored.instance)
    for model_field in model_fields_for(model, item.data):
        setattr(instance, model_field.attname, _attname_value(model_field, item.data))
    return instance


def create_rows(
    queryset: models.QuerySet, items: Sequence[ValidatedItem], batch_size: int
) -> WriteResult:
    """Insert every item; returns the new primary keys (where the database can tell them)."""
    backend = bulk_backend(queryset.db)
    if not backend.returns_rows:
        instances = [build_instance(queryset.model, item.data) for item in items]
        queryset.model._default_manager.db_manager(queryset.db).bulk_create(
            instances, batch_size=batch_size
        )
        pks = [instance.pk for instance in instances]
        return written("created_ids", pks, [item.index for item in items])
    writer = InsertStatement(queryset.model, backend)
    return write_in_batches(writer, items, batch_size).in_payload_order()


def update_rows(
    queryset: models.QuerySet,
    items: Sequence[ValidatedItem],
    batch_size: int,
    skip_unchanged: bool = False,
) -> WriteResult:
    """Write each item's fields onto the row it was validated against (one UPDATE per batch).
    With ``skip_unchanged``, items equal to their stored row are left out (``unchanged``)."""
    model = queryset.model
    bumped = auto_now_fields(model)
    manager = model._default_manager.db_manager(queryset.db)
    unchanged: list[ValidatedItem] = []
    if skip_unchanged:
        changed, _ = split_unchanged(queryset, items)
        kept = {id(item) for item in changed}
        unchanged = [item for item in items if id(item) not in kept]
        items = changed
    for present, group in group_by_present_fields(items).items():
        fields = model_fields_for(model, present)
        instances = []
        for item in group:
            instance = item.stored_row.instance
            for model_field in fields:
                setattr(instance, model_field.attname, _attname_value(model_field, item.data))
            for model_field in bumped:
                setattr(instance, model_field.attname, model_field.pre_save(instance, add=False))
            instances.append(instance)
        # An upsert by primary key carries it: it finds the row and is never written.
        names = [f.name for f in fields if not f.primary_key] + [f.name for f in bumped]
        names = list(dict.fromkeys(names))
        if names:
            manager.bulk_update(instances, names, batch_size=batch_size)
    result = written("updated_ids", [i.stored_row.pk for i in items], [i.index for i in items])
    result.merge(
        written("unchanged_ids", [i.stored_row.pk for i in unchanged], [i.index for i in unchanged])
    )
    return result


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
    positions: dict[Any, int] = {}
    for position, pk in enumerate(ids):
        positions.setdefault(pk, position)
    ordered = [pk for pk in positions if pk in wanted]
    return written("deleted_ids", ordered, [positions[pk] for pk in ordered])


def upsert_rows(
    queryset: models.QuerySet,
    items: Sequence[ValidatedItem],
    unique_fields: Sequence[str],
    batch_size: int,
    skip_unchanged: bool = False,
) -> WriteResult:
    """Insert the new rows and write the fields each item carries onto the rows that exist,
    rows locked in key order; the ids come back in payload order.

    Where the backend returns rows, one ``INSERT … ON CONFLICT (unique_fields) DO UPDATE`` per
    batch does both, and a row inserted concurrently since validation is updated, not refused;
    the backend tells inserted from updated rows, or else the rows that existed are those the
    items were validated against. Elsewhere those rows are updated by primary key and the others
    inserted (a row inserted concurrently since validation then fails the batch with an
    ``IntegrityError``).

    With ``skip_unchanged`` a row equal to its item is not written: the conflict's update is
    conditional (``unchanged.skip_unchanged_sql``) and the rows it leaves alone are reported as
    ``unchanged``.
    """
    backend = bulk_backend(queryset.db)
    if backend.returns_rows:
        writer = InsertStatement(queryset.model, backend, unique_fields, skip_unchanged)
        result = write_in_batches(writer, items, batch_size)
        if skip_unchanged:
            done = set(result.created_ids) | set(result.updated_ids)
            pairs = settle_unchanged(queryset, items, unique_fields, done)
            pks, origins = [pk for pk, _ in pairs], [origin for _, origin in pairs]
            result.merge(written("unchanged_ids", pks, origins))
        return result.in_payload_order()
    ordered = in_key_order(items, unique_fields)
    result = update_rows(
        queryset,
        [item for item in ordered if item.stored is not None],
        batch_size,
        skip_unchanged,
    )
    result.merge(
        create_rows(queryset, [item for item in ordered if item.stored is None], batch_size)
    )
    return result.in_payload_order()


def write_in_batches(
    writer: InsertStatement, items: Sequence[ValidatedItem], batch_size: int
) -> WriteResult:
    """One bulk load per group of items with the same fields where the backend copies them, or
    statements of ``batch_size`` rows; either way the rows are written sorted by key, so that
    concurrent writes of overlapping keys lock them in the same order."""
    result = WriteResult()
    backend = writer.backend
    names = [f.name for f in writer.target]
    for present, group in group_by_present_fields(items).items():
        group = in_key_order(group, names) if names else group
        if backend.copies(len(group)):
            result.merge(writer.execute(group, present))
            continue
        per_statement = backend.max_query_params // len(writer.columns)
        rows_per_statement = max(1, min(batch_size, per_statement))
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
    """One multi-row insert (an upsert when given ``unique_fields``) of a model: which columns it
    fills, which a conflict overwrites, and the rows; the backend writes and runs the SQL."""

    def __init__(
        self,
        model: type[models.Model],
        backend: BaseBulkBackend,
        unique_fields: Sequence[str] = (),
        skip_unchanged: bool = False,
    ) -> None:
        self.model = model
        self.skip_unchanged = skip_unchanged
        self.backend = backend
        self.target = model_fields_for(model, unique_fields)
        opts = model._meta
        includes_pk = opts.pk.name in unique_fields
        self.columns = [
            f
            for f in opts.local_concrete_fields
            if includes_pk or not (f.primary_key and isinstance(f, models.AutoField))
        ]
        self.bumped = auto_now_fields(model)
        self.rows = RowBuilder(model, self.columns, backend)

    def execute(self, items: Sequence[ValidatedItem], present: frozenset[str]) -> WriteResult:
        """Write the items; the backend returns a row for each item written, in the order
        sent. A conditional upsert (``skip_unchanged``) leaves some out, and returns each row's
        key with it: the items are then found by key."""
        rows = self.rows.build(items)
        returned = self.backend.insert(self._insert(present), rows)
        if self.backend.tells_inserted:
            inserted = [row[1] for row in returned]
        else:
            existed = {item.stored.pk for item in items if item.stored is not None}
            inserted = [row[0] not in existed for row in returned]
        origins: list[int] | None = [item.index for item in items]
        if len(returned) != len(items):
            origins = self._origins_by_key(items, rows, returned)
        result = WriteResult()
        for at, (row, new) in enumerate(zip(returned, inserted, strict=True)):
            name = "created_ids" if new else "updated_ids"
            getattr(result, name).append(row[0])
            if origins is not None:
                result.origins.setdefault(name, []).append(origins[at])
        return result

    def _origins_by_key(
        self, items: Sequence[ValidatedItem], rows: list[tuple], returned: list[tuple]
    ) -> list[int] | None:
        """The item of each returned row, by the conflict key it returns last; None when one
        cannot be told (then the ids are reported without their items)."""
        if not self.skip_unchanged or not self.target:
            return None
        positions = [self.columns.index(f) for f in self.target]
        by_key = {
            tuple(row[at] for at in positions): item.index
            for item, row in zip(items, rows, strict=True)
        }
        found = [by_key.get(tuple(row[-len(positions) :])) for row in returned]
        if None in found:
            return None
        return [index for index in found if index is not None]

    def _insert(self, present: frozenset[str]) -> Insert:
        """The insert of items carrying ``present``: a conflict overwrites those fields and the
        ``auto_now`` ones, never the target (one target column when there is nothing else)."""
        if not self.target:
            return Insert(self.model, self.columns)
        target_names = {f.name for f in self.target}
        updated = [f for f in model_fields_for(self.model, present) if f.name not in target_names]
        compared = updated if self.skip_unchanged else None
        updated = list({f.column: f for f in updated + self.bumped}.values()) or self.target[:1]
        return Insert(self.model, self.columns, self.target, updated, compared)


PLAIN_PRE_SAVE = (
    models.Field.pre_save,
    models.DateField.pre_save,
    models.DateTimeField.pre_save,
)


class RowBuilder:
    """The database values of the row each item proposes, in column order.

    When the backend's driver takes the columns' Python values as they are (built-in field types
    on PostgreSQL), values are taken straight from the validated data (or the stored row's
    columns, as the validator read them, or the model default) without building model instances;
    ``auto_now`` columns get one timestamp per batch. Otherwise they go through Django's
    ``pre_save`` and ``get_db_prep_save`` on a model instance, as ``Model.save()`` would.
    """

    def __init__(
        self, model: type[models.Model], columns: list[models.Field], backend: BaseBulkBackend
    ) -> None:
        self.model = model
        self.columns = columns
        self.connection = backend.connection
        self.passthrough_fields = backend.passthrough_fields
        self.passthrough_types = backend.passthrough_types
        self.direct = bool(self.passthrough_fields) and all(
            type(f).pre_save in PLAIN_PRE_SAVE and self._passthrough(f) for f in columns
        )

    def _passthrough(self, model_field: models.Field) -> bool:
        if model_field.is_relation:
            return (
                bool(model_field.many_to_one)
                and isinstance(model_field, models.ForeignKey)
                and self._passthrough(model_field.target_field)
            )
        return type(model_field) in self.passthrough_fields

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
        stored = item.stored
        values = []
        for model_field in self.columns:
            name = model_field.name
            if name in stamped:
                value = stamped[name]
            elif name in data:
                value = data[name]
                if isinstance(value, models.Model):
                    value = value.pk
            elif stored is not None:
                value = stored.value(model_field.attname)
            else:
                value = model_field.get_default()
            if value is not None and not isinstance(value, self.passthrough_types):
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
