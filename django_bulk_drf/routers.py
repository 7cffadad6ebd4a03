"""``BulkRouter``: adrf's default router plus list-level PUT/PATCH/DELETE and a ``/bulk/`` route.

The routes are this class's own list, their method mappings read from ``actions.ACTIONS``; DRF's
and adrf's router classes are left as they are. Everything that is not a bulk request is routed as
adrf's ``DefaultRouter`` routes it:

- A viewset without the bulk handlers (a plain adrf viewset) gets adrf's routes, unchanged.
- ``{prefix}/bulk/`` is also the URL of the object whose lookup value is ``bulk``. A request there
  that is not a bulk request goes to the detail route, with that lookup value: ``GET``/``HEAD``
  without ``?ids=``, ``DELETE`` with neither ``?ids=`` nor a body, ``PUT``/``PATCH`` whose JSON
  body is an object, ``OPTIONS`` and any other method. ``POST`` is always the bulk one.
- An extra list action whose ``url_path`` or ``url_name`` is ``bulk`` would be shadowed: it is
  refused at registration (``ImproperlyConfigured``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

from adrf.routers import DefaultRouter
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.urls import URLPattern
from rest_framework.routers import Route, SimpleRouter
from rest_framework.viewsets import ViewSetMixin

from .actions import Route as BulkRoute
from .actions import route_mapping
from .bulk_requests import BulkRequestMixin
from .parsers import ARRAY_MEDIA_TYPES

if TYPE_CHECKING:
    from rest_framework.decorators import ViewSetAction

#: The path segment of the background endpoints, and the lookup value that shares their URL.
BULK_PATH = "bulk"

LIST_ROUTE = Route(
    url=r"^{prefix}{trailing_slash}$",
    mapping=route_mapping(BulkRoute.LIST),
    name="{basename}-list",
    detail=False,
    initkwargs={"suffix": "List"},
)

BULK_ROUTE = Route(
    url=r"^{prefix}/" + BULK_PATH + r"{trailing_slash}$",
    mapping=route_mapping(BulkRoute.BULK),
    name="{basename}-" + BULK_PATH,
    detail=False,
    initkwargs={"suffix": "Bulk"},
)


# DRF's own list-action, detail and detail-action routes, unchanged.
_, DYNAMIC_LIST_ROUTE, DETAIL_ROUTE, DYNAMIC_DETAIL_ROUTE = SimpleRouter.routes


class BulkRouter(DefaultRouter):
    """Routes a ``BulkModelViewSet``; plain viewsets registered on it get adrf's usual routes."""

    routes = [LIST_ROUTE, BULK_ROUTE, DYNAMIC_LIST_ROUTE, DETAIL_ROUTE, DYNAMIC_DETAIL_ROUTE]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: adrf's router, with the same options: the routes of viewsets without bulk handlers.
        self.plain_router = DefaultRouter(*args, **kwargs)

    def get_routes(self, viewset: type[ViewSetMixin]) -> list[Route]:
        if not issubclass(viewset, BulkRequestMixin):
            return self.plain_router.get_routes(viewset)
        # The extra actions are the methods @action marked (DRF types them as plain views).
        extra_actions = cast("list[ViewSetAction[Any]]", viewset.get_extra_actions())
        shadowed = [
            action.__name__
            for action in extra_actions
            if not action.detail and BULK_PATH in (action.url_path, action.url_name)
        ]
        if shadowed:
            raise ImproperlyConfigured(
                f"{viewset.__name__} has an extra action at {BULK_PATH}/ ({', '.join(shadowed)}), "
                f"where BulkRouter serves the background bulk endpoints: give it another "
                f"url_path and url_name, or register the viewset on adrf's DefaultRouter, which "
                f"has no /{BULK_PATH}/ route."
            )
        return super().get_routes(viewset)

    def get_urls(self) -> list[Any]:
        """DRF's URL patterns, the ``/bulk/`` ones handing detail requests to the detail view."""
        urls = super().get_urls()
        views = {url.name: url.callback for url in urls if isinstance(url, URLPattern)}
        for _, viewset, basename in self.registry:
            bulk_name = f"{basename}-{BULK_PATH}"
            bulk_view, detail_view = views.get(bulk_name), views.get(f"{basename}-detail")
            if bulk_view is None or detail_view is None:
                continue
            lookup = viewset.lookup_url_kwarg or viewset.lookup_field
            view = bulk_or_detail_view(bulk_view, detail_view, lookup)
            urls = [
                URLPattern(url.pattern, view, url.default_args, url.name)
                if isinstance(url, URLPattern) and url.name == bulk_name
                else url
                for url in urls
            ]
        return urls


def bulk_or_detail_view(bulk_view: Any, detail_view: Any, lookup: str) -> Any:
    """The view of ``{prefix}/bulk/``: bulk requests to ``bulk_view``, the others to the detail
    view of the object whose lookup value is ``bulk``."""

    async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if is_bulk_request(request):
            return await bulk_view(request, *args, **kwargs)
        return await detail_view(request, *args, **kwargs, **{lookup: BULK_PATH})

    # The bulk view's name, viewset class, actions and csrf_exempt: what schema generators read.
    return functools.update_wrapper(view, bulk_view)


def is_bulk_request(request: HttpRequest) -> bool:
    """Whether a request to ``{prefix}/bulk/`` is meant for the background endpoints."""
    method = request.method
    if method == "POST":
        return True
    if method in ("GET", "HEAD"):
        return "ids" in request.GET
    if method == "DELETE":
        return "ids" in request.GET or content_length(request) > 0
    if method in ("PUT", "PATCH"):
        return carries_array(request)
    return False


def carries_array(request: HttpRequest) -> bool:
    """Whether a PUT or PATCH body is an array (CSV, NDJSON, or JSON starting with ``[``), rather
    than the object of a detail update. A JSON body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is no
    detail update (DRF would refuse it), so it is not read here."""
    if request.content_type in ARRAY_MEDIA_TYPES:
        return True
    if request.content_type != "application/json" or content_length(request) == 0:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and content_length(request) > limit:
        return True
    try:
        text = request.body.decode(request.encoding or settings.DEFAULT_CHARSET, "replace")
    except LookupError:  # not a text encoding: the detail route's parser refuses it
        return False
    return text.lstrip()[:1] == "["


def content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
