"""The exact bodies of the bulk answers: synchronous results and the ``202`` (docs/semantics.md)."""

from __future__ import annotations

from typing import Any

from .execution import BulkOutcome
from .operations import OperationRecord, operation_url
from .payloads import BulkPayload


def operation_urls(operation_id: str) -> dict[str, str]:
    """Where to follow an operation: its status URL and its WebSocket."""
    return {
        "status_url": operation_url(operation_id, "status"),
        "websocket_url": f"/ws/operations/{operation_id}/",
    }


def accepted_answer(record: OperationRecord) -> dict[str, Any]:
    """The exact ``202`` body of a background operation."""
    operation_id = record.operation_id
    return {
        "message": f"Bulk {record.operation} task started for {record.total} items",
        "task_id": operation_id,
        "total_items": record.total,
        "unique_fields": list(record.unique_fields),
        **operation_urls(operation_id),
        "is_async": True,
        **({"dry_run": True} if record.dry_run else {}),
    }


def sync_answer(payload: BulkPayload, outcome: BulkOutcome) -> dict[str, Any]:
    """The exact answer body of a synchronous bulk request, as its kind declares it."""
    answer = payload.kind.answer
    if answer is None:
        return {"count": len(outcome.rows), "results": outcome.rows, "is_sync": True}
    id_lists = {name: getattr(outcome, f"{name}_ids") for name in answer.id_lists}
    body = {
        "message": answer.message,
        "total_items": payload.total_items,
        **{f"{name}_count": len(ids) for name, ids in id_lists.items()},
        **{f"{name}_ids": ids for name, ids in id_lists.items()},
        "is_sync": True,
    }
    names = answer.id_lists
    if payload.kind.changes_rows:
        if payload.skip_unchanged:
            names = (*names, "unchanged")
            body["unchanged_count"] = len(outcome.unchanged_ids)
            body["unchanged_ids"] = outcome.unchanged_ids
        body["skip_unchanged"] = payload.skip_unchanged
    if payload.dry_run:
        body.update(dry_run_lists(outcome, names))
        if "created_ids" in body:
            body["created_ids"] = []
    return body


def dry_run_lists(outcome: BulkOutcome, names: tuple[str, ...]) -> dict[str, Any]:
    """What a dry run adds to the answer: ``dry_run`` and the index of each item under what
    would happen to it (its ``created_ids`` is empty: those rows do not exist)."""
    lists: dict[str, Any] = {"dry_run": True}
    for name in names:
        lists[f"{name}_indices"] = outcome.indices.get(name, [])
    return lists
