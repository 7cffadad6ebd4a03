"""The reference mount: adrf's ``ModelViewSet`` on adrf's ``DefaultRouter``."""

from adrf.routers import DefaultRouter
from adrf.viewsets import ModelViewSet
from django.urls import include, path

from .views import register_widgets, widget_viewsets

WidgetViewSet, PagedWidgetViewSet, SlugWidgetViewSet = viewsets = widget_viewsets(
    ModelViewSet, __name__
)
router = DefaultRouter()
register_widgets(router, viewsets)

urlpatterns = [
    path("api/", include(router.urls)),
    path("api/", include("django_bulk_drf.urls")),
]
