"""What a bulk request asks for, read from its method, query string and body.

A ``BulkPayload`` is plain data (JSON-serialisable), so the same object describes a synchronous
request and a background operation staged for the Celery workers. A ``/bulk/`` body of items is not
read whole: ``payload_options`` gives the payload without its items, and ``body_batches`` the items
a batch at a time, for ``staging.Staging``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import QueryDict
from rest_framework.request import Request

from .actions import OPERATIONS, BulkAction, OperationKind
from .exceptions import BadBulkRequest
from .protocols import BulkViewSet
from .streams import NotAnArray

ARRAY_HINT = "expected a JSON array of objects (or NDJSON, or CSV with a header row)"
IDS_HINT = "Give the ids as ?ids=1,2,3 or as a JSON array of ids."


@dataclass
class BulkPayload:
    """One bulk request: the operation kind's name, its items (objects, or ids for get/delete),
    its options."""

    operation: str
    items: list[Any]
    unique_fields: tuple[str, ...] = ()
    partial: bool = False
    #: ``?dry_run=true``: run everything, report what would be done, write nothing.
    dry_run: bool = False
    #: Items equal to their stored row are left alone (``get_bulk_skip_unchanged``).
    skip_unchanged: bool = False

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


def read_payload(
    viewset: BulkViewSet, request: Request, action: BulkAction, items: list[Any] | None = None
) -> BulkPayload:
    """The payload of ``action``: ids from ``?ids=`` (or a body of ids, except on GET), else the
    items of the body (or ``items``, when the handler has read it) and ``?unique_fields=``.
    Parses the body: call it in a thread."""
    kind = action.kinds[0]
    if not kind.validates:
        ids = read_ids(viewset, request)
        dry_run = not kind.reads and parse_dry_run(request.query_params.get("dry_run"))
        return BulkPayload(kind.name, ids, dry_run=dry_run)
    payload = payload_options(viewset, request, action)
    if items is None:
        require_body(request)
        items = require_item_list(request.data)
    payload.items = items
    return payload


def payload_options(viewset: BulkViewSet, request: Request, action: BulkAction) -> BulkPayload:
    """The payload of an ``action`` that takes items, without them: its kind and options."""
    unique_fields = parse_unique_fields(viewset, request.query_params.get("unique_fields"))
    kind = action.kind_for(unique_fields)
    return BulkPayload(
        kind.name,
        [],
        unique_fields,
        action.is_partial(kind),
        dry_run=parse_dry_run(request.query_params.get("dry_run")),
        skip_unchanged=kind.changes_rows and viewset.get_bulk_skip_unchanged(),
    )


TRUE_VALUES = frozenset({"true", "1", "yes", "on"})
FALSE_VALUES = frozenset({"false", "0", "no", "off", ""})


def parse_dry_run(raw: str | None) -> bool:
    """``?dry_run=``: true or false (as DRF's ``BooleanField`` spells them); anything else is a
    ``400``, not a real run the client did not ask for."""
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise BadBulkRequest(f"dry_run must be true or false, not {raw!r}.")


async def request_body(request: Request) -> Any:
    """The parsed body; parsing a large body is CPU work, so it runs off the event loop."""
    return await sync_to_async(lambda: request.data)()


def body_batches(request: Request) -> Iterator[list[Any]]:
    """The items of an array body a batch at a time, read a part at a time by the parsers that
    can (``parsers.py``); a project's own parser reads it whole. Blocking: call it in a thread."""
    stream = require_body(request)
    negotiator, parsers = request.negotiator, request.parsers or ()
    parser = negotiator.select_parser(request, parsers) if negotiator is not None else None
    if parser is None or not hasattr(parser, "stream_batches"):
        yield require_item_list(request.data)
        return
    try:
        yield from parser.stream_batches(stream, request.content_type, request.parser_context)
    except NotAnArray as exc:
        require_item_list(exc.value)


def body_stream(request: Request) -> Any:
    """The body as a stream: DRF's ``request.stream``, or, for a body sent without a
    ``Content-Length`` (``Transfer-Encoding: chunked``: a client streaming it), which DRF takes
    for no body, the request itself (Django has received it whole, to a temporary file)."""
    stream = request.stream
    if stream is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return request._request
    return stream


def require_body(request: Request) -> Any:
    """The body's stream; an empty body is a ``400`` saying so."""
    stream = body_stream(request)
    if stream is None:
        raise BadBulkRequest(f"The body is empty: {ARRAY_HINT}")
    return stream


def read_ids(viewset: BulkViewSet, request: Request) -> list[Any]:
    """The ids of a get or delete: ``?ids=``, else (a delete) a JSON array in the body. Parses
    the body: call it in a thread."""
    model = viewset.get_queryset().model
    if "ids" in request.query_params or request.method == "GET":
        return parse_ids(model, request.query_params.get("ids", ""))
    body = request.data
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


def parse_unique_fields(viewset: BulkViewSet, raw: str | None) -> tuple[str, ...]:
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
        raise BadBulkRequest(f"{ARRAY_HINT[0].upper()}{ARRAY_HINT[1:]}, got {json_type(data)}.")
    return data


def json_type(value: Any) -> str:
    if isinstance(value, QueryDict):  # what DRF's form and multipart parsers give
        return "form data"
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number"
