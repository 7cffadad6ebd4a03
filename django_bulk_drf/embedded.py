"""A Celery worker inside the serving process, for one-machine setups with no broker.

With Celery's in-memory transport (``memory://``) the tasks a request queues can only be consumed
by the same process, so the embedded mode runs the worker in a daemon thread beside the ASGI
server. Operation records and progress events then stay in process too (``LocalOperationStore``).
"""

from __future__ import annotations

import logging
import threading

from celery import Celery
from celery.worker import WorkController

logger = logging.getLogger(__name__)
_started: dict[int, WorkController] = {}
_lock = threading.Lock()


def start_in_process_worker(app: Celery, concurrency: int = 1) -> WorkController:
    """Start (once per process) a worker thread consuming ``app``'s queues; returns it."""
    with _lock:
        if id(app) in _started:
            return _started[id(app)]
        worker = WorkController(
            app=app,
            concurrency=concurrency,
            pool="threads",
            hostname=f"embedded-{threading.get_native_id()}@localhost",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        threading.Thread(target=worker.start, name="bulk-drf-worker", daemon=True).start()
        _started[id(app)] = worker
        logger.info("in-process Celery worker started (%s)", app.conf.broker_url)
        return worker
