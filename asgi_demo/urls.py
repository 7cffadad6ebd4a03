from django.urls import include, path

from django_bulk_drf.routers import BulkRouter

from .contracts.views import ContractViewSet

router = BulkRouter()
router.register("contracts", ContractViewSet)

urlpatterns = [
    path("api/", include(router.urls)),
    path("api/", include("django_bulk_drf.urls")),
]
