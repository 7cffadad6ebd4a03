"""Staging a background operation: its payload saved chunk by chunk while the request reads it.

``Staging`` takes the items of a payload a batch at a time (from a body read a part at a time,
``streams.py``, or from a list the request parsed) and holds at most ``FLUSH_CHUNKS`` chunks:

- each chunk's items claim their keys (``BulkItemsValidator.claimed_keys``: pk or conflict target,
  unique sets) in the operation store, in payload order: across the whole payload the first item
  keeps a key and a later one is refused with the sync path's error (docs/semantics.md#duplicates).
  The store holds a 16-byte digest per key, never the items; the refusals travel inside their chunk
  (``chunks.StagedChunk``), whose task reports them;
- chunks go to the store ``FLUSH_CHUNKS`` at a time, under the new operation's id, before its
  record exists; one item past ``max_records`` is a ``413`` at once;
- ``finish`` creates the record with the request captured in it (``capture.py``; the operation
  exists from then on) and drops the claimed keys;
  leaving the ``with`` block unfinished (an error, a replayed idempotency key) drops everything
  staged, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from types import TracebackType
from typing import Any

from . import exactjson
from .capture import captured_request
from .chunks import StagedChunk
from .exceptions import BadBulkRequest, PayloadTooLarge
from .operations import OperationRecord, OperationStore, get_operation_store, new_operation_id
from .payloads import BulkPayload
from .protocols import BulkViewSet
from .serializers import BulkItemsValidator

#: Chunks held before they are written to the store (and their keys claimed) together.
FLUSH_CHUNKS = 10


def too_many_items(limit: int, total_items: int | None = None) -> PayloadTooLarge:
    """The ``413`` of a payload over ``get_bulk_max_records()``; ``total_items`` when the whole
    payload was counted (a body read a part at a time is refused at the first item too many)."""
    counted = {"total_items": total_items} if total_items is not None else {}
    return PayloadTooLarge(
        {
            "error": f"Too many items: {total_items} is more than {limit}."
            if total_items is not None
            else f"Too many items: the body holds more than {limit}.",
            **counted,
            "max_records": limit,
            "suggestion": f"Split the batch into requests of at most {limit} items.",
        }
    )


class Staging:
    """The staging of one operation; use it as a context manager, ``add`` the items, then
    ``finish``."""

    def __init__(
        self,
        viewset: BulkViewSet,
        payload: BulkPayload,
        *,
        chunk_size: int,
        max_records: int,
        fingerprint: Any = None,
    ) -> None:
        """``payload`` gives the operation's kind and options (its items come with ``add``);
        ``fingerprint``, a ``hashlib`` object, is fed with the items (``idempotency``)."""
        self.viewset = viewset
        self.payload = payload
        self.chunk_size = chunk_size
        self.max_records = max_records
        self.fingerprint = fingerprint
        self.store: OperationStore = get_operation_store()
        self.operation_id = new_operation_id()
        self.validator = (
            BulkItemsValidator(
                viewset,
                payload.kind,
                partial=payload.partial,
                unique_fields=payload.unique_fields,
            )
            if payload.kind.validates
            else None
        )
        self.total = 0
        self.chunks = 0
        self.pending: list[Any] = []  # items not yet in a chunk
        self.full: list[list[Any]] = []  # chunks not yet written
        self.finished = False

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.finished:
            self.store.end_staging(self.operation_id, keep_payload=False)

    def add(self, items: list[Any]) -> None:
        """Take the next items of the payload."""
        self.total += len(items)
        if self.total > self.max_records:
            raise too_many_items(self.max_records)
        self.pending += items
        size = self.chunk_size
        while len(self.pending) >= size:
            self.full.append(self.pending[:size])
            del self.pending[:size]
            if len(self.full) == FLUSH_CHUNKS:
                self._flush()

    def close(self) -> None:
        """The payload is complete: write what is held. An empty payload is a ``400``."""
        if self.pending:
            self.full.append(self.pending)
            self.pending = []
        self._flush()
        if not self.total:
            raise BadBulkRequest("The array is empty: there is nothing to do.")

    def finish(self) -> OperationRecord:
        """Create the operation's record, ``pending``; the payload is staged."""
        payload = self.payload
        record = OperationRecord(
            task_id=self.operation_id,
            operation=payload.operation,
            **captured_request(self.viewset),
            unique_fields=payload.unique_fields,
            partial=payload.partial,
            dry_run=payload.dry_run,
            skip_unchanged=payload.skip_unchanged,
            total=self.total,
            chunk_size=self.chunk_size,
            chunks_total=self.chunks,
        )
        self.store.create(record, [])
        self.finished = True
        self.store.end_staging(self.operation_id, keep_payload=True)
        return record

    def _flush(self) -> None:
        """Claim the keys of the held chunks, then write them."""
        if not self.full:
            return
        first = self.chunks * self.chunk_size
        refused = self._refusals(first)
        staged = {}
        for chunk in self.full:
            errors = [refused[i] for i in range(first, first + len(chunk)) if i in refused]
            try:
                staged[self.chunks] = StagedChunk(chunk, errors).encode()
                if self.fingerprint is not None:
                    self.fingerprint.update(exactjson.dumps(chunk, sort_keys=True, default=str))
            except ValueError as exc:  # an item nested deeper than JSON can be written back
                last = first + len(chunk) - 1
                raise BadBulkRequest(f"Items {first} to {last}: {exc}") from exc
            self.chunks += 1
            first += len(chunk)
        self.full = []
        self.store.stage_chunks(self.operation_id, staged)

    def _refusals(self, first: int) -> dict[int, dict[str, Any]]:
        """The errors of the held items whose keys earlier items keep, by payload index."""
        if self.validator is None:
            return {}
        claims, groups = [], {}
        index = first
        for chunk in self.full:
            for item in chunk:
                keys = self.validator.claimed_keys(item)
                if keys:
                    claims.append((index, [key_digest(group, key) for group, key in keys]))
                    groups[index] = [group for group, _ in keys]
                index += 1
        return {
            index: {
                "index": index,
                "errors": self.validator.duplicate_error(groups[index][position], kept_by),
            }
            for index, position, kept_by in self.store.claim_keys(self.operation_id, claims)
        }


def key_digest(group: int, key: tuple) -> bytes:
    """A key as the store keeps it: 16 bytes of its normalised values (and its group)."""
    return hashlib.blake2b(repr((group, key)).encode(), digest_size=16).digest()
