"""Operation status, results and cancellation: ``GET operations/<id>/status/``,
``GET operations/<id>/results/`` and ``DELETE operations/<id>/``.

The status body has a bounded size (``operations.render_status``: the first 1,000 of each list);
the results endpoint pages through every id, row or error in payload order
(``?kind=created|updated|deleted|errors|rows&limit=&cursor=``), reading one page from the store.
Both follow one ownership rule (``may_see``): ``404`` for an unknown operation or another user's.

Many clients poll the status, so these views spend no thread per request where none is needed
(``OperationAPIView``): the store is read on the event loop, the user is looked up only when the
operation has an owner, and a JSON answer is encoded at once. Requests for the status of one
operation that arrive while a read of it is under way share that read, and its encoded body
(``shared_status``): a hundred clients polling one operation cost this process a fraction of a
hundred reads, and none of them gets a state older than its read's start.

A record the store has lost (Redis restarted without persistence) is rebuilt from the chunk ledger
on first read; while the store or the database cannot be reached the answer is ``503``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any
from urllib.parse import urlencode

import orjson
from adrf.views import APIView
from asgiref.sync import sync_to_async
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from .exceptions import BadBulkRequest, OperationStoreUnavailable
from .ledger import recover_operation
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


def recovered_snapshot(store: OperationStore, operation_id: str) -> Snapshot | None:
    """The operation, rebuilt from the ledger if the store lost it; None when unknown."""
    try:
        snapshot = store.snapshot(operation_id)
        if snapshot is None:
            record = recover_operation(operation_id, store)
            snapshot = store.complete(record) if record is not None else None
    except (RedisError, DatabaseError) as exc:
        raise OperationStoreUnavailable() from exc
    return snapshot


class OperationAPIView(APIView):
    """adrf's ``APIView`` without a thread per request where none is needed.

    adrf runs DRF's checks (``initial``) in a thread, because authentication and throttles may
    read the database or the cache. Here authentication is lazy (DRF's ``perform_authentication``
    hook): the user is looked up, in a thread, only when an operation has an owner to compare
    with (``user_may_see``). So with only ``AllowAny`` and no throttles the checks do no I/O and
    run on the event loop; any other permission or a throttle brings adrf's thread back. A plain
    JSON answer is encoded with orjson at once (``answer``), so Django does not render it in a
    thread either; another negotiated renderer (the browsable API) gets DRF's ``Response``.
    """

    permission_classes = [AllowAny]

    def perform_authentication(self, request: Request) -> None:
        """Lazy: ``request.user`` authenticates on first use."""

    def checks_do_no_io(self) -> bool:
        permissions = self.get_permissions()
        return not self.get_throttles() and all(isinstance(p, AllowAny) for p in permissions)

    async def async_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        method = (request.method or "").lower()
        handler = getattr(self, method, None) if method in self.http_method_names else None
        if not (iscoroutinefunction(handler) and self.checks_do_no_io()):
            return await super().async_dispatch(request, *args, **kwargs)
        self.args, self.kwargs = args, kwargs
        self.request = drf_request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        try:
            self.initial(drf_request, *args, **kwargs)
            response = await handler(drf_request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response

    async def user_may_see(self, record: OperationRecord) -> bool:
        """``may_see`` for the requesting user, authenticated (in a thread: authenticators may
        read the database) only when the operation has an owner."""
        if record.owner_id is None:
            return True
        return may_see(record, await sync_to_async(getattr)(self.request, "user"))

    def answer(
        self, body: Callable[[], dict[str, Any]], encoded: bytes | None = None
    ) -> HttpResponseBase:
        """``200`` with ``body()``: as JSON encoded with orjson (or ``encoded``, the same body
        encoded already) when DRF's ``JSONRenderer`` was negotiated without media type
        parameters, else through DRF's ``Response`` and its renderer."""
        request = self.request
        if type(request.accepted_renderer) is JSONRenderer:
            if request.accepted_media_type == JSONRenderer.media_type:
                encoded = encoded if encoded is not None else orjson.dumps(body())
                return HttpResponse(encoded, content_type=JSONRenderer.media_type)
        return Response(body())


class PolledStatus:
    """One read of an operation's status: the snapshot, and its body encoded once."""

    def __init__(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self.encoded = None if snapshot is None else orjson.dumps(snapshot.render())


_status_reads: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, asyncio.Future[PolledStatus]]
] = weakref.WeakKeyDictionary()


async def shared_status(store: OperationStore, operation_id: str) -> PolledStatus:
    """The status of ``operation_id``, read once for every request of this event loop that asks
    while the read is under way."""
    reads = _status_reads.setdefault(asyncio.get_running_loop(), {})
    read = reads.get(operation_id)
    if read is None:

        async def read_status() -> PolledStatus:
            return PolledStatus(await store.asnapshot(operation_id))

        read = reads[operation_id] = asyncio.ensure_future(read_status())
        read.add_done_callback(lambda _: reads.pop(operation_id, None))
    return await asyncio.shield(read)


class OperationStatusView(OperationAPIView):
    """The status of a background operation, with the first ids once it has ended."""

    async def get(self, request: Request, operation_id: str) -> HttpResponseBase:
        canonical = parse_operation_id(operation_id)
        if canonical is None:
            raise NotFound("No such operation.")
        store = get_operation_store()
        try:
            polled = await shared_status(store, canonical)
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc
        snapshot, encoded = polled.snapshot, polled.encoded
        if snapshot is None:  # unknown, or lost by the store: the ledger may rebuild it
            snapshot = await sync_to_async(recovered_snapshot)(store, canonical)
        if snapshot is None or not await self.user_may_see(snapshot.record):
            raise NotFound("No such operation.")
        return self.answer(snapshot.render, encoded)


def results_query(params: Any) -> tuple[str, Position, int]:
    """``kind``, the position of ``cursor`` and ``limit`` (capped at ``MAX_PAGE_SIZE``) of a
    results request; ``400`` when one of them is not understood."""
    kind = params.get("kind")
    if kind not in RESULT_KINDS:
        raise BadBulkRequest(
            f"kind must be one of {', '.join(RESULT_KINDS)}.", kinds=list(RESULT_KINDS)
        )
    limit = params.get("limit", str(DEFAULT_PAGE_SIZE))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 9) or int(limit) < 1:
        raise BadBulkRequest(
            "limit must be a positive integer of at most 9 digits (pages hold at most "
            f"{MAX_PAGE_SIZE} values).",
            max_limit=MAX_PAGE_SIZE,
        )
    try:
        start = decode_cursor(params["cursor"]) if "cursor" in params else FIRST
    except ValueError:
        raise BadBulkRequest("cursor is not one this endpoint gave.") from None
    return kind, start, min(int(limit), MAX_PAGE_SIZE)


class OperationResultsView(OperationAPIView):
    """One page of an operation's ids, rows or errors, in payload order, and the next page's URL."""

    async def get(self, request: Request, operation_id: str) -> HttpResponseBase:
        kind, start, limit = results_query(request.query_params)
        canonical = parse_operation_id(operation_id)
        if canonical is None:
            raise NotFound("No such operation.")
        store = get_operation_store()
        try:
            read = await store.aread_page(canonical, RESULT_KINDS[kind], start, limit)
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc
        if read is None:  # unknown, or lost by the store: the ledger may rebuild it
            read = await sync_to_async(self.recovered_page)(store, canonical, kind, start, limit)
        if read is None or not await self.user_may_see(read[0]):
            raise NotFound("No such operation.")
        page = read[1]
        following = None
        if page.next is not None:
            query = {"kind": kind, "limit": limit, "cursor": encode_cursor(page.next)}
            following = f"{request.path}?{urlencode(query)}"
        return self.answer(lambda: {"kind": kind, "results": page.values, "next": following})

    def recovered_page(
        self, store: OperationStore, operation_id: str, kind: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        if recovered_snapshot(store, operation_id) is None:
            return None
        try:
            return store.read_page(operation_id, RESULT_KINDS[kind], start, limit)
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc


class OperationView(OperationAPIView):
    """``DELETE`` asks the workers to stop the operation between chunks."""

    async def delete(self, request: Request, operation_id: str) -> Response:
        return await sync_to_async(self.cancel)(operation_id, request)

    def cancel(self, operation_id: str, request: Request) -> Response:
        store = get_operation_store()
        canonical = parse_operation_id(operation_id)
        snapshot = recovered_snapshot(store, canonical) if canonical else None
        if snapshot is None or not may_see(snapshot.record, request.user):
            raise NotFound("No such operation.")
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
