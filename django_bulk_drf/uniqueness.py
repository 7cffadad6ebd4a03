"""What must be unique in a bulk payload, checked once per batch instead of once per item.

DRF checks uniqueness with a ``UniqueValidator`` per field and a ``UniqueTogetherValidator`` per
field set, each running one query per item. A bulk validation takes them off its serializer
(``take_unique_validators``) and checks every item's claim at once (``taken_claims``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.db import models
from rest_framework.serializers import Serializer
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from .rows import StoredRow, chunked, key_filter
from .validated import NON_FIELD_ERRORS


@dataclass
class UniqueSet:
    """A set of model fields that must be unique together, with the message DRF would give."""

    sources: tuple[str, ...]
    error_key: str
    message: str
    names: tuple[str, ...] = ()


def take_unique_validators(
    serializer: Serializer, conflict_target: Sequence[str] | None = None
) -> list[UniqueSet]:
    """Remove DRF's per-item unique validators from ``serializer``; return what they checked,
    less the upsert's ``conflict_target`` (a row found by it is updated, not duplicated)."""
    unique_sets = []
    kept = []
    for validator in serializer.validators:
        if (
            isinstance(validator, UniqueTogetherValidator)
            and getattr(validator, "condition", None) is None
        ):
            sources = tuple(serializer.fields[name].source for name in validator.fields)
            message = validator.message.format(field_names=", ".join(validator.fields))
            unique_sets.append(
                UniqueSet(sources, NON_FIELD_ERRORS, str(message), tuple(validator.fields))
            )
        else:
            kept.append(validator)
    serializer.validators = kept
    for name, serializer_field in serializer.fields.items():
        validators = serializer_field.validators
        uniques = [v for v in validators if isinstance(v, UniqueValidator)]
        if uniques and uniques[0].lookup == "exact":
            serializer_field.validators = [v for v in validators if v not in uniques]
            unique_sets.append(
                UniqueSet(
                    (serializer_field.source or name,), name, str(uniques[0].message), (name,)
                )
            )
    if conflict_target is not None:
        target = set(conflict_target)
        unique_sets = [u for u in unique_sets if set(u.sources) != target]
    return unique_sets


def missing_unique_fields(
    unique_sets: Sequence[UniqueSet], data: Mapping[str, Any]
) -> dict[str, list[str]]:
    """A new row must carry every field of its unique sets (``UniqueTogetherValidator``)."""
    missing = {}
    for unique_set in unique_sets:
        if unique_set.error_key != NON_FIELD_ERRORS:
            continue
        for source in unique_set.sources:
            if source not in data:
                missing[source] = ["This field is required."]
    return missing


def claimed_value(
    model: type[models.Model],
    sources: Sequence[str],
    data: Mapping[str, Any],
    stored: StoredRow | None,
) -> tuple | None:
    """The values an item claims for a unique set (a related row by its id), or None when
    there is nothing to check (a NULL, or the stored row's own unchanged values)."""
    # A unique set names concrete fields (a reverse relation is never one).
    attnames = [cast(models.Field, model._meta.get_field(source)).attname for source in sources]
    values = []
    for source, attname in zip(sources, attnames, strict=True):
        if source in data:
            values.append(plain_value(data[source]))
        elif stored is not None:
            values.append(stored.value(attname))
        else:
            return None
    if any(value is None for value in values):
        return None
    if stored is not None and all(
        stored.value(attname) == value for attname, value in zip(attnames, values, strict=True)
    ):
        return None
    return tuple(values)


def taken_claims(
    manager: models.Manager, sources: Sequence[str], claims: Mapping[tuple, Any]
) -> Iterator[tuple]:
    """The claimed values another stored row holds already, in batched queries. ``claims``
    maps each value to the primary key of the row claiming it (None for a new row)."""
    for chunk in chunked(list(claims)):
        taken = manager.filter(key_filter(sources, chunk)).values_list("pk", *sources)
        for pk, *values in taken:
            value = tuple(values)
            if value in claims and claims[value] != pk:
                yield value


def plain_value(value: Any) -> Any:
    """A key value as the database column holds it: a related row by its primary key."""
    return value.pk if isinstance(value, models.Model) else value
