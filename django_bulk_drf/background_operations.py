"""``BackgroundOperationsMixin``: the ``/bulk/`` handlers, and the hand-off to the background.

The ``/bulk/`` routes take the list URL's payloads and always process them in the background:
the body is staged as it is read and the answer is ``202`` with where to follow the operation
(``start.start_operation``). The list URL hands a payload over too when the client sends
``Prefer: respond-async`` or (``BULK_DRF_AUTO_ROUTE``) when it is over the synchronous limit;
such a request counts against the ``bulk`` throttle scope, which the ``/bulk/`` routes always do.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from .actions import ACTIONS, BulkAction
from .answers import accepted_answer
from .bulk_requests import BulkRequestMixin, HandOff, bulk_handler
from .exceptions import OperationStoreUnavailable
from .payloads import BulkPayload
from .settings import bulk_settings
from .start import start_operation
from .throttling import BulkOperationThrottle


class BackgroundOperationsMixin(BulkRequestMixin):
    """``/bulk/`` handlers for an adrf ``ModelViewSet``, processed by the Celery workers."""

    #: Items per transaction in the background (default ``BULK_DRF_CHUNK_SIZE``).
    bulk_chunk_size: int | None = None

    def get_bulk_chunk_size(self) -> int:
        """Items per chunk (one transaction each) of a background operation."""
        return self.bulk_chunk_size or bulk_settings.CHUNK_SIZE

    def get_throttles(self) -> list[Any]:
        """The viewset's throttles, plus the ``bulk`` scope on the ``/bulk/`` endpoints (the list
        URL counts against it only when it hands work to the background: ``hand_off``)."""
        throttles = super().get_throttles()
        action = ACTIONS.get(self.action or "")
        if action is not None and action.background:
            throttles.append(BulkOperationThrottle())
        return throttles

    @bulk_handler
    async def async_bulk_list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``GET /bulk/?ids=``: read the rows in the background."""
        return await self._bulk(request, ACTIONS["async_bulk_list"])

    @bulk_handler
    async def async_bulk_create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``POST /bulk/``: create, or upsert with ``?unique_fields=``."""
        return await self._bulk(request, ACTIONS["async_bulk_create"])

    @bulk_handler
    async def async_bulk_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``PUT /bulk/``: replace by id, or full upsert with ``?unique_fields=``."""
        return await self._bulk(request, ACTIONS["async_bulk_update"])

    @bulk_handler
    async def async_bulk_partial_update(
        self, request: Request, *args: Any, **kwargs: Any
    ) -> Response:
        """``PATCH /bulk/``: partial update by id, or partial upsert with ``?unique_fields=``."""
        return await self._bulk(request, ACTIONS["async_bulk_partial_update"])

    @bulk_handler
    async def async_bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``DELETE /bulk/``: delete the rows named by ``?ids=`` or a JSON array of ids."""
        return await self._bulk(request, ACTIONS["async_bulk_destroy"])

    def hand_off(
        self,
        request: Request,
        action: BulkAction,
        payload: BulkPayload,
        batches: Iterable[list[Any]] | None = None,
        *,
        from_list: bool = False,
        preference_applied: bool = False,
    ) -> HandOff:
        """Start a background operation with the payload: what to await for the ``202``. A hand
        off from the list URL counts against the ``bulk`` throttle scope first (the ``/bulk/``
        routes were counted on entry)."""
        if from_list:
            self.check_bulk_throttle(request)
        return partial(
            self.start_in_background,
            request,
            payload,
            batches or [payload.items],
            preference_applied=preference_applied,
        )

    def check_bulk_throttle(self, request: Request) -> None:
        """Count a request that starts a background operation against the ``bulk`` scope."""
        throttle = BulkOperationThrottle()
        if not throttle.allow_request(request, self):
            # None (no wait known) is what DRF's check_throttles passes too.
            self.throttled(request, throttle.wait())  # type: ignore[arg-type]

    async def start_in_background(
        self,
        request: Request,
        payload: BulkPayload,
        batches: Iterable[list[Any]],
        *,
        preference_applied: bool = False,
    ) -> Response:
        """Stage the batches of items, queue the operation (``start.start_operation``, in a
        thread) and answer ``202`` with where to follow it."""
        start = partial(start_operation, self, request, payload, batches)
        try:
            record = await sync_to_async(start, thread_sensitive=False)()
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc
        answer = accepted_answer(record)
        headers = {"Location": answer["status_url"]}
        if preference_applied:
            headers["Preference-Applied"] = "respond-async"
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers=headers)
