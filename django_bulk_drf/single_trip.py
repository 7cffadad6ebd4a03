"""One trip to a thread per write request.

adrf's dispatch runs ``initial()`` (authentication, permissions, throttles) in a thread, then
awaits the handler, whose blocking steps (parse the body, validate, save, serialize the answer)
each take a trip of their own: five for a single create. Each trip costs a hand-over to a thread
and back to the event loop, which, on a small request, is most of the time it spends in Python.

``SingleTripMixin.async_dispatch`` takes one trip instead: ``initial()`` and, when the handler is
one the library knows, its whole work (``answer_in_thread``), in the same ``sync_to_async`` call.
A handler it does not know (an override, an extra action) is awaited afterwards as adrf awaits it;
a synchronous handler runs in that same trip. What a request sees stays adrf's: the same checks
in the same order, the same exceptions, the same answers.

The single-object create, update and destroy run DRF's synchronous equivalents of adrf's handlers
only when nothing asynchronous was customised: the ``perform_a*`` hooks, ``aget_object`` and
``afilter_queryset`` are the library's, the filter backends are synchronous, and an adrf
serializer's async methods are adrf's own (``runs_like_adrf``). Otherwise adrf's handler runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache, partial
from inspect import iscoroutinefunction
from typing import Any

from adrf import generics as adrf_generics
from adrf import mixins as adrf_mixins
from asgiref.sync import sync_to_async
from rest_framework import generics as drf_generics
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from .protocols import AsyncModelViewSet

#: What an in-thread answer may be: the response, a coroutine function to await for it on the
#: event loop (the rest of the work needs the loop), or None (run the handler as adrf does).
ThreadAnswer = Response | Callable[[], Awaitable[Response]] | None

#: An adrf serializer's async methods: adrf's own, or the view's handler must await them.
ASYNC_SERIALIZER_METHODS = ("asave", "acreate", "aupdate", "adata", "ato_representation")
#: Their synchronous counterparts, which adrf's handlers never call on an adrf serializer.
SYNC_SERIALIZER_METHODS = ("save", "create", "update", "data", "to_representation")


class SingleTripMixin(AsyncModelViewSet):
    """``async_dispatch`` with one thread trip; the in-thread single-object handlers.

    Its base is ``object``; to a type checker it is adrf's ``ModelViewSet``, which it extends."""

    #: action → (adrf's handler it stands for, the method answering in the thread).
    single_object_answers: dict[str, tuple[Any, str]] = {
        "acreate": (adrf_mixins.CreateModelMixin.acreate, "create_in_thread"),
        "aupdate": (adrf_mixins.UpdateModelMixin.aupdate, "update_in_thread"),
        "partial_aupdate": (
            adrf_mixins.UpdateModelMixin.partial_aupdate,
            "partial_update_in_thread",
        ),
        "adestroy": (adrf_mixins.DestroyModelMixin.adestroy, "destroy_in_thread"),
    }

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """adrf's ``dispatch``, which asks on every request whether the view is async: adrf's
        ``view_is_async`` walks every member of the class to find out (about a tenth of a
        millisecond each time). The answer is a property of the class: asked once."""
        if is_async_view(type(self)):
            return self.async_dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    async def async_dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """adrf's ``async_dispatch``, with ``initial()`` and the handler's work in one trip."""
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            answer = await sync_to_async(self._initial_and_answer)(request, *args, **kwargs)
            if answer is None:
                answer = partial(self._handler(request), request, *args, **kwargs)
            response = answer if isinstance(answer, Response) else await answer()
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def _handler(self, request: Request) -> Callable[..., Any]:
        method = (request.method or "").lower()
        if method in self.http_method_names:
            return getattr(self, method, self.http_method_not_allowed)
        return self.http_method_not_allowed

    def _initial_and_answer(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """In the thread: DRF's checks, then the answer when it can be made here."""
        self.initial(request, *args, **kwargs)
        handler = self._handler(request)
        if not iscoroutinefunction(handler):
            return handler(request, *args, **kwargs)
        return self.answer_in_thread(request, *args, **kwargs)

    def answer_in_thread(self, request: Request, *args: Any, **kwargs: Any) -> ThreadAnswer:
        """The answer of the request's action computed in this thread (blocking is fine), or
        what to await for it; None to let the handler run on the event loop. Override to answer
        an action of your own in the dispatch's trip."""
        handled = self.single_object_answers.get(self.action or "")
        if handled is None or getattr(type(self), self.action) is not handled[0]:
            return None
        if not self.runs_like_adrf(self.get_serializer_class()):
            return None
        return getattr(self, handled[1])(request, *args, **kwargs)

    # -- adrf's single-object handlers, synchronously -------------------------------------------

    def runs_like_adrf(self, serializer_class: type) -> bool:
        """Whether DRF's synchronous steps give what adrf's handler would: the hooks, the object
        lookup and the serializer's async methods are the library's own."""
        view = type(self)
        own = {
            "perform_acreate": SingleTripMixin.perform_acreate,
            "perform_aupdate": SingleTripMixin.perform_aupdate,
            "perform_adestroy": adrf_mixins.DestroyModelMixin.perform_adestroy,
            "aget_object": adrf_generics.GenericAPIView.aget_object,
            "get_object": drf_generics.GenericAPIView.get_object,
            "afilter_queryset": adrf_generics.GenericAPIView.afilter_queryset,
        }
        if any(getattr(view, name, None) is not method for name, method in own.items()):
            return False
        if any(iscoroutinefunction(backend.filter_queryset) for backend in self.filter_backends):
            return False
        return serializer_runs_like_adrf(serializer_class)

    def create_in_thread(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """adrf's ``acreate``: validate, save, serialize."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        data = serializer.data
        headers = self.get_success_headers(data)
        return Response(data, status=status.HTTP_201_CREATED, headers=headers)

    def update_in_thread(
        self, request: Request, *args: Any, partial: bool = False, **kwargs: Any
    ) -> Response:
        """adrf's ``aupdate``: the object, validated changes, saved, serialized."""
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        if getattr(instance, "_prefetched_objects_cache", None):
            instance._prefetched_objects_cache = {}
        return Response(serializer.data, status=status.HTTP_200_OK)

    def partial_update_in_thread(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """adrf's ``partial_aupdate``."""
        return self.update_in_thread(request, *args, partial=True, **kwargs)

    def destroy_in_thread(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """adrf's ``adestroy``."""
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    # -- adrf awaits ``serializer.asave()``, which DRF serializers lack --------------------------

    async def perform_acreate(self, serializer: Any) -> None:
        """Save the new object: ``asave`` or, on a plain DRF serializer, ``save`` off the loop."""
        await save_serializer(serializer)

    async def perform_aupdate(self, serializer: Any) -> None:
        """Save the changed object, as ``perform_acreate`` does."""
        await save_serializer(serializer)


@cache
def is_async_view(view_class: type) -> bool:
    """adrf's ``view_is_async`` of a view class, computed once."""
    return bool(getattr(view_class, "view_is_async", False))


def serializer_runs_like_adrf(serializer_class: type) -> bool:
    """Whether a serializer's synchronous ``save`` and ``data`` do what adrf's handlers await:
    its async methods are adrf's (or absent), and on an adrf serializer, whose sync methods
    adrf's handlers never call, the sync methods are DRF's too."""

    def owner(name: str) -> str | None:
        for klass in serializer_class.__mro__:
            if name in vars(klass):
                return klass.__module__
        return None

    if any(owner(name) not in (None, "adrf.serializers") for name in ASYNC_SERIALIZER_METHODS):
        return False
    if owner("asave") is None:
        return True  # a DRF serializer: adrf's handlers call its save and data, off the loop
    return all(
        (owner(name) or "").startswith(("rest_framework.", "adrf."))
        for name in SYNC_SERIALIZER_METHODS
    )


async def save_serializer(serializer: Any, **extra: Any) -> Any:
    """``asave`` where the serializer has it (adrf's), DRF's ``save`` off the event loop else."""
    if hasattr(serializer, "asave"):
        return await serializer.asave(**extra)
    return await sync_to_async(serializer.save)(**extra)
