"""``BulkModelViewSet`` on ``BulkRouter``: the package as its README sets it up."""

from django_bulk_drf.routers import BulkRouter
from django_bulk_drf.viewsets import BulkModelViewSet

from .views import mount

(WidgetViewSet, PagedWidgetViewSet, SlugWidgetViewSet), urlpatterns = mount(
    BulkModelViewSet, BulkRouter(), __name__
)
