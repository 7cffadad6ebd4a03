"""Validate and write one bulk payload through a viewset, in one transaction.

These are plain synchronous functions: the request handlers call them off the event loop, and the
Celery tasks call them once per chunk with a viewset rebuilt for the requesting user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from .backends import bulk_backend
from .exceptions import BulkValidationError
from .payloads import BulkPayload, Operation
from .serializers import BulkItemsValidator, BulkMode
from .settings import bulk_settings
from .writers import WriteResult

MODES = {
    Operation.CREATE: BulkMode.CREATE,
    Operation.UPDATE: BulkMode.UPDATE,
    Operation.REPLACE: BulkMode.UPDATE,
    Operation.UPSERT: BulkMode.UPSERT,
}


@dataclass
class BulkOutcome:
    """What one payload (or chunk) did: ids written, items refused, rows read."""

    result: WriteResult = field(default_factory=WriteResult)
    errors: list[dict[str, Any]] = field(default_factory=list)
    results: list[Any] | None = None


def execute_payload(
    viewset: Any,
    payload: BulkPayload,
    *,
    skip_invalid: bool = False,
    index_map: Sequence[int] | None = None,
) -> BulkOutcome:
    """Run ``payload`` through ``viewset`` inside the caller's transaction.

    With ``skip_invalid`` (the background path) invalid items are reported and the rest written;
    otherwise any invalid item raises ``BulkValidationError`` before anything is written.
    ``index_map`` turns an item's position in ``payload`` into its index in the whole operation.
    """
    if payload.operation == Operation.GET:
        return BulkOutcome(results=read_rows(viewset, payload.items))
    if payload.operation == Operation.DELETE:
        return BulkOutcome(result=viewset.perform_bulk_delete(payload.items))
    validator = BulkItemsValidator(
        viewset,
        MODES[payload.operation],
        partial=payload.partial,
        unique_fields=payload.unique_fields,
        batch_queries=bulk_settings.AUTO_OPTIMIZE_QUERIES,
    )
    validated = validator.validate(payload.items)
    errors = validated.error_list()
    if index_map is not None:
        for error in errors:
            error["index"] = index_map[error["index"]]
    if errors and not skip_invalid:
        raise BulkValidationError(payload.total_items, errors)
    outcome = BulkOutcome(errors=errors)
    if validated.items:
        outcome.result = write_items(viewset, payload, validated.items)
    return outcome


def write_items(viewset: Any, payload: BulkPayload, items: list) -> WriteResult:
    if payload.operation == Operation.CREATE:
        return viewset.perform_bulk_create(items)
    if payload.operation == Operation.UPSERT:
        return viewset.perform_bulk_upsert(items, payload.unique_fields)
    return viewset.perform_bulk_update(items, partial=payload.partial)


def read_rows(viewset: Any, ids: list[Any]) -> list[Any]:
    """The serialized rows of ``get_queryset()`` with these ids, in the order asked."""
    queryset = viewset.filter_queryset(viewset.get_queryset()).filter(pk__in=ids)
    rows = {row.pk: row for row in queryset}
    ordered = [rows[pk] for pk in ids if pk in rows]
    return list(viewset.get_serializer(ordered, many=True).data)


def run_in_transaction(
    viewset: Any, payload: BulkPayload, timeout: float, **options: Any
) -> BulkOutcome:
    """``execute_payload`` in its own transaction, with a statement timeout where supported."""
    db = viewset.get_queryset().db
    with transaction.atomic(using=db):
        bulk_backend(db).set_statement_timeout(timeout)
        return execute_payload(viewset, payload, **options)
