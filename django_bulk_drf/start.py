"""Starting a background operation: capture the request → stage the payload → once per
``Idempotency-Key`` → queue.

``start_operation`` is the one way in, for the ``/bulk/`` routes and for the list URL's hand-offs
(``Prefer: respond-async``, ``BULK_DRF_AUTO_ROUTE``). The items are staged as they come
(``staging.Staging``, which captures the request into the record: ``capture.py``); a request that
replays an idempotency key gets the first request's operation and leaves nothing staged
(``idempotency.once_per_key``); the first task is queued last, and a broker that refuses it ends
the operation at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.request import Request

from .exceptions import ServiceUnavailable
from .idempotency import once_per_key, payload_fingerprint
from .ledger import fail_operation
from .operations import OperationRecord
from .payloads import BulkPayload
from .staging import Staging
from .tasks import queue_operation


def start_operation(
    viewset: Any, request: Request, payload: BulkPayload, batches: Iterable[list[Any]]
) -> OperationRecord:
    """Stage the batches of items as they come, then create the operation and queue it, once per
    idempotency key; returns its record. Blocking (it reads the body and writes the store): run
    it in a thread."""
    fingerprint = payload_fingerprint(request, payload)
    with Staging(
        viewset,
        payload,
        chunk_size=viewset.get_bulk_chunk_size(),
        max_records=viewset.get_bulk_max_records(),
        fingerprint=fingerprint,
    ) as staging:
        for batch in batches:
            staging.add(batch)
        staging.close()
        return once_per_key(request, fingerprint, lambda: queue_staged(staging))


def queue_staged(staging: Staging) -> OperationRecord:
    """Create the staged operation and queue its task; returns its record. A broker that refuses
    the task is a ``503``, and leaves no pending record behind."""
    record = staging.finish()
    try:
        queue_operation(record.task_id)
    except Exception as exc:
        fail_operation(record.task_id, f"The task could not be queued: {exc}.")
        raise ServiceUnavailable(
            f"The task queue is unavailable ({exc}); nothing was started."
        ) from exc
    return record
