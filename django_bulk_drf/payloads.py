"""What a bulk request asks for, read from its method, query string and body.

A ``BulkPayload`` is plain data (JSON-serialisable), so the same object describes a synchronous
request and a background operation staged for the Celery workers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework.request import Request

from .actions import OPERATIONS, BulkAction, OperationKind
from .exceptions import BadBulkRequest

IDS_HINT = "Give the ids as ?ids=1,2,3 or as a JSON array of ids."


@dataclass
class BulkPayload:
    """One bulk request: the operation kind's name, its items (objects, or ids for get/delete),
    its options."""

    operation: str
    items: list[Any]
    unique_fields: tuple[str, ...] = ()
    partial: bool = False

    @property
    def kind(self) -> OperationKind:
        """The declaration of its operation kind."""
        return OPERATIONS[self.operation]

    @property
    def total_items(self) -> int:
        """How many items (or ids) it carries."""
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def read_payload(
    viewset: Any, request: Request, action: BulkAction, items: list[Any] | None = None
) -> BulkPayload:
    """The payload of ``action``: ids from ``?ids=`` (or a body of ids, except on GET), else the
    items of the body (or ``items``, when the handler has read it) and ``?unique_fields=``."""
    kind = action.kinds[0]
    if not kind.validates:
        return BulkPayload(kind.name, await read_ids(viewset, request))
    unique_fields = parse_unique_fields(viewset, request.query_params.get("unique_fields"))
    if items is None:
        items = require_item_list(await request_body(request))
    kind = action.kind_for(unique_fields)
    return BulkPayload(kind.name, items, unique_fields, action.is_partial(kind))


async def request_body(request: Request) -> Any:
    """The parsed body; parsing a large body is CPU work, so it runs off the event loop."""
    return await sync_to_async(lambda: request.data)()


async def read_ids(viewset: Any, request: Request) -> list[Any]:
    """The ids of a get or delete: ``?ids=``, else (a delete) a JSON array in the body."""
    model = viewset.get_queryset().model
    if "ids" in request.query_params or request.method == "GET":
        return parse_ids(model, request.query_params.get("ids", ""))
    body = await request_body(request)
    if not isinstance(body, list):
        raise BadBulkRequest(IDS_HINT)
    return parse_ids(model, body)


def parse_ids(model: type[models.Model], raw_ids: Any) -> list[Any]:
    """Primary keys from ``?ids=1,2`` or a JSON array (of ids, or of objects carrying the pk)."""
    pk = model._meta.pk
    if isinstance(raw_ids, str):
        raw_ids = [part.strip() for part in raw_ids.split(",") if part.strip()]
    if not isinstance(raw_ids, list) or not raw_ids:
        raise BadBulkRequest(IDS_HINT)
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
