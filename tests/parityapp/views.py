"""The same viewsets on any base class: ``widget_viewsets(ModelViewSet, ...)`` and
``widget_viewsets(BulkModelViewSet, ...)`` differ by their base class only, and carry the same
names and docstrings, so that their answers (view names in the browsable API and ``OPTIONS``
included) can be compared byte for byte."""

from typing import Any

from asgiref.sync import sync_to_async
from django.urls import include, path
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from .models import Widget
from .serializers import WidgetSerializer

#: The throttle's clock: it does not move, so a 429 says the same wait on every mount.
FIXED_NOW = 1_700_000_000.0


class FixedClockThrottle(SimpleRateThrottle):
    """Five requests a minute per client address, timed by a clock that stands still."""

    scope = "parity"
    rate = "5/min"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def timer(self) -> float:
        return FIXED_NOW


class TwoPerPage(PageNumberPagination):
    page_size = 2


class WidgetActions:
    """Extra actions: a sync one, an async one on an object, and one that reuses ``alist``."""

    @action(detail=False)
    def stats(self, request: Any) -> Response:
        return Response({"total": self.get_queryset().count()})

    @action(detail=False)
    async def everything(self, request: Any) -> Response:
        return await self.alist()

    @action(detail=True, methods=["post"])
    async def rename(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        widget = await self.aget_object()
        widget.name = request.data.get("name", widget.name)
        await sync_to_async(widget.save)(update_fields=["name"])
        return Response({"id": widget.pk, "name": widget.name})


def widget_viewsets(base: type, module: str) -> tuple[type, type, type]:
    """``WidgetViewSet``, ``PagedWidgetViewSet`` and ``SlugWidgetViewSet`` on ``base``, as
    attributes of ``module`` (so that a Celery worker can import them by name)."""
    common = {
        "__module__": module,
        "queryset": Widget.objects.all(),
        "serializer_class": WidgetSerializer,
        "filter_backends": [SearchFilter, OrderingFilter],
        "search_fields": ["name"],
        "ordering_fields": ["name", "count"],
        "throttle_classes": [FixedClockThrottle],
        "pagination_class": None,
    }
    widgets = type(
        "WidgetViewSet",
        (WidgetActions, base),
        {**common, "__doc__": "Widgets, with extra actions."},
    )
    paged = type(
        "PagedWidgetViewSet",
        (base,),
        {**common, "__doc__": "Widgets, two per page.", "pagination_class": TwoPerPage},
    )
    by_slug = type(
        "SlugWidgetViewSet",
        (WidgetActions, base),
        {**common, "__doc__": "Widgets looked up by slug.", "lookup_field": "slug"},
    )
    return widgets, paged, by_slug


def mount(base: type, router: Any, module: str) -> tuple[tuple[type, type, type], list[Any]]:
    """The three viewsets on ``base``, registered on ``router`` under the same prefixes on every
    mount, and the mount's URL patterns."""
    widgets, paged, by_slug = viewsets = widget_viewsets(base, module)
    router.register("widgets", widgets, basename="widget")
    router.register("paged-widgets", paged, basename="paged-widget")
    router.register("slug-widgets", by_slug, basename="slug-widget")
    urlpatterns = [
        path("api/", include(router.urls)),
        path("api/", include("django_bulk_drf.urls")),
    ]
    return viewsets, urlpatterns
