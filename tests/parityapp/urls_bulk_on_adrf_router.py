"""``BulkModelViewSet`` on adrf's ``DefaultRouter`` (no list-level PUT/PATCH/DELETE, no /bulk/)."""

from adrf.routers import DefaultRouter
from django.urls import include, path

from django_bulk_drf.viewsets import BulkModelViewSet

from .views import register_widgets, widget_viewsets

WidgetViewSet, PagedWidgetViewSet, SlugWidgetViewSet = viewsets = widget_viewsets(
    BulkModelViewSet, __name__
)
router = DefaultRouter()
register_widgets(router, viewsets)

urlpatterns = [
    path("api/", include(router.urls)),
    path("api/", include("django_bulk_drf.urls")),
]
