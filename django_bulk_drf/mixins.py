"""``BulkOperationsMixin``: the standard endpoints of an adrf viewset, enhanced to take arrays.

Each handler reads like DRF's: parse → check the size → validate and write (off the event loop, in
one transaction) → answer. The writes go through ``perform_bulk_create``, ``perform_bulk_update``,
``perform_bulk_upsert`` and ``perform_bulk_delete``, the seams to override (to stamp an owner, say).
"""

from __future__ import annotations

from typing import Any

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, OperationalError
from django.urls import NoReverseMatch, reverse
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView as DRFAPIView

from .answers import accepted_answer, sync_answer
from .background import fail_operation, stage_operation
from .exceptions import (
    BadBulkRequest,
    BulkConflict,
    DatabaseTimeout,
    OperationStoreUnavailable,
    PayloadTooLarge,
    ServiceUnavailable,
)
from .execution import BulkOutcome, run_in_transaction
from .idempotency import once_per_key
from .metrics import measure, sync_metrics
from .operations import OperationRecord
from .parsers import CSVParser, OrjsonParser
from .payloads import (
    BulkPayload,
    Operation,
    parse_ids,
    parse_unique_fields,
    require_item_list,
    write_operation,
)
from .serializers import ValidatedItem, allowed_conflict_targets
from .settings import bulk_settings
from .tasks import run_operation
from .throttling import BulkOperationThrottle
from .writers import WriteResult, create_rows, delete_rows, update_rows, upsert_rows


class BulkOperationsMixin:
    """Bulk handlers for an adrf ``ModelViewSet``; see the README for the endpoints they serve."""

    #: Largest array answered synchronously (default ``BULK_DRF_SYNC_UPSERT_MAX_ITEMS``).
    bulk_sync_max_items: int | None = None
    #: Largest array accepted at all (default ``BULK_DRF_MAX_RECORDS``).
    bulk_max_records: int | None = None
    #: Items per transaction in the background (default ``BULK_DRF_CHUNK_SIZE``).
    bulk_chunk_size: int | None = None
    #: Allowed ``?unique_fields=`` targets (default: pk, unique fields, unique constraints).
    bulk_unique_fields: list[tuple[str, ...]] | None = None
    #: True on a viewset rebuilt inside a Celery worker.
    bulk_background: bool = False
    #: JSON (orjson, not capped by ``DATA_UPLOAD_MAX_MEMORY_SIZE``), CSV, and DRF's form parsers.
    parser_classes = [OrjsonParser, CSVParser, FormParser, MultiPartParser]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if issubclass(cls, DRFAPIView) and not issubclass(cls, AsyncAPIView):
            raise ImproperlyConfigured(
                f"{cls.__name__} mixes BulkOperationsMixin into a synchronous DRF view. The bulk "
                "handlers are async: subclass django_bulk_drf.viewsets.BulkModelViewSet, or mix "
                "BulkOperationsMixin into adrf.viewsets.ModelViewSet."
            )

    # -- per-viewset limits -----------------------------------------------------------------------

    def get_bulk_sync_max_items(self) -> int:
        return self.bulk_sync_max_items or bulk_settings.SYNC_UPSERT_MAX_ITEMS

    def get_bulk_max_records(self) -> int:
        return self.bulk_max_records or bulk_settings.MAX_RECORDS

    def get_bulk_chunk_size(self) -> int:
        return self.bulk_chunk_size or bulk_settings.CHUNK_SIZE

    def get_bulk_batch_size(self) -> int:
        """Rows per SQL statement: ``BULK_DRF_BATCH_SIZE`` in the background, else the sync one."""
        if self.bulk_background:
            return bulk_settings.BATCH_SIZE
        return bulk_settings.SYNC_UPSERT_BATCH_SIZE

    def get_bulk_unique_fields(self) -> list[tuple[str, ...]]:
        if self.bulk_unique_fields is not None:
            return [tuple(target) for target in self.bulk_unique_fields]
        return allowed_conflict_targets(self.get_queryset().model)

    def get_throttles(self) -> list[Any]:
        """The viewset's throttles, plus the ``bulk`` scope on the ``/bulk/`` endpoints."""
        throttles = super().get_throttles()
        if (self.action or "").startswith("async_bulk_") or prefers_respond_async(self.request):
            throttles.append(BulkOperationThrottle())
        return throttles

    # -- single-object hooks: adrf awaits ``serializer.asave()``, which DRF serializers lack ----

    async def perform_acreate(self, serializer: Any) -> None:
        await save_serializer(serializer)

    async def perform_aupdate(self, serializer: Any) -> None:
        await save_serializer(serializer)

    # -- write hooks ------------------------------------------------------------------------------

    def perform_bulk_create(self, items: list[ValidatedItem]) -> WriteResult:
        return create_rows(self.get_queryset(), items, self.get_bulk_batch_size())

    def perform_bulk_update(self, items: list[ValidatedItem], partial: bool) -> WriteResult:
        return update_rows(self.get_queryset(), items, self.get_bulk_batch_size())

    def perform_bulk_upsert(
        self, items: list[ValidatedItem], unique_fields: tuple[str, ...]
    ) -> WriteResult:
        return upsert_rows(self.get_queryset(), items, unique_fields, self.get_bulk_batch_size())

    def perform_bulk_delete(self, ids: list[Any]) -> WriteResult:
        return delete_rows(self.get_queryset(), ids)

    # -- list route handlers ----------------------------------------------------------------------

    async def alist(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if "ids" not in request.query_params:
            return await super().alist(request, *args, **kwargs)
        ids = parse_ids(self.get_queryset().model, request.query_params["ids"])
        return await self.run_bulk(request, BulkPayload(Operation.GET, ids))

    async def acreate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = await self.get_bulk_data(request)
        unique_fields = parse_unique_fields(self, request.query_params.get("unique_fields"))
        if not isinstance(data, list) and not unique_fields:
            return await super().acreate(request, *args, **kwargs)
        items = data if isinstance(data, list) else [data]
        return await self.run_bulk(request, self.write_payload(request, items, unique_fields))

    async def bulk_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``PUT`` on the list: replace rows by id, or full upsert with ``?unique_fields=``."""
        return await self.run_bulk(request, await self.get_write_payload(request))

    async def bulk_partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``PATCH`` on the list: partial update by id, or partial upsert (``?unique_fields=``)."""
        return await self.run_bulk(request, await self.get_write_payload(request))

    async def bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``DELETE`` on the list: the rows named by ``?ids=`` or a JSON array of ids."""
        return await self.run_bulk(request, await self.get_delete_payload(request))

    # -- reading the request ----------------------------------------------------------------------

    async def get_bulk_data(self, request: Request) -> Any:
        """The parsed body; parsing a large body is CPU work, so it runs off the event loop."""
        return await sync_to_async(lambda: request.data)()

    def write_payload(
        self, request: Request, items: list[Any], unique_fields: tuple[str, ...]
    ) -> BulkPayload:
        operation, partial = write_operation(request.method, unique_fields)
        return BulkPayload(operation, items, unique_fields, partial)

    async def get_write_payload(self, request: Request) -> BulkPayload:
        unique_fields = parse_unique_fields(self, request.query_params.get("unique_fields"))
        items = require_item_list(await self.get_bulk_data(request))
        return self.write_payload(request, items, unique_fields)

    async def get_delete_payload(self, request: Request) -> BulkPayload:
        model = self.get_queryset().model
        if "ids" in request.query_params:
            return BulkPayload(Operation.DELETE, parse_ids(model, request.query_params["ids"]))
        body = await self.get_bulk_data(request)
        if not isinstance(body, list):
            raise BadBulkRequest("Give the ids as ?ids=1,2,3 or as a JSON array of ids.")
        return BulkPayload(Operation.DELETE, parse_ids(model, body))

    # -- running ----------------------------------------------------------------------------------

    async def run_bulk(self, request: Request, payload: BulkPayload) -> Response:
        """Answer at once, or hand the payload to the background path when asked or too large."""
        self.check_bulk_max_records(payload)
        if prefers_respond_async(request):
            return await self.start_bulk_operation(request, payload, preference_applied=True)
        if payload.total_items > self.get_bulk_sync_max_items() and bulk_settings.AUTO_ROUTE:
            return await self.start_bulk_operation(request, payload)
        self.check_bulk_sync_size(request, payload)
        return Response(await self.run_sync_bulk(payload), status=self.sync_status(payload))

    def check_bulk_max_records(self, payload: BulkPayload) -> None:
        limit = self.get_bulk_max_records()
        if payload.total_items > limit:
            raise PayloadTooLarge(
                {
                    "error": f"Too many items: {payload.total_items} is more than {limit}.",
                    "total_items": payload.total_items,
                    "max_records": limit,
                    "suggestion": f"Split the batch into requests of at most {limit} items.",
                }
            )

    def check_bulk_sync_size(self, request: Request, payload: BulkPayload) -> None:
        limit = self.get_bulk_sync_max_items()
        if payload.total_items > limit:
            raise PayloadTooLarge(
                {
                    "error": f"Too many items for a synchronous request: {payload.total_items} "
                    f"is more than {limit}.",
                    "total_items": payload.total_items,
                    "max_sync_items": limit,
                    "suggestion": "Send the batch to bulk_url, which answers 202 and processes it "
                    "in the background, or add the header 'Prefer: respond-async'.",
                    "bulk_url": self.get_bulk_url(request),
                }
            )

    def get_bulk_url(self, request: Request) -> str:
        try:
            path = reverse(f"{self.basename}-bulk")
        except NoReverseMatch:
            path = request.path.rstrip("/") + "/bulk/"
        query = request.META.get("QUERY_STRING")
        return request.build_absolute_uri(path + (f"?{query}" if query else ""))

    def sync_status(self, payload: BulkPayload) -> int:
        if payload.operation == Operation.CREATE:
            return status.HTTP_201_CREATED
        return status.HTTP_200_OK

    async def run_sync_bulk(self, payload: BulkPayload) -> dict[str, Any]:
        """Validate and write in one transaction, in a worker thread: the event loop stays free."""
        return await sync_to_async(self.sync_bulk_answer)(payload)

    def sync_bulk_answer(self, payload: BulkPayload) -> dict[str, Any]:
        if not bulk_settings.ENABLE_METRICS:
            return sync_answer(payload, self.sync_bulk_outcome(payload))
        with measure(self.get_queryset().db) as measurement:
            outcome = self.sync_bulk_outcome(payload)
        return sync_answer(payload, outcome) | {
            "metrics": sync_metrics(measurement, payload.total_items)
        }

    def sync_bulk_outcome(self, payload: BulkPayload) -> BulkOutcome:
        """The payload validated and written in one transaction; database failures become
        clear 409/503 answers, and nothing is written."""
        try:
            return run_in_transaction(self, payload, bulk_settings.SYNC_UPSERT_TIMEOUT)
        except IntegrityError as exc:
            raise BulkConflict(
                f"The database refused the batch (a concurrent change?): {exc}. "
                "Nothing was written."
            ) from exc
        except OperationalError as exc:
            raise DatabaseTimeout(
                {
                    "error": "The batch did not finish within BULK_DRF_SYNC_UPSERT_TIMEOUT "
                    f"({bulk_settings.SYNC_UPSERT_TIMEOUT} s) or the database failed: {exc}. "
                    "Nothing was written; send it to the /bulk/ endpoint instead.",
                }
            ) from exc
        except DatabaseError as exc:
            raise BulkConflict(
                f"The database refused the batch: {exc}. Nothing was written."
            ) from exc

    # -- /bulk/ handlers: the same payloads, processed in the background ---------------------

    async def async_bulk_list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``GET /bulk/?ids=``: read the rows in the background."""
        ids = parse_ids(self.get_queryset().model, request.query_params.get("ids", ""))
        return await self.start_bulk_operation(request, BulkPayload(Operation.GET, ids))

    async def async_bulk_create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``POST /bulk/``: create, or upsert with ``?unique_fields=``."""
        return await self.start_bulk_operation(request, await self.get_write_payload(request))

    async def async_bulk_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``PUT /bulk/``: replace by id, or full upsert with ``?unique_fields=``."""
        return await self.start_bulk_operation(request, await self.get_write_payload(request))

    async def async_bulk_partial_update(
        self, request: Request, *args: Any, **kwargs: Any
    ) -> Response:
        """``PATCH /bulk/``: partial update by id, or partial upsert with ``?unique_fields=``."""
        return await self.start_bulk_operation(request, await self.get_write_payload(request))

    async def async_bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``DELETE /bulk/``: delete the rows named by ``?ids=`` or a JSON array of ids."""
        return await self.start_bulk_operation(request, await self.get_delete_payload(request))

    async def start_bulk_operation(
        self, request: Request, payload: BulkPayload, *, preference_applied: bool = False
    ) -> Response:
        """Stage the payload, queue the operation and answer ``202`` with where to follow it."""
        self.check_bulk_max_records(payload)
        if not payload.items:
            raise BadBulkRequest("The array is empty: there is nothing to do.")
        try:
            record = await sync_to_async(once_per_key)(
                request, payload, lambda: self.queue_bulk_operation(payload)
            )
        except RedisError as exc:
            raise OperationStoreUnavailable() from exc
        answer = accepted_answer(record, payload)
        headers = {"Location": answer["status_url"]}
        if preference_applied:
            headers["Preference-Applied"] = "respond-async"
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers=headers)

    def queue_bulk_operation(self, payload: BulkPayload) -> OperationRecord:
        record = stage_operation(self, payload, self.get_bulk_chunk_size())
        try:
            run_operation.delay(record.task_id)
        except Exception as exc:  # the broker refused the task: say so, leave no pending record
            fail_operation(record.task_id, f"The task could not be queued: {exc}.")
            raise ServiceUnavailable(
                f"The task queue is unavailable ({exc}); nothing was started."
            ) from exc
        return record


async def save_serializer(serializer: Any, **extra: Any) -> Any:
    """``asave`` where the serializer has it (adrf's), DRF's ``save`` off the event loop else."""
    if hasattr(serializer, "asave"):
        return await serializer.asave(**extra)
    return await sync_to_async(serializer.save)(**extra)


def prefers_respond_async(request: Request) -> bool:
    """True when the client sent ``Prefer: respond-async`` (RFC 7240)."""
    preferences = request.headers.get("Prefer", "").lower().replace(";", ",").split(",")
    return "respond-async" in [preference.strip() for preference in preferences]
