"""List-level validation of a bulk payload with the viewset's own serializer.

One serializer instance (the "child", as in DRF's ``ListSerializer``) validates every item, so
field, ``validate_<field>`` and ``validate()`` hooks all run. What DRF would do with one query per
item is done here with one query per batch:

- existing rows are fetched at once (by ``id`` or by the upsert conflict target), as full model
  instances only when the serializer's validation may read ``serializer.instance``; else with
  the columns the write needs (``rows.py``);
- ``PrimaryKeyRelatedField`` values are resolved with one ``in_bulk`` per field;
- ``UniqueValidator`` / ``UniqueTogetherValidator`` are replaced by a batched check that also
  catches duplicates inside the payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework.exceptions import ValidationError
from rest_framework.fields import CharField, IntegerField, empty
from rest_framework.relations import PrimaryKeyRelatedField
from rest_framework.serializers import Serializer
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from .actions import OperationKind, RowKey
from .fastpath import REFUSED, fast_validator_for
from .protocols import BulkViewSet
from .rows import BatchedPrimaryKeyLookup, StoredRow, chunked, key_filter, read_rows
from .validated import NON_FIELD_ERRORS, ValidatedItem, ValidationOutcome


@dataclass
class UniqueSet:
    """A set of model fields that must be unique together, with the message DRF would give."""

    sources: tuple[str, ...]
    error_key: str
    message: str
    names: tuple[str, ...] = ()


class BulkItemsValidator:
    """Validates a list of items for one bulk operation of a viewset.

    ``kind.rows`` says how the items name their rows: not at all (new rows), by primary key (the
    row must exist in ``get_queryset()``) or by the conflict target (it may exist). ``partial``
    follows DRF: items updating an existing row only need the fields they change. An upsert item
    whose key does not exist yet is always validated in full, since it will be inserted.
    """

    def __init__(
        self,
        viewset: BulkViewSet,
        kind: OperationKind,
        *,
        partial: bool = False,
        unique_fields: Sequence[str] = (),
        batch_queries: bool = True,
    ) -> None:
        self.viewset = viewset
        self.row_key = kind.rows
        self.partial = partial
        self.unique_fields = tuple(unique_fields)
        self.batch_queries = batch_queries
        self.scoped_queryset = viewset.get_queryset()
        self.model = self.scoped_queryset.model
        self.db = self.scoped_queryset.db
        self.pk_name = self.model._meta.pk.name
        child = viewset.get_serializer(partial=partial)
        if not isinstance(child, Serializer):
            raise ImproperlyConfigured(
                f"{type(viewset).__name__}.get_serializer() must give a Serializer (one item's "
                f"fields) to validate bulk items, not a {type(child).__name__}."
            )
        self.child = child
        self.writable = {name: f for name, f in self.child.fields.items() if not f.read_only}
        self.unique_sets = self._take_unique_validators() if batch_queries else []
        self.fast = fast_validator_for(self.child) if batch_queries else None
        # Rows as plain columns when nothing in the validation can read serializer.instance.
        self.lean_rows = self.fast is not None and not self.fast.reads_instance

    # -- public ---------------------------------------------------------------------------------

    def validate(self, items: Sequence[Any]) -> ValidationOutcome:
        """Validate every item; valid ones are returned in payload order with their row."""
        outcome = ValidationOutcome()
        objects = self._objects_only(items, outcome)
        keys = self._keys(objects, outcome)
        existing = self._existing_rows(keys, self._row_columns(objects), outcome)
        if self.batch_queries:
            self._batch_related_lookups(objects.values())
        for index, item in objects.items():
            if index in outcome.errors:
                continue
            key = keys.get(index)
            stored = existing.get(key) if key is not None else None
            validated = self._validate_item(index, item, stored, outcome)
            if validated is not None:
                outcome.items.append(validated)
        self._check_unique_sets(outcome)
        outcome.items = [item for item in outcome.items if item.index not in outcome.errors]
        return outcome

    def claimed_keys(self, item: Any) -> list[tuple[int, tuple]]:
        """The keys an item holds across its whole payload, found without a query, in the order
        they are checked: ``(0, its pk or conflict target)``, then ``(n, its values of unique
        set n)``, each normalised as ``validate`` normalises it. Keys that cannot collide
        (unreadable, or holding a NULL) are left out, and an item whose row key is unreadable
        holds none (its own validation refuses it). The background path claims them in payload
        order while it stages the payload: the first item keeps a key, a later one is refused
        with ``duplicate_error`` (the sync path's errors)."""
        if not isinstance(item, dict):
            return []
        row_key, unique_sets = self._key_readers
        claims: list[tuple[int, tuple]] = []
        if row_key:
            values: list[Any] = []
            for name, read in row_key:
                raw = item.get(name, empty)
                if raw is empty and self.row_key is RowKey.PK:
                    return []  # the item's validation refuses it
                if raw is empty or raw is None:
                    if not self._validates_field(name):
                        return []  # the item's validation refuses it
                    values.append(None)  # a new row
                    continue
                try:
                    values.append(read(raw))
                except (ValidationError, DjangoValidationError):
                    return []
            if None not in values:
                claims.append((0, tuple(values)))
        for number, readers in unique_sets:
            try:
                values = [read(item[name]) for name, read in readers]
            except (ValidationError, DjangoValidationError, TypeError, KeyError):
                continue  # an unreadable value (or a NULL): the item's own validation sees it
            claims.append((number, tuple(values)))
        return claims

    @cached_property
    def _key_readers(self) -> tuple[list[tuple[str, Any]], list[tuple[int, list]]]:
        """How ``claimed_keys`` reads each value: ``_key_value``'s conversion, with the plain
        JSON value taken as it is where the conversion would return it unchanged."""

        def reader(name: str, related_as_text: bool) -> Any:
            field = self.writable.get(name)
            if related_as_text and isinstance(field, PrimaryKeyRelatedField):
                return str
            if field is None:
                return self.model._meta.get_field(name).to_python
            convert = field.to_internal_value
            if type(field) is CharField and field.trim_whitespace:
                return lambda raw: raw.strip() if type(raw) is str else convert(raw)
            if type(field) is IntegerField:
                return lambda raw: raw if type(raw) is int else read_integer(raw, convert)
            return lambda raw: plain_value(convert(raw))

        def unique_reader(name: str) -> Any:
            read = reader(name, related_as_text=True)

            def read_unique(raw: Any) -> Any:
                if raw is None:
                    raise KeyError(name)  # NULLs never collide
                return read(raw)

            return read_unique

        row_key = [(name, reader(name, related_as_text=False)) for name in self._key_names()]
        unique_sets = [
            (number, [(name, unique_reader(name)) for name in unique_set.names])
            for number, unique_set in enumerate(self.unique_sets, 1)
        ]
        return row_key, unique_sets

    def duplicate_error(self, group: int, first_index: int) -> dict[str, list[str]]:
        """The error of an item whose key ``group`` (of ``claimed_keys``) item ``first_index``
        holds already."""
        if group == 0:
            return {
                NON_FIELD_ERRORS: [
                    f"Duplicate of item {first_index}: "
                    f"{', '.join(self._key_names())} must be unique within the payload."
                ]
            }
        unique_set = self.unique_sets[group - 1]
        return {unique_set.error_key: [unique_set.message]}

    # -- steps ----------------------------------------------------------------------------------

    def _objects_only(self, items: Sequence[Any], outcome: ValidationOutcome) -> dict[int, dict]:
        objects = {}
        for index, item in enumerate(items):
            if isinstance(item, dict):
                objects[index] = item
            else:
                message = self.child.error_messages["invalid"].format(datatype=type(item).__name__)
                outcome.add_error(index, {NON_FIELD_ERRORS: [message]})
        return objects

    def _key_names(self) -> tuple[str, ...]:
        if self.row_key is RowKey.PK:
            return (self.pk_name,)
        if self.row_key is RowKey.UNIQUE_FIELDS:
            return self.unique_fields
        return ()

    def _keys(self, objects: dict[int, dict], outcome: ValidationOutcome) -> dict[int, tuple]:
        """Each item's key (pk or conflict target), normalised; a duplicate fails the later item."""
        names = self._key_names()
        if not names:
            return {}
        keys: dict[int, tuple] = {}
        first_index: dict[tuple, int] = {}
        for index, item in objects.items():
            key = self._item_key(index, item, names, outcome)
            if key is None:
                continue
            if None not in key and key in first_index:
                outcome.add_error(
                    index,
                    {
                        NON_FIELD_ERRORS: [
                            f"Duplicate of item {first_index[key]}: "
                            f"{', '.join(names)} must be unique within the payload."
                        ]
                    },
                )
                continue
            first_index.setdefault(key, index)
            keys[index] = key
        return keys

    def _item_key(
        self, index: int, item: dict, names: Sequence[str], outcome: ValidationOutcome
    ) -> tuple | None:
        values: list[Any] = []
        errors: dict[str, list[Any]] = {}
        for name in names:
            raw = item.get(name, empty)
            if raw is empty and self.row_key is RowKey.PK:
                errors[name] = ["This field is required to find the row to update."]
                continue
            if raw is empty or raw is None:
                # A missing key means a new row: the serializer reports what it lacks, unless
                # it does not validate that field (a read-only primary key, say).
                if not self._validates_field(name):
                    errors[name] = ["This field is required."]
                    continue
                values.append(None)
                continue
            try:
                values.append(plain_value(self._key_value(name, raw)))
            except (ValidationError, DjangoValidationError) as exc:
                detail = exc.detail if isinstance(exc, ValidationError) else exc.messages
                errors[name] = detail if isinstance(detail, list) else [detail]
        if errors:
            outcome.add_error(index, errors)
            return None
        return tuple(values)

    def _validates_field(self, name: str) -> bool:
        return name in self.writable

    def _key_value(self, name: str, raw: Any) -> Any:
        serializer_field = self.writable.get(name)
        if serializer_field is not None:
            return serializer_field.to_internal_value(raw)
        model_field = self.model._meta.get_field(name)
        return model_field.to_python(raw)

    def _row_columns(self, objects: dict[int, dict]) -> list[str] | None:
        """The columns (attnames) to read of the stored rows, or None for full instances: the
        primary key, the lookup key, the unique sets' fields and, for an upsert, every column
        of the insert that some item leaves out (its stored value fills the proposed row)."""
        if not self.lean_rows:
            return None
        opts = self.model._meta
        names = [self.pk_name, *self._key_names()]
        names += [source for unique_set in self.unique_sets for source in unique_set.sources]
        if self.row_key is RowKey.UNIQUE_FIELDS:
            sources = {name: f.source for name, f in self.writable.items()}
            stamped = ("auto_now", "auto_now_add")  # set by the write itself
            inserted = [
                f.name
                for f in opts.local_concrete_fields
                if not f.primary_key and not any(getattr(f, flag, False) for flag in stamped)
            ]
            for present in {frozenset(item) for item in objects.values()}:
                carried = {sources[name] for name in present if name in sources}
                names += [name for name in inserted if name not in carried]
        return list(dict.fromkeys(opts.get_field(name).attname for name in names))

    def _existing_rows(
        self, keys: dict[int, tuple], columns: list[str] | None, outcome: ValidationOutcome
    ) -> dict[tuple, StoredRow]:
        """Rows the items name, from the viewset's queryset (scoped), fetched in batches."""
        if not keys:
            return {}
        names = self._key_names()
        wanted = [key for key in dict.fromkeys(keys.values()) if None not in key]
        existing = read_rows(self.scoped_queryset, names, wanted, columns)
        if self.row_key is RowKey.PK:
            for index, key in keys.items():
                if key not in existing:
                    outcome.add_error(index, {self.pk_name: ["Not found."]})
        elif self.row_key is RowKey.UNIQUE_FIELDS:
            self._refuse_rows_outside_scope(keys, existing, outcome)
        return existing

    def _refuse_rows_outside_scope(
        self, keys: dict[int, tuple], existing: dict[tuple, StoredRow], outcome
    ) -> None:
        """An upsert must not update a row the viewset's queryset does not show."""
        names = self._key_names()
        missing = [key for key in dict.fromkeys(keys.values()) if None not in key]
        missing = [key for key in missing if key not in existing]
        if not missing or not self.scoped_queryset.query.has_filters():
            return  # an unfiltered queryset hides no row
        manager = self.model._default_manager.db_manager(self.db)
        hidden: set[tuple] = set()
        for chunk in chunked(missing):
            hidden.update(manager.filter(key_filter(names, chunk)).values_list(*names))
        for index, key in keys.items():
            if key in hidden:
                outcome.add_error(
                    index,
                    {NON_FIELD_ERRORS: ["A row with this key exists and cannot be changed."]},
                )

    def _validate_item(
        self, index: int, item: dict, stored: StoredRow | None, outcome: ValidationOutcome
    ) -> ValidatedItem | None:
        if self.row_key is RowKey.UNIQUE_FIELDS and stored is None:
            partial = False
        else:
            partial = self.partial
        self.child.partial = partial
        # The compiled path reads the instance only when not lean; DRF always gets it.
        if stored is not None and not self.lean_rows:
            self.child.instance = stored.instance
        try:
            data = self.fast.fast(item) if self.fast is not None else REFUSED
            if data is REFUSED:
                self.child.instance = stored.instance if stored is not None else None
                data = self.child.run_validation(item)
        except ValidationError as exc:
            outcome.add_error(index, exc.detail)
            return None
        finally:
            self.child.instance = None
        if stored is None:
            missing = self._missing_unique_fields(data)
            if missing:
                outcome.add_error(index, missing)
                return None
        if self.row_key is RowKey.UNIQUE_FIELDS and self.pk_name in self.unique_fields:
            data.setdefault(self.pk_name, self._key_value(self.pk_name, item[self.pk_name]))
        return ValidatedItem(index, dict(data), stored=stored)

    # -- batched relation lookups ---------------------------------------------------------------

    def _batch_related_lookups(self, items: Iterable[dict]) -> None:
        """Resolve every ``PrimaryKeyRelatedField`` with one query per field, not one per item."""
        items = list(items)
        for name, serializer_field in self.child.fields.items():
            if not isinstance(serializer_field, PrimaryKeyRelatedField):
                continue
            if serializer_field.read_only or serializer_field.pk_field is not None:
                continue
            raw_values = {
                item[name]
                for item in items
                if item.get(name) is not None and not isinstance(item[name], dict | list)
            }
            resolve = BatchedPrimaryKeyLookup(serializer_field, raw_values)
            serializer_field.to_internal_value = resolve  # type: ignore[method-assign]  # this field only

    # -- batched uniqueness ---------------------------------------------------------------------

    def _take_unique_validators(self) -> list[UniqueSet]:
        """Remove DRF's per-item unique validators from the child; return what they checked."""
        unique_sets = []
        kept = []
        for validator in self.child.validators:
            if (
                isinstance(validator, UniqueTogetherValidator)
                and getattr(validator, "condition", None) is None
            ):
                sources = tuple(self.child.fields[name].source for name in validator.fields)
                message = validator.message.format(field_names=", ".join(validator.fields))
                unique_sets.append(
                    UniqueSet(sources, NON_FIELD_ERRORS, str(message), tuple(validator.fields))
                )
            else:
                kept.append(validator)
        self.child.validators = kept
        for name, serializer_field in self.child.fields.items():
            validators = serializer_field.validators
            uniques = [v for v in validators if isinstance(v, UniqueValidator)]
            if uniques and uniques[0].lookup == "exact":
                serializer_field.validators = [v for v in validators if v not in uniques]
                unique_sets.append(
                    UniqueSet(
                        (serializer_field.source or name,), name, str(uniques[0].message), (name,)
                    )
                )
        if self.row_key is RowKey.UNIQUE_FIELDS:
            target = set(self.unique_fields)
            unique_sets = [u for u in unique_sets if set(u.sources) != target]
        return unique_sets

    def _missing_unique_fields(self, data: dict) -> dict[str, list[str]]:
        """A new row must carry every field of its unique sets (``UniqueTogetherValidator``)."""
        missing = {}
        for unique_set in self.unique_sets:
            if unique_set.error_key != NON_FIELD_ERRORS:
                continue
            for source in unique_set.sources:
                if source not in data:
                    missing[source] = ["This field is required."]
        return missing

    def _check_unique_sets(self, outcome: ValidationOutcome) -> None:
        for unique_set in self.unique_sets:
            self._check_unique_set(unique_set, outcome)

    def _check_unique_set(self, unique_set: UniqueSet, outcome: ValidationOutcome) -> None:
        sources = unique_set.sources
        claims: dict[tuple, ValidatedItem] = {}
        for item in outcome.items:
            if item.index in outcome.errors:
                continue
            value = self._unique_value(item, sources)
            if value is None:
                continue
            if value in claims:
                outcome.add_error(item.index, {unique_set.error_key: [unique_set.message]})
                continue
            claims[value] = item
        if not claims:
            return
        manager = self.model._default_manager.db_manager(self.db)
        for chunk in chunked(list(claims)):
            taken = manager.filter(key_filter(sources, chunk)).values_list("pk", *sources)
            for pk, *values in taken:
                claimant = claims.get(tuple(values))
                if claimant is not None and (claimant.stored is None or claimant.stored.pk != pk):
                    outcome.add_error(claimant.index, {unique_set.error_key: [unique_set.message]})

    def _unique_value(self, item: ValidatedItem, sources: Sequence[str]) -> tuple | None:
        """The values an item claims for a unique set (a related row by its id), or None when
        there is nothing to check."""
        opts = self.model._meta
        stored = item.stored
        values = []
        for source in sources:
            if source in item.data:
                values.append(plain_value(item.data[source]))
            elif stored is not None:
                values.append(stored.value(opts.get_field(source).attname))
            else:
                return None
        if any(value is None for value in values):
            return None
        if stored is not None and all(
            stored.value(opts.get_field(source).attname) == value
            for source, value in zip(sources, values, strict=True)
        ):
            return None
        return tuple(values)


def read_integer(raw: Any, convert: Any) -> Any:
    """An ``IntegerField``'s value of ``raw``: plain ASCII digits (a CSV cell) read at once, as
    DRF would read them; anything else by ``convert``."""
    if type(raw) is str and len(raw) < 19 and raw.isascii() and raw.isdigit():
        return int(raw)
    return convert(raw)


def plain_value(value: Any) -> Any:
    """A key value as the database column holds it: a related row by its primary key."""
    return value.pk if isinstance(value, models.Model) else value
