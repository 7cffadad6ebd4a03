"""What a bulk request asks for, read from its method, query string and body.

A ``BulkPayload`` is plain data (JSON-serialisable), so the same object describes a synchronous
request and a background operation staged for the Celery workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from .exceptions import BadBulkRequest


class Operation:
    """The operation names of the SPEC (the ``operation`` of a status, the 202 message)."""

    GET = "get"
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    UPSERT = "upsert"
    DELETE = "delete"

    WRITES = (CREATE, UPDATE, REPLACE, UPSERT)
    BY_IDS = (GET, DELETE)


@dataclass
class BulkPayload:
    """One bulk request: the operation, its items (objects, or ids for get/delete), its options."""

    operation: str
    items: list[Any]
    unique_fields: tuple[str, ...] = ()
    partial: bool = False

    @property
    def total_items(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_operation(method: str, unique_fields: Sequence[str]) -> tuple[str, bool]:
    """The operation and partial flag of an array write: POST creates, PATCH updates, PUT replaces;
    with ``unique_fields`` each is an upsert (POST and PATCH partial, PUT full)."""
    method = method.upper()
    if unique_fields:
        return Operation.UPSERT, method != "PUT"
    if method == "POST":
        return Operation.CREATE, False
    if method == "PATCH":
        return Operation.UPDATE, True
    return Operation.REPLACE, False


def parse_ids(model: type[models.Model], raw_ids: Any) -> list[Any]:
    """Primary keys from ``?ids=1,2`` or a JSON array (of ids, or of objects carrying the pk)."""
    pk = model._meta.pk
    if isinstance(raw_ids, str):
        raw_ids = [part.strip() for part in raw_ids.split(",") if part.strip()]
    if not isinstance(raw_ids, list) or not raw_ids:
        raise BadBulkRequest("Give the ids as ?ids=1,2,3 or as a JSON array of ids.")
    ids = []
    for raw in raw_ids:
        if isinstance(raw, dict):
            raw = raw.get(pk.name)
        if raw is None or isinstance(raw, bool | list | dict | float):
            raise BadBulkRequest(f"Invalid id: {raw!r}.")
        try:
            value = pk.to_python(raw)
            pk.run_validators(value)  # an integer key outside its column's range is no id either
            ids.append(value)
        except (DjangoValidationError, TypeError, ValueError) as exc:
            raise BadBulkRequest(f"Invalid id: {raw!r}.") from exc
    return list(dict.fromkeys(ids))


def parse_unique_fields(viewset: Any, raw: str | None) -> tuple[str, ...]:
    """The conflict target named by ``?unique_fields=``, checked against the allowed targets."""
    if raw is None:
        return ()
    requested = [name.strip() for name in raw.split(",") if name.strip()]
    allowed = viewset.get_bulk_unique_fields()
    for target in allowed:
        if sorted(target) == sorted(requested):
            return tuple(target)
    raise BadBulkRequest(
        "unique_fields must name one of the allowed conflict targets.",
        unique_fields=requested,
        allowed_unique_fields=[list(target) for target in allowed],
    )


def require_item_list(data: Any) -> list[Any]:
    """The body of an array endpoint must be an array; items that are not objects are reported
    by index during validation."""
    if not isinstance(data, list):
        raise BadBulkRequest(f"Expected a JSON array of objects, got {json_type(data)}.")
    return data


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number"
