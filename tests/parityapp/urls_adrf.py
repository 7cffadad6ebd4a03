"""The reference mount: adrf's ``ModelViewSet`` on adrf's ``DefaultRouter``."""

from adrf.routers import DefaultRouter
from adrf.viewsets import ModelViewSet

from .views import mount

(WidgetViewSet, PagedWidgetViewSet, SlugWidgetViewSet), urlpatterns = mount(
    ModelViewSet, DefaultRouter(), __name__
)
