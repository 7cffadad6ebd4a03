"""``BulkModelViewSet`` on adrf's ``DefaultRouter`` (no list-level PUT/PATCH/DELETE, no /bulk/)."""

from adrf.routers import DefaultRouter

from django_bulk_drf.viewsets import BulkModelViewSet

from .views import mount

(WidgetViewSet, PagedWidgetViewSet, SlugWidgetViewSet), urlpatterns = mount(
    BulkModelViewSet, DefaultRouter(), __name__
)
