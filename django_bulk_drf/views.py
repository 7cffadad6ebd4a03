"""Operation status, results and cancellation: ``GET operations/<id>/status/``,
``GET operations/<id>/results/`` and ``DELETE operations/<id>/``.

The status body has a bounded size (``operations.render_status``: the first 1,000 of each list);
the results endpoint pages through every id, row or error in payload order
(``?kind=created|updated|deleted|errors|rows&limit=&cursor=``), reading one page from the store.
Both follow one ownership rule (``may_see``): ``404`` for an unknown operation or another user's.

A record the store has lost (Redis restarted without persistence) is rebuilt from the chunk ledger
on first read; while the store or the database cannot be reached the answer is ``503``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from adrf.views import APIView
from asgiref.sync import sync_to_async
from django.db import DatabaseError
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from .background import recover_operation
from .exceptions import BadBulkRequest, OperationStoreUnavailable
from .operations import (
    DEFAULT_PAGE_SIZE,
    FIRST,
    MAX_PAGE_SIZE,
    RESULT_KINDS,
    OperationRecord,
    OperationStore,
    Page,
    Position,
    Snapshot,
    decode_cursor,
    encode_cursor,
    get_operation_store,
    parse_operation_id,
)


def may_see(record: OperationRecord, user: Any) -> bool:
    """An operation started by a signed-in user is that user's alone; an anonymous one is
    reachable by anybody who holds its id."""
    if record.owner_id is None:
        return True
    return bool(user and user.is_authenticated and str(user.pk) == record.owner_id)


def find_snapshot(store: OperationStore, operation_id: str, user: Any) -> Snapshot:
    """The operation as ``user`` may see it, rebuilt from the ledger if the store lost it."""
    canonical = parse_operation_id(operation_id)
    try:
        snapshot = store.snapshot(canonical) if canonical else None
        if snapshot is None and canonical:
            record = recover_operation(canonical, store)
            snapshot = store.complete(record) if record is not None else None
    except (RedisError, DatabaseError) as exc:
        raise OperationStoreUnavailable() from exc
    if snapshot is None or not may_see(snapshot.record, user):
        raise NotFound("No such operation.")
    return snapshot


class OperationStatusView(APIView):
    """The status of a background operation, with its id lists once it has ended."""

    permission_classes = [AllowAny]

    async def get(self, request: Request, operation_id: str) -> Response:
        canonical = parse_operation_id(operation_id)
        try:
            snapshot = await get_operation_store().asnapshot(canonical) if canonical else None
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc
        if snapshot is None:  # unknown, or lost by the store: the ledger may rebuild it
            return Response(await sync_to_async(self.read_status)(operation_id, request.user))
        if not may_see(snapshot.record, request.user):
            raise NotFound("No such operation.")
        return Response(snapshot.render())

    def read_status(self, operation_id: str, user: Any) -> dict[str, Any]:
        return find_snapshot(get_operation_store(), operation_id, user).render()


def results_query(params: Any) -> tuple[str, Position, int]:
    """``kind``, the position of ``cursor`` and ``limit`` (capped at ``MAX_PAGE_SIZE``) of a
    results request; ``400`` when one of them is not understood."""
    kind = params.get("kind")
    if kind not in RESULT_KINDS:
        raise BadBulkRequest(
            f"kind must be one of {', '.join(RESULT_KINDS)}.", kinds=list(RESULT_KINDS)
        )
    limit = params.get("limit", str(DEFAULT_PAGE_SIZE))
    if not (limit.isascii() and limit.isdigit()) or int(limit) < 1:
        raise BadBulkRequest("limit must be a positive integer.", max_limit=MAX_PAGE_SIZE)
    try:
        start = decode_cursor(params["cursor"]) if "cursor" in params else FIRST
    except ValueError:
        raise BadBulkRequest("cursor is not one this endpoint gave.") from None
    return kind, start, min(int(limit), MAX_PAGE_SIZE)


class OperationResultsView(APIView):
    """One page of an operation's ids, rows or errors, in payload order, and the next page's URL."""

    permission_classes = [AllowAny]

    async def get(self, request: Request, operation_id: str) -> Response:
        kind, start, limit = results_query(request.query_params)
        canonical = parse_operation_id(operation_id)
        if canonical is None:
            raise NotFound("No such operation.")
        try:
            read = await get_operation_store().aread_page(
                canonical, RESULT_KINDS[kind], start, limit
            )
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc
        if read is None:  # unknown, or lost by the store: the ledger may rebuild it
            read = await sync_to_async(self.recovered_page)(canonical, kind, start, limit)
        if read is None or not may_see(read[0], request.user):
            raise NotFound("No such operation.")
        page: Page = read[1]
        following = None
        if page.next is not None:
            query = {"kind": kind, "limit": limit, "cursor": encode_cursor(page.next)}
            following = f"{request.path}?{urlencode(query)}"
        return Response({"kind": kind, "results": page.values, "next": following})

    def recovered_page(
        self, operation_id: str, kind: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        store = get_operation_store()
        try:
            if recover_operation(operation_id, store) is None:
                return None
            return store.read_page(operation_id, RESULT_KINDS[kind], start, limit)
        except (RedisError, DatabaseError) as exc:
            raise OperationStoreUnavailable() from exc


class OperationView(APIView):
    """``DELETE`` asks the workers to stop the operation between chunks."""

    permission_classes = [AllowAny]

    async def delete(self, request: Request, operation_id: str) -> Response:
        return await sync_to_async(self.cancel)(operation_id, request.user)

    def cancel(self, operation_id: str, user: Any) -> Response:
        store = get_operation_store()
        snapshot = find_snapshot(store, operation_id, user)
        record = snapshot.record
        try:
            cancelling = store.request_cancel(record.task_id)
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc
        if not cancelling:
            return Response(
                {"error": "The operation has already ended.", **snapshot.render()},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            {"message": "Cancellation requested", "task_id": record.task_id, "is_async": True},
            status=status.HTTP_202_ACCEPTED,
        )
