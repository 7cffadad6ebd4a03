"""``Idempotency-Key`` on the requests that start background operations.

Following the IETF httpapi draft: a retried request with the same key and the same payload gets
the operation the first one started (``202``, same ``task_id``); the same key with another payload
is a ``422``; a retry that arrives while the first request is still being accepted is a ``409``.
Keys are scoped to the user (anonymous clients share one scope) and kept as long as operation
records (``BULK_DRF_CACHE_TIMEOUT``). A key longer than ``MAX_KEY_LENGTH`` characters is a ``400``:
keys are stored, and a client that sends a payload-sized key has mistaken the header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from rest_framework import status
from rest_framework.request import Request

from . import exactjson
from .exceptions import BadBulkRequest, BulkAPIException
from .operations import OperationRecord, OperationStore, get_operation_store
from .payloads import BulkPayload
from .settings import bulk_settings

if TYPE_CHECKING:
    from hashlib import _Hash as Fingerprint  # what hashlib.sha256() gives

ACCEPTING_TTL = 60
MAX_KEY_LENGTH = 255


class IdempotencyKeyInUse(BulkAPIException):
    """A retry arrived while the first request with its key is still being accepted."""

    status_code = status.HTTP_409_CONFLICT


class IdempotencyKeyReused(BulkAPIException):
    """The key was used before with another payload."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


def payload_fingerprint(request: Request, payload: BulkPayload) -> Fingerprint | None:
    """What makes two requests "the same", as a ``hashlib`` digest: method, path, query and the
    payload's kind and options, to which ``staging.Staging`` adds the items as it stages them.
    None for a request without an ``Idempotency-Key``, and for a dry run: it starts no real
    operation, so it neither takes a key nor replays the one a real run took."""
    if not request.headers.get("Idempotency-Key") or payload.dry_run:
        return None
    digest = hashlib.sha256()
    digest.update(
        f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}".encode()
    )
    options = {"operation": payload.operation, "unique_fields": list(payload.unique_fields)}
    digest.update(exactjson.dumps({**options, "partial": payload.partial}, sort_keys=True))
    return digest


def once_per_key(
    request: Request, fingerprint: Fingerprint | None, start: Callable[[], OperationRecord]
) -> OperationRecord:
    """Run ``start`` (which creates and queues the staged operation, returning its record) at
    most once per idempotency key, ``fingerprint`` (``payload_fingerprint``, fed the whole
    payload) telling whether a retry carries the same request; without the header, just run
    it."""
    key = request.headers.get("Idempotency-Key")
    if not key or fingerprint is None:
        return start()
    if fingerprint is None:
        raise ValueError("A request with an Idempotency-Key needs its payload_fingerprint().")
    if len(key) > MAX_KEY_LENGTH:
        raise BadBulkRequest(
            f"The Idempotency-Key header is {len(key)} characters long; "
            f"at most {MAX_KEY_LENGTH} are accepted."
        )
    store = get_operation_store()
    user = request.user
    scoped_key = f"{user.pk if user and user.is_authenticated else 'anonymous'}:{key}"
    digest = fingerprint.hexdigest()
    while True:
        held = store.claim_key(
            scoped_key, {"fingerprint": digest, "operation_id": ""}, ACCEPTING_TTL
        )
        if held is None:
            break
        record = replayed_record(store, scoped_key, held, digest)
        if record is not None:
            return record
    try:
        record = start()
    except BaseException:
        store.release_key(scoped_key)
        raise
    store.set_key(
        scoped_key,
        {"fingerprint": digest, "operation_id": record.task_id},
        bulk_settings.CACHE_TIMEOUT,
    )
    return record


def replayed_record(
    store: OperationStore, scoped_key: str, held: dict[str, str], fingerprint: str
) -> OperationRecord | None:
    """The operation a key already started; None when that operation has expired."""
    if held["fingerprint"] != fingerprint:
        raise IdempotencyKeyReused(
            {"error": "This Idempotency-Key was used with a different request payload."}
        )
    if not held["operation_id"]:
        raise IdempotencyKeyInUse(
            {"error": "A request with this Idempotency-Key is still being accepted; retry later."}
        )
    record = store.record(held["operation_id"])
    if record is None:
        store.release_key(scoped_key)
    return record
