"""Celery tasks of the background path: thin shells around ``background``.

Only operation ids and chunk indexes travel through the broker. Tasks are acknowledged late, so a
chunk whose worker dies is redelivered; the chunk ledger makes the second run a no-op.
"""

from __future__ import annotations

from typing import Any

from celery import Task, group, shared_task
from django.db import InterfaceError, OperationalError

from . import background
from .settings import bulk_settings

RETRIED_ERRORS = (OperationalError, InterfaceError)


class OperationTask(Task):
    """Ends the operation ``failed`` when a task gives up, saying what was committed."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo) -> None:
        operation_id = args[0] if args else kwargs.get("operation_id")
        if operation_id:
            background.fail_operation(operation_id, f"{type(exc).__name__}: {exc}.")


TASK_OPTIONS = {
    "base": OperationTask,
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": RETRIED_ERRORS,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="django_bulk_drf.run_operation", **TASK_OPTIONS)
def run_operation(self: Task, operation_id: str) -> None:
    """Plan the operation, then process its chunks: fanned out to every worker, or in turn."""
    chunk_count = background.plan_operation(operation_id)
    if bulk_settings.USE_OPTIMIZED_TASKS:
        group(process_chunk.si(operation_id, index) for index in range(chunk_count)).apply_async()
        return
    for index in range(chunk_count):
        background.process_chunk(operation_id, index)


@shared_task(name="django_bulk_drf.process_chunk", **TASK_OPTIONS)
def process_chunk(self: Task, operation_id: str, index: int) -> None:
    background.process_chunk(operation_id, index)
