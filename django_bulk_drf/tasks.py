"""Celery tasks of the background path: thin shells around ``background``.

Only operation ids and chunk indexes travel through the broker. Tasks are acknowledged late, so a
chunk whose worker dies is redelivered; the chunk ledger makes the second run a no-op. A task whose
database or Redis connection fails is retried with backoff (a chunk committed just before the
failure is then only reported). A task that finds its operation record gone ends it from the
ledger (``background.recover_operation``) instead of failing.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, group, shared_task
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import background
from .settings import bulk_settings

logger = logging.getLogger(__name__)

RETRIED_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


class OperationTask(Task):
    """Ends the operation ``failed`` when a task gives up, saying what was committed."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo) -> None:
        operation_id = args[0] if args else kwargs.get("operation_id")
        if not operation_id:
            return
        try:
            background.fail_operation(operation_id, f"{type(exc).__name__}: {exc}.")
        except Exception:  # the store or the database is what failed: the record stays as it is
            logger.exception("could not end bulk operation %s as failed", operation_id)


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
    try:
        chunk_count = background.plan_operation(operation_id)
        if bulk_settings.USE_OPTIMIZED_TASKS:
            chunks = (process_chunk.si(operation_id, index) for index in range(chunk_count))
            group(chunks).apply_async()
            return
        for index in range(chunk_count):
            background.process_chunk(operation_id, index)
    except background.OperationLost as exc:
        background.fail_operation(operation_id, str(exc))


@shared_task(name="django_bulk_drf.process_chunk", **TASK_OPTIONS)
def process_chunk(self: Task, operation_id: str, index: int) -> None:
    try:
        background.process_chunk(operation_id, index)
    except background.OperationLost as exc:
        background.fail_operation(operation_id, str(exc))
