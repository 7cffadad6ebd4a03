"""Taking up the work of a dead worker without broker tuning (docs/deployment.md#failures).

A worker killed outright (the OOM killer, a lost machine) cannot give its tasks back: the Redis
broker redelivers them only after ``visibility_timeout`` (an hour by default). So every worker
takes part in watching the others:

- when it receives a task of an operation it records that it holds it (``task_received``, in the
  worker's main process: prefetched tasks and retries waiting for their countdown count too), and
  the task releases its holding when it returns (``tasks.py``);
- the holder is one life of a worker (``leases.worker_life``): its node name and a mark drawn
  when the worker process starts. A worker restarted in place of a dead one, under the same name and
  command line (systemd, supervisor, a StatefulSet), is another holder, so it does not keep its
  predecessor's holdings alive;
- a thread of its main process renews its heartbeat every ``HEARTBEAT_SECONDS`` (expiring after
  ``WORKER_TTL``) and, every ``SWEEP_SECONDS``, re-queues the tasks held by workers whose heartbeat
  has expired, once, whichever worker sees them first; and the tasks that left an empty queue
  without reaching any worker (taken by one that died before it could say so), at the next sweep;
- the same sweep ends ``failed`` the operations that a task gave up on while their database was
  unreachable, as soon as their committed counts can be read.

A task that runs several consecutive chunks holds each of them; the orphans of a dead worker are
re-queued as runs again (consecutive chunks of one holder, one task). A chunk whose worker is
alive is never taken from it, however slow. A chunk re-queued after it had
committed finds its ledger row and only reports (it is applied exactly once); a task the broker
redelivers much later finds its chunk counted, or its operation ended, and does nothing.
The stores of one process (embedded mode) have no ``leases``: there, none of this runs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import task_received, worker_ready
from django.db import close_old_connections

from . import tasks
from .ledger import fail_operation
from .operations import get_operation_store
from .operations.leases import PLANNING, Orphan, holder, worker_life, worker_of

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
WORKER_TTL = 15
SWEEP_SECONDS = 10
#: Orphan chunks re-queued in one task at most.
LONGEST_REQUEUED_RUN = 50


def connect_worker_signals() -> None:
    """Connect the handlers of the workers' Celery signals (``BulkDRFConfig.ready``; connecting
    again is harmless). They act in worker processes only: no other process receives tasks."""
    task_received.connect(hold_received_task, weak=False, dispatch_uid=f"{__name__}.hold")
    worker_ready.connect(watch_when_ready, weak=False, dispatch_uid=f"{__name__}.watch")


def held_task(name: str, args: Any) -> tuple[str, int, int] | None:
    """The operation, first chunk index (``PLANNING`` for the first task) and chunk count of a
    task, if it is ours."""
    if name == tasks.run_operation.name and args:
        return str(args[0]), PLANNING, 1
    if name == tasks.process_chunk.name and args and len(args) > 1:
        return str(args[0]), int(args[1]), int(args[2]) if len(args) > 2 else 1
    return None


def hold_received_task(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """Record that this worker holds the task it just received."""
    task = held_task(request.name, request.args)
    leases = get_operation_store().leases
    if task is None or leases is None:
        return
    worker = worker_life(request.hostname)
    start_watch(worker)
    operation_id, index, count = task
    held_by = holder(worker, request.id, request.request_dict.get("retries", 0))
    try:
        leases.hold(operation_id, index, held_by, count)
    except Exception:  # the broker's consumer must go on; the broker's redelivery remains
        logger.exception("could not record that %s holds %s", worker, task)


def watch_when_ready(sender: Any = None, **kwargs: Any) -> None:
    start_watch(worker_life(sender.hostname))


_watch: threading.Thread | None = None
_watch_lock = threading.Lock()


def start_watch(worker: str) -> None:
    """Start this process's heartbeat and sweep thread, once; its first beat is sent at once."""
    global _watch
    with _watch_lock:
        if _watch is not None or get_operation_store().leases is None:
            return
        beat(worker)
        _watch = threading.Thread(target=watch, args=(worker,), name="bulk-drf-watch", daemon=True)
        _watch.start()


def beat(worker: str) -> None:
    leases = get_operation_store().leases
    if leases is not None:
        leases.beat(worker, WORKER_TTL)


def watch(worker: str, stop: threading.Event | None = None) -> None:
    """Beat, and sweep now and then, until ``stop`` is set (never, in a worker)."""
    stop = stop or threading.Event()
    beats_per_sweep = max(1, SWEEP_SECONDS // HEARTBEAT_SECONDS)
    beats = 0
    while not stop.is_set():
        try:
            beat(worker)
            if beats % beats_per_sweep == 0:
                sweep(worker)
        except Exception:  # Redis or the database is down: the next round tries again
            logger.exception("bulk operation watch of %s", worker)
        beats += 1
        stop.wait(HEARTBEAT_SECONDS)


def sweep(worker: str) -> int:
    """Re-queue the tasks of dead workers and the missing ones, and end the operations waiting to
    fail; returns the number of tasks re-queued."""
    store = get_operation_store()
    leases = store.leases
    if leases is None:  # a store of one process: no worker to lose
        return 0
    queue_empty = broker_queue_is_empty()  # read before this sweep sends anything
    found = leases.look(is_live=lambda operation_id: is_live(store, operation_id))
    taken = [orphan for orphan in found.orphans if leases.take_over(orphan)]
    for run in orphan_runs(taken):
        requeue(*run)
    requeued = len(taken)
    if queue_empty:
        leases.suspect(found.queued)
    for operation_id, reason in leases.deferred_failures().items():
        end_failed(store, operation_id, reason)
    return requeued


def broker_queue_is_empty() -> bool:
    """Whether the queue the chunk tasks are routed to holds no message (a queue the broker does
    not know is empty)."""
    app = tasks.process_chunk.app
    queue = app.amqp.router.route({}, tasks.process_chunk.name)["queue"]
    with app.connection_for_write() as connection:
        try:
            declared = connection.default_channel.queue_declare(queue=queue.name, passive=True)
        except connection.channel_errors:
            return True
    return declared.message_count == 0


def is_live(store: Any, operation_id: str) -> bool:
    record = store.record(operation_id)
    return record is not None and not record.status.is_terminal


def orphan_runs(orphans: list[Orphan]) -> list[tuple[Orphan, int]]:
    """The orphans as runs to re-queue, one task each: the first orphan of each run of
    consecutive chunks of one operation and holder (``PLANNING`` alone), and its length."""
    runs: list[tuple[Orphan, int]] = []
    for orphan in sorted(orphans, key=lambda o: (o.operation_id, o.held_by, o.index)):
        if runs and orphan.index != PLANNING:
            first, count = runs[-1]
            if (
                (first.operation_id, first.held_by) == (orphan.operation_id, orphan.held_by)
                and first.index != PLANNING
                and first.index + count == orphan.index
                and count < LONGEST_REQUEUED_RUN
            ):
                runs[-1] = (first, count + 1)
                continue
        runs.append((orphan, 1))
    return runs


def requeue(orphan: Orphan, count: int = 1) -> None:
    """Send again the task of ``orphan`` and the ``count - 1`` chunks that follow it."""
    held_by = worker_of(orphan.held_by)
    chunks = (
        f"chunk {orphan.index}"
        if count == 1
        else f"chunks {orphan.index}-{orphan.index + count - 1}"
    )
    logger.warning(
        "bulk operation %s: re-queued %s %s",
        orphan.operation_id,
        "its planning" if orphan.index == PLANNING else chunks,
        f"held by {held_by}, a worker that stopped beating"
        if held_by
        else "that left the queue but no worker received",
    )
    if orphan.index == PLANNING:
        tasks.run_operation.delay(orphan.operation_id)
    else:
        tasks.process_chunk.delay(orphan.operation_id, orphan.index, count)


def end_failed(store: Any, operation_id: str, reason: str) -> None:
    """End a deferred failure now that (if) the database answers."""
    close_old_connections()  # a connection broken by the outage is replaced, not reused
    try:
        fail_operation(operation_id, reason, store)
    except Exception as exc:
        logger.info("bulk operation %s still cannot be ended: %s", operation_id, exc)
        return
    finally:
        close_old_connections()
    store.leases.forget_failure(operation_id)
