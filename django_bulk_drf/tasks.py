"""Celery tasks of the background path: thin shells around ``background``.

Only operation ids and chunk indexes travel through the broker. The first task plans the operation
and sends its chunks in runs of consecutive chunks (``background.runs``), one task each: a task
pays its setup (the viewset rebuilt, the user loaded) once per run, while each chunk still commits
and reports on its own. Tasks are acknowledged late, so a run whose worker dies is redelivered; the
chunk ledger makes the second run of a committed chunk a no-op. A task whose database or Redis
connection fails is retried with backoff (a chunk committed just before the failure is then only
reported). A task that finds its operation record gone ends it from the ledger
(``ledger.recover_operation``) instead of failing.

Each task releases, when it returns, the holdings its worker recorded when it received it, one per
chunk of its run (``recovery.py``: the chunks of a worker that dies are taken up by the others). A
task that gives up ends its operation ``failed``; when even that fails (the database is still
unreachable), the failure is deferred to the workers' sweep, which ends the operation once the
database answers.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, group, shared_task
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import background
from .batches import OperationLost
from .ledger import fail_operation
from .operations import get_operation_store
from .operations.leases import PLANNING, holder, worker_life
from .settings import bulk_settings

logger = logging.getLogger(__name__)

RETRIED_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


class OperationTask(Task):
    """Ends the operation ``failed`` when a task gives up, saying what was committed."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo) -> None:
        operation_id = args[0] if args else kwargs.get("operation_id")
        if not operation_id:
            return
        reason = f"{type(exc).__name__}: {exc}."
        try:
            fail_operation(operation_id, reason)
        except Exception:  # the database (or the store) is what failed: the sweep ends it later
            logger.exception("could not end bulk operation %s as failed yet", operation_id)
            try:
                leases = get_operation_store().leases
                if leases is not None:
                    leases.defer_failure(operation_id, reason)
            except Exception:
                logger.exception("could not defer the failure of bulk operation %s", operation_id)

    def release(self, operation_id: str, index: int, count: int = 1) -> None:
        """This attempt no longer holds tasks ``index`` to ``index + count - 1`` of the
        operation (its chunks, or ``PLANNING``)."""
        leases = get_operation_store().leases
        if leases is None or self.request.hostname is None:
            return
        worker = worker_life(self.request.hostname)
        held_by = holder(worker, self.request.id, self.request.retries)
        try:
            leases.release(operation_id, index, held_by, count)
        except Exception:  # the sweep finds the holder alive, or the chunk counted
            logger.exception("could not release task %s of operation %s", index, operation_id)


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
    """Plan the operation, then process its chunks: in runs fanned out to every worker, or in
    turn."""
    try:
        runs = background.plan_operation(operation_id)
        if bulk_settings.USE_OPTIMIZED_TASKS:
            dispatched(
                operation_id,
                [index for first, count in runs for index in range(first, first + count)],
            )
            group(process_chunk.si(operation_id, *run) for run in runs).apply_async()
            return
        for run in runs:
            background.process_chunk(operation_id, *run)
    except OperationLost as exc:
        fail_operation(operation_id, str(exc))
    finally:
        self.release(operation_id, PLANNING)


@shared_task(name="django_bulk_drf.process_chunk", **TASK_OPTIONS)
def process_chunk(self: Task, operation_id: str, index: int, count: int = 1) -> None:
    """Validate, write and report chunks ``index`` to ``index + count - 1`` of the operation."""
    try:
        background.process_chunk(operation_id, index, count)
    except OperationLost as exc:
        fail_operation(operation_id, str(exc))
    finally:
        self.release(operation_id, index, count)


def dispatched(operation_id: str, indexes: list[int]) -> None:
    """These tasks of the operation are about to be sent (``recovery.py`` watches them)."""
    leases = get_operation_store().leases
    if leases is not None:
        leases.dispatch(operation_id, indexes)


def queue_operation(operation_id: str) -> None:
    """Send the first task of a staged operation to the broker."""
    dispatched(operation_id, [PLANNING])
    run_operation.delay(operation_id)
