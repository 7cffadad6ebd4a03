"""``BulkRequestMixin``: what the bulk handlers of an adrf viewset share.

Each handler is its declaration in ``actions.ACTIONS`` run through one story: read the payload →
check its size → answer at once (validate and write off the event loop, in one transaction) or
hand it to the background (``hand_off``, which ``BackgroundOperationsMixin`` provides) and answer
``202``. The writes go through ``perform_bulk_create``, ``perform_bulk_update``,
``perform_bulk_upsert`` and ``perform_bulk_delete``, the seams to override (to stamp an owner,
say), in the request and in the workers alike; the ``get_bulk_*`` methods are the per-viewset
limits.

Of what DRF asks the view, only the parsers of the routes that take arrays
(``parsers.with_bulk_parsers``) and the list URL's ``OPTIONS`` metadata are adjusted here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any, TypeVar

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, OperationalError
from django.urls import NoReverseMatch, reverse
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView as DRFAPIView

from .actions import ACTIONS, BulkAction
from .answers import sync_answer
from .exceptions import BulkConflict, DatabaseTimeout, PayloadTooLarge
from .execution import run_in_transaction
from .metrics import measure, sync_metrics
from .parsers import with_bulk_parsers
from .payloads import BulkPayload, body_batches, payload_options, read_payload
from .rows import allowed_conflict_targets
from .settings import bulk_settings
from .single_trip import SingleTripMixin, ThreadAnswer
from .staging import too_many_items
from .validated import ValidatedItem
from .writers import WriteResult, create_rows, delete_rows, update_rows, upsert_rows

#: What ``hand_off`` returns: what to await for the ``202``, or None (not handed off).
HandOff = Callable[[], Awaitable[Response]] | None

Handler = TypeVar("Handler", bound=Callable[..., Any])


def bulk_handler(handler: Handler) -> Handler:
    """Mark a handler as the library's: its work runs in the dispatch's one trip to a thread
    (``answer_in_thread``); an override by a subclass is awaited as adrf awaits a handler."""
    handler.bulk_handler = True  # type: ignore[attr-defined]
    return handler


class BulkRequestMixin(SingleTripMixin):
    """Limits, write hooks and the reading and answering of a bulk request, in the dispatch's one
    trip to a thread (``single_trip.SingleTripMixin``)."""

    #: Largest array answered synchronously (default ``BULK_DRF_SYNC_UPSERT_MAX_ITEMS``).
    bulk_sync_max_items: int | None = None
    #: Largest array accepted at all (default ``BULK_DRF_MAX_RECORDS``).
    bulk_max_records: int | None = None
    #: Allowed ``?unique_fields=`` targets (default: pk, unique fields, unique constraints).
    bulk_unique_fields: list[tuple[str, ...]] | None = None
    #: Leave alone update and upsert items equal to their row (default ``BULK_DRF_SKIP_UNCHANGED``).
    bulk_skip_unchanged: bool | None = None
    #: True on a viewset rebuilt inside a Celery worker.
    bulk_background: bool = False

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
        """Largest array answered synchronously; more is a ``413`` (or, with
        ``BULK_DRF_AUTO_ROUTE``, a background operation)."""
        return self.bulk_sync_max_items or bulk_settings.SYNC_UPSERT_MAX_ITEMS

    def get_bulk_max_records(self) -> int:
        """Largest array (or list of ids) accepted at all, on any endpoint."""
        return self.bulk_max_records or bulk_settings.MAX_RECORDS

    def get_bulk_batch_size(self) -> int:
        """Rows per SQL statement: ``BULK_DRF_BATCH_SIZE`` in the background, else the sync one."""
        if self.bulk_background:
            return bulk_settings.BATCH_SIZE
        return bulk_settings.SYNC_UPSERT_BATCH_SIZE

    def get_bulk_skip_unchanged(self) -> bool:
        """Whether update and upsert items equal to their stored row are left alone (not written,
        reported as ``unchanged``) rather than written again."""
        if self.bulk_skip_unchanged is not None:
            return self.bulk_skip_unchanged
        return bool(bulk_settings.SKIP_UNCHANGED)

    def get_bulk_unique_fields(self) -> list[tuple[str, ...]]:
        """The conflict targets ``?unique_fields=`` may name."""
        if self.bulk_unique_fields is not None:
            return [tuple(target) for target in self.bulk_unique_fields]
        return allowed_conflict_targets(self.get_queryset().model)

    # -- what DRF asks the view: parsers, metadata -----------------------------------------------

    def get_parsers(self) -> list[BaseParser]:
        """The viewset's parsers (``parser_classes``: by default the project's); on the routes
        that take arrays, with the fast JSON parser and CSV (``parsers.with_bulk_parsers``)."""
        parsers = super().get_parsers()
        if any(name in ACTIONS for name in self._route_actions().values()):
            return with_bulk_parsers(parsers)
        return parsers

    def options(  # type: ignore[override]  # DRF calls its handlers with its own Request
        self, request: Request, *args: Any, **kwargs: Any
    ) -> Response:
        """DRF's ``OPTIONS``, whose metadata describes the standard actions as adrf's does: the
        list URL's bulk PUT, PATCH and DELETE are left out of it (DRF's metadata would look for
        the object a PUT replaces). The ``Allow`` header still lists them."""
        bulk_methods = {
            method
            for method, name in self._route_actions().items()
            if name in ACTIONS and ACTIONS[name].enhances is None
        }
        self.http_method_names = [
            method for method in type(self).http_method_names if method not in bulk_methods
        ]
        try:
            return super().options(request, *args, **kwargs)
        finally:
            del self.http_method_names

    def _route_actions(self) -> dict[str, str]:
        """The method → action mapping of the route this view serves."""
        return getattr(self, "action_map", None) or {}

    # -- write hooks: called with the validated items, inside the batch's transaction ------------

    def perform_bulk_create(self, items: list[ValidatedItem]) -> WriteResult:
        """Insert the items; model defaults fill what they leave out."""
        return create_rows(self.get_queryset(), items, self.get_bulk_batch_size())

    def perform_bulk_update(self, items: list[ValidatedItem], partial: bool) -> WriteResult:
        """Write each item's fields onto its row (``item.instance``). ``partial`` is True for a
        PATCH, whose items were validated as partial; the items of a PUT were validated in full,
        so theirs carry every field a replacement writes. Either way a field an item leaves out
        is not written, and an item equal to its row is not written at all
        (``get_bulk_skip_unchanged``)."""
        return update_rows(
            self.get_queryset(), items, self.get_bulk_batch_size(), self.get_bulk_skip_unchanged()
        )

    def perform_bulk_upsert(
        self, items: list[ValidatedItem], unique_fields: tuple[str, ...]
    ) -> WriteResult:
        """Insert the items, or update the fields they carry where ``unique_fields`` match
        (leaving alone the rows they equal: ``get_bulk_skip_unchanged``)."""
        return upsert_rows(
            self.get_queryset(),
            items,
            unique_fields,
            self.get_bulk_batch_size(),
            self.get_bulk_skip_unchanged(),
        )

    def perform_bulk_delete(self, ids: list[Any]) -> WriteResult:
        """Delete the rows of ``get_queryset()`` with these ids."""
        return delete_rows(self.get_queryset(), ids)

    # -- the background's seam -------------------------------------------------------------------

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
        """What to await to start a background operation with the payload (its items, or the
        ``batches`` a body yields as it is read) and answer ``202``; ``from_list`` when the list
        URL hands the payload over. None here: a view without ``BackgroundOperationsMixin``
        answers every request at once."""
        return None

    # -- running ----------------------------------------------------------------------------------

    def answer_in_thread(self, request: Request, *args: Any, **kwargs: Any) -> ThreadAnswer:
        """The bulk handlers' work, in the dispatch's one trip to a thread (unless a subclass
        overrides the handler: it is then awaited as adrf awaits it)."""
        action = ACTIONS.get(self.action or "")
        handler = getattr(type(self), self.action or "", None)
        if action is None or not getattr(handler, "bulk_handler", False):
            return super().answer_in_thread(request, *args, **kwargs)
        if self.action == "alist" and "ids" not in request.query_params:
            return None  # adrf's list
        if self.action == "acreate" and not self._is_bulk_create(request, request.data):
            return self._single_create_in_thread(request, *args, **kwargs)
        return self._bulk_in_thread(request, action)

    def _single_create_in_thread(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """adrf's create of one object, here when it runs as adrf's would."""
        if self.runs_like_adrf(self.get_serializer_class()):
            return self.create_in_thread(request, *args, **kwargs)
        return partial(super().acreate, request, *args, **kwargs)

    @staticmethod
    def _is_bulk_create(request: Request, data: Any) -> bool:
        """A ``POST`` on the list is a bulk request when it sends an array, names a key
        (``?unique_fields=``) or asks for a dry run (``?dry_run=``)."""
        bulk_options = ("unique_fields", "dry_run")
        return isinstance(data, list) or any(o in request.query_params for o in bulk_options)

    async def _bulk(self, request: Request, action: BulkAction) -> Response:
        """The bulk handlers' work when they are awaited (``answer_in_thread`` did not run it)."""
        answer = await sync_to_async(self._bulk_in_thread)(request, action)
        return answer if isinstance(answer, Response) else await answer()

    def _bulk_in_thread(self, request: Request, action: BulkAction) -> Any:
        """Read the payload; answer at once, or hand the payload over to start a background
        operation (what to await for the ``202``) when the action runs there, when the client
        asks for it, or (``BULK_DRF_AUTO_ROUTE``) when too large. A ``/bulk/`` body of items is
        staged as it is read, never held whole. Blocking: runs in a thread."""
        if action.background and action.kinds[0].validates:
            payload = payload_options(self, request, action)
            return self.hand_off(request, action, payload, body_batches(request))
        items = None
        if action is ACTIONS["acreate"] and not isinstance(request.data, list):
            items = [request.data]  # one object with ?unique_fields=: a one-item upsert
        payload = read_payload(self, request, action, items)
        max_records = self.get_bulk_max_records()
        if payload.total_items > max_records:
            raise too_many_items(max_records, payload.total_items)
        if action.background:
            return self.hand_off(request, action, payload)
        if prefers_respond_async(request):
            started = self.hand_off(
                request, action, payload, from_list=True, preference_applied=True
            )
            if started is not None:
                return started
        sync_limit = self.get_bulk_sync_max_items()
        if payload.total_items > sync_limit:
            started = None
            if bulk_settings.AUTO_ROUTE:
                started = self.hand_off(request, action, payload, from_list=True)
            if started is None:
                raise too_many_for_sync(payload, sync_limit, self._bulk_url(request))
            return started
        answer = self._sync_answer(payload)
        return Response(answer, status=payload.kind.status_code)

    def _sync_answer(self, payload: BulkPayload) -> dict[str, Any]:
        """Validate and write in one transaction (in a thread: the event loop stays free)."""
        metrics = measure(self.get_queryset().db) if bulk_settings.ENABLE_METRICS else nullcontext()
        with refusals_as_answers(), metrics as measurement:
            outcome = run_in_transaction(self, payload, bulk_settings.SYNC_UPSERT_TIMEOUT)
        answer = sync_answer(payload, outcome)
        if measurement is not None:
            answer["metrics"] = sync_metrics(measurement, payload.total_items)
        return answer

    def _bulk_url(self, request: Request) -> str:
        try:
            path = reverse(f"{self.basename}-bulk")
        except NoReverseMatch:
            path = request.path.rstrip("/") + "/bulk/"
        query = request.META.get("QUERY_STRING")
        return request.build_absolute_uri(path + (f"?{query}" if query else ""))


def too_many_for_sync(payload: BulkPayload, limit: int, bulk_url: str) -> PayloadTooLarge:
    """The ``413`` of a payload over ``get_bulk_sync_max_items()``, with the URL to use."""
    return PayloadTooLarge(
        {
            "error": f"Too many items for a synchronous request: {payload.total_items} "
            f"is more than {limit}.",
            "total_items": payload.total_items,
            "max_sync_items": limit,
            "suggestion": "Send the batch to bulk_url, which answers 202 and processes it "
            "in the background, or add the header 'Prefer: respond-async'.",
            "bulk_url": bulk_url,
        }
    )


@contextmanager
def refusals_as_answers() -> Iterator[None]:
    """Database failures of a synchronous batch as clear 409/503 answers; nothing was written."""
    try:
        yield
    except IntegrityError as exc:
        raise BulkConflict(
            f"The database refused the batch (a concurrent change?): {exc}. Nothing was written."
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
        raise BulkConflict(f"The database refused the batch: {exc}. Nothing was written.") from exc


def prefers_respond_async(request: Request) -> bool:
    """True when the client sent ``Prefer: respond-async`` (RFC 7240)."""
    preferences = request.headers.get("Prefer", "").lower().replace(";", ",").split(",")
    return "respond-async" in [preference.strip() for preference in preferences]
