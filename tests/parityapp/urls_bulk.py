"""``BulkModelViewSet`` on ``BulkRouter``: the package as its README sets it up."""

from django.urls import include, path

from django_bulk_drf.routers import BulkRouter
from django_bulk_drf.viewsets import BulkModelViewSet

from .views import register_widgets, widget_viewsets

WidgetViewSet, PagedWidgetViewSet, SlugWidgetViewSet = viewsets = widget_viewsets(
    BulkModelViewSet, __name__
)
router = BulkRouter()
register_widgets(router, viewsets)

urlpatterns = [
    path("api/", include(router.urls)),
    path("api/", include("django_bulk_drf.urls")),
]
