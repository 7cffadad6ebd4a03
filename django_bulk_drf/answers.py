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
    operation_id = record.task_id
    return {
        "message": f"Bulk {record.operation} task started for {record.total} items",
        "task_id": operation_id,
        "total_items": record.total,
        "unique_fields": list(record.unique_fields),
        **operation_urls(operation_id),
        "is_async": True,
    }


def sync_answer(payload: BulkPayload, outcome: BulkOutcome) -> dict[str, Any]:
    """The exact answer body of a synchronous bulk request, as its kind declares it."""
    answer = payload.kind.answer
    if answer is None:
        return {"count": len(outcome.rows), "results": outcome.rows, "is_sync": True}
    id_lists = {name: getattr(outcome, f"{name}_ids") for name in answer.id_lists}
    return {
        "message": answer.message,
        "total_items": payload.total_items,
        **{f"{name}_count": len(ids) for name, ids in id_lists.items()},
        **{f"{name}_ids": ids for name, ids in id_lists.items()},
        "is_sync": True,
    }
