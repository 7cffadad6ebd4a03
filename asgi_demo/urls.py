from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from django_bulk_drf.routers import BulkRouter

from . import pages
from .contracts.views import ContractViewSet

router = BulkRouter()
router.register("contracts", ContractViewSet)

urlpatterns = [
    path("", pages.index, name="demo-index"),
    path("api/", include(router.urls)),
    path("api/", include("django_bulk_drf.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
