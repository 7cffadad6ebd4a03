"""Update and upsert items equal to their stored row: told apart, and left alone.

An item is *unchanged* when every column it writes already holds the item's value, ``auto_now``
columns aside (the write would bump them, which is not a change of the item's data). Such an item
is not written at all: no ``UPDATE``, no ``auto_now`` bump, no trigger, and its row is reported in
``unchanged_ids``.

Two ways to find them, one per writer:

- an upsert sent as ``INSERT … ON CONFLICT … DO UPDATE`` lets the database decide: the update
  carries a ``WHERE`` that some column differs (``backends.base.BaseBulkBackend.
  skip_unchanged_sql``), so the comparison is made in the column's own type, and a row it leaves
  alone is not returned. ``settle_unchanged`` names those rows afterwards;
- an update by primary key (the ORM's ``bulk_update``) first reads the columns the items write,
  one query per batch of keys, and compares them with the items' values as the model field reads
  them (``split_unchanged``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import models

from .rows import chunked, read_rows
from .validated import ValidatedItem


def compared_fields(model: type[models.Model], present: frozenset[str]) -> list[models.Field]:
    """The columns an item carrying ``present`` would write, but for the key and ``auto_now``."""
    fields = []
    for name in present:
        model_field = model._meta.get_field(name)
        if not model_field.concrete or model_field.many_to_many or model_field.primary_key:
            continue
        if getattr(model_field, "auto_now", False):
            continue
        fields.append(model_field)
    return fields


def item_value(model_field: models.Field, data: dict[str, Any]) -> Any:
    """The item's value of a column as the database would hold it, read back into Python."""
    value = data[model_field.name]
    if isinstance(value, models.Model):
        value = value.pk
    if model_field.is_relation:
        return model_field.target_field.to_python(value)  # type: ignore[attr-defined]  # a key
    return model_field.to_python(value)


def split_unchanged(
    queryset: models.QuerySet, items: Sequence[ValidatedItem]
) -> tuple[list[ValidatedItem], list[Any]]:
    """The items that change their row, and the primary keys of the rows the others equal (in
    the items' order). One query per ``LOOKUP_CHUNK`` rows of items carrying the same fields."""
    model = queryset.model
    manager = model._default_manager.db_manager(queryset.db)
    pk_attname = model._meta.pk.attname
    groups: dict[frozenset, list[ValidatedItem]] = {}
    for item in items:
        groups.setdefault(item.present_fields, []).append(item)
    same: set[int] = set()
    for present, group in groups.items():
        fields = compared_fields(model, present)
        columns = [pk_attname, *(f.attname for f in fields)]
        for part in chunked(group):
            stored = {
                values[0]: values[1:]
                for values in manager.filter(pk__in=[item.stored.pk for item in part]).values_list(
                    *columns
                )
            }
            for item in part:
                row = stored.get(item.stored.pk)
                if row is not None and all(
                    item_value(f, item.data) == value for f, value in zip(fields, row, strict=True)
                ):
                    same.add(id(item))
    changed = [item for item in items if id(item) not in same]
    unchanged = [item.stored_row.pk for item in items if id(item) in same]
    return changed, unchanged


def settle_unchanged(
    queryset: models.QuerySet,
    items: Sequence[ValidatedItem],
    unique_fields: Sequence[str],
    written: set[Any],
) -> list[tuple[Any, int]]:
    """The rows of the items that the conditional upsert neither inserted nor updated
    (``written``: the ids it inserted or updated), as ``(primary key, item index)`` in the items'
    order. Those are the stored rows the items were validated against, and, rarely, rows another
    transaction inserted with equal values since: looked up by key."""
    unchanged = [
        (item.stored.pk, item.index)
        for item in items
        if item.stored is not None and item.stored.pk not in written
    ]
    missing = len(items) - len(written) - len(unchanged)
    if missing > 0:
        unchanged += concurrent_rows(queryset, items, unique_fields, written)
    return unchanged


def concurrent_rows(
    queryset: models.QuerySet,
    items: Sequence[ValidatedItem],
    unique_fields: Sequence[str],
    written: set[Any],
) -> list[tuple[Any, int]]:
    """The rows with the keys of new items that this write did not insert, as ``(primary key,
    item index)``."""
    model = queryset.model
    opts = model._meta
    names = list(unique_fields)
    keys = []
    for item in items:
        if item.stored is None:
            values = (item.data.get(name) for name in names)
            key = tuple(v.pk if isinstance(v, models.Model) else v for v in values)
            keys.append((key, item.index))
    manager = model._default_manager.db_manager(queryset.db)
    columns = list(dict.fromkeys([opts.pk.attname, *(opts.get_field(n).attname for n in names)]))
    rows = read_rows(manager.all(), names, [key for key, _ in keys], columns)
    return [
        (rows[key].pk, index) for key, index in keys if key in rows and rows[key].pk not in written
    ]
