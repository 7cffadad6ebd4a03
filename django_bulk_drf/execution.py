"""Validate and write one bulk payload through a viewset, in one transaction.

These are plain synchronous functions: the request handlers call them off the event loop, and the
Celery tasks call them once per chunk with a viewset rebuilt for the requesting user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction

from .backends import bulk_backend
from .dryrun import rehearse
from .exceptions import BulkValidationError
from .payloads import BulkPayload
from .protocols import BulkViewSet
from .serializers import BulkItemsValidator
from .settings import bulk_settings
from .writers import WriteResult

try:
    from psycopg import ClientCursor
except ImportError:  # psycopg2, or no PostgreSQL driver
    ClientCursor = None  # type: ignore[assignment,misc]


@dataclass
class BulkOutcome(WriteResult):
    """What one payload (or chunk) did: the ids written, the items refused, the rows read (get)."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)
    #: A dry run's item indices by what would happen to them (``created``, ``updated``, …).
    indices: dict[str, list[int]] = field(default_factory=dict)


def execute_payload(
    viewset: BulkViewSet,
    payload: BulkPayload,
    *,
    skip_invalid: bool = False,
    index_map: Sequence[int] | None = None,
    validator: BulkItemsValidator | None = None,
) -> BulkOutcome:
    """Run ``payload`` through ``viewset`` inside the caller's transaction.

    With ``skip_invalid`` (the background path) invalid items are reported and the rest written;
    otherwise any invalid item raises ``BulkValidationError`` before anything is written.
    ``index_map`` turns an item's position in ``payload`` into its index in the whole operation.
    ``validator`` (``payload_validator``) may be one made for an earlier payload of the same
    viewset and kind: a worker reuses one for the chunks of a run.
    """
    kind = payload.kind
    outcome = BulkOutcome()
    if kind.reads:
        outcome.rows = read_rows(viewset, payload.items)
        return outcome
    if not kind.validates:
        write_into(outcome, viewset, payload, payload.items)
        return outcome
    validated = (validator or payload_validator(viewset, payload)).validate(payload.items)
    outcome.errors = validated.error_list()
    if index_map is not None:
        for error in outcome.errors:
            error["index"] = index_map[error["index"]]
    if outcome.errors and not skip_invalid:
        raise BulkValidationError(payload.total_items, outcome.errors)
    if validated.items:
        write_into(outcome, viewset, payload, validated.items, index_map)
    return outcome


def payload_validator(viewset: BulkViewSet, payload: BulkPayload) -> BulkItemsValidator:
    """The validator of the payload's items, with the viewset's serializer."""
    return BulkItemsValidator(
        viewset,
        payload.kind,
        partial=payload.partial,
        unique_fields=payload.unique_fields,
        batch_queries=bulk_settings.AUTO_OPTIMIZE_QUERIES,
    )


def write_items(viewset: BulkViewSet, payload: BulkPayload, items: list[Any]) -> WriteResult:
    """The payload kind's write hook, as ``perform_bulk_upsert(items, unique_fields)``."""
    kind = payload.kind
    if kind.hook is None:
        raise ValueError(f"a {payload.operation} reads rows: it has no write hook")
    hook = getattr(viewset, kind.hook)
    return hook(items, *(getattr(payload, name) for name in kind.hook_args))


def write_into(
    outcome: BulkOutcome,
    viewset: BulkViewSet,
    payload: BulkPayload,
    items: list[Any],
    index_map: Sequence[int] | None = None,
) -> None:
    """``write_items``, its ids added to ``outcome``; a dry run's is rolled back at once and
    reports item indices (``dryrun.rehearse``)."""
    if not payload.dry_run:
        outcome.merge(write_items(viewset, payload, items))
        return
    db = viewset.get_queryset().db
    written, outcome.indices = rehearse(
        db, lambda: write_items(viewset, payload, items), items, index_map
    )
    outcome.merge(written)


def read_rows(viewset: BulkViewSet, ids: list[Any]) -> list[Any]:
    """The serialized rows of ``get_queryset()`` with these ids, in the order asked."""
    queryset = viewset.filter_queryset(viewset.get_queryset()).filter(pk__in=ids)
    rows = {row.pk: row for row in queryset}
    ordered = [rows[pk] for pk in ids if pk in rows]
    return list(viewset.get_serializer(ordered, many=True).data)


def run_in_transaction(
    viewset: BulkViewSet, payload: BulkPayload, timeout: float, **options: Any
) -> BulkOutcome:
    """``execute_payload`` in its own transaction, with a statement timeout where supported."""
    db = viewset.get_queryset().db
    connection = connections[db]
    with transaction.atomic(using=db), connection.execute_wrapper(TimeoutAhead(db, timeout)):
        return execute_payload(viewset, payload, **options)


class TimeoutAhead:
    """An ``execute_wrapper`` that caps the statements of the transaction at ``seconds``, sent in
    the same round trip as its first statement: ``SET LOCAL statement_timeout = …;`` ahead of it,
    in one query string, on PostgreSQL through psycopg 3's client-side binding cursors (Django's
    default), which merge the parameters into the query and send it in the simple query protocol
    (several statements allowed); the first statement's own result is then made the cursor's
    (``nextset``). Elsewhere (server-side binding, psycopg2, ``executemany``, other databases) the
    backend sets the timeout in a statement of its own."""

    def __init__(self, alias: str, seconds: float) -> None:
        self.alias = alias
        self.seconds = seconds
        self.pending = bool(seconds)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: dict) -> Any:
        if not self.pending:
            return execute(sql, params, many, context)
        self.pending = False
        cursor = context["cursor"].cursor
        if many or ClientCursor is None or not isinstance(cursor, ClientCursor):
            bulk_backend(self.alias).set_statement_timeout(self.seconds)
            return execute(sql, params, many, context)
        milliseconds = max(1, int(self.seconds * 1000))
        result = execute(
            f"SET LOCAL statement_timeout = {milliseconds}; {sql}", params, many, context
        )
        cursor.nextset()
        return result
