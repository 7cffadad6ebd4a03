"""The exact bodies of the bulk answers (SPEC §3): synchronous results and the ``202``."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from .execution import BulkOutcome
from .operations import OperationRecord
from .payloads import BulkPayload, Operation

SYNC_MESSAGES = {
    Operation.CREATE: "Bulk create completed successfully",
    Operation.UPDATE: "Bulk update completed successfully",
    Operation.REPLACE: "Bulk update completed successfully",
    Operation.UPSERT: "Upsert completed successfully",
    Operation.DELETE: "Bulk delete completed successfully",
}


def operation_urls(operation_id: str) -> dict[str, str]:
    try:
        status_url = reverse("bulk-operation-status", args=[operation_id])
    except NoReverseMatch:
        status_url = f"/api/operations/{operation_id}/status/"
    return {"status_url": status_url, "websocket_url": f"/ws/operations/{operation_id}/"}


def accepted_answer(record: OperationRecord, payload: BulkPayload) -> dict[str, Any]:
    """The exact ``202`` body of a background operation."""
    operation_id = record.task_id
    return {
        "message": f"Bulk {payload.operation} task started for {payload.total_items} items",
        "task_id": operation_id,
        "total_items": payload.total_items,
        "unique_fields": list(payload.unique_fields),
        **operation_urls(operation_id),
        "is_async": True,
    }


def sync_answer(payload: BulkPayload, outcome: BulkOutcome) -> dict[str, Any]:
    """The exact answer body of a synchronous bulk request."""
    result = outcome.result
    if payload.operation == Operation.GET:
        return {"count": len(outcome.results), "results": outcome.results, "is_sync": True}
    answer: dict[str, Any] = {
        "message": SYNC_MESSAGES[payload.operation],
        "total_items": payload.total_items,
    }
    if payload.operation == Operation.CREATE:
        answer |= {"created_count": len(result.created_ids), "created_ids": result.created_ids}
    elif payload.operation == Operation.UPSERT:
        answer |= {
            "created_count": len(result.created_ids),
            "updated_count": len(result.updated_ids),
            "created_ids": result.created_ids,
            "updated_ids": result.updated_ids,
        }
    elif payload.operation == Operation.DELETE:
        answer |= {"deleted_count": len(result.deleted_ids), "deleted_ids": result.deleted_ids}
    else:
        answer |= {"updated_count": len(result.updated_ids), "updated_ids": result.updated_ids}
    return answer | {"is_sync": True}
