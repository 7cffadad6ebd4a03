from django.urls import include, path

from asgi_demo.urls import urlpatterns as demo_urlpatterns
from django_bulk_drf.routers import BulkRouter
from tests.testapp.views import BookViewSet, EmbeddedContractViewSet, OwnedViewSet

router = BulkRouter()
router.register("owned", OwnedViewSet, basename="owned")
router.register("books", BookViewSet)
router.register("embedded-contracts", EmbeddedContractViewSet, basename="embedded-contract")

urlpatterns = [*demo_urlpatterns, path("test-api/", include(router.urls))]
