from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
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
    # uvicorn serves no static files: the demo serves its own (Swagger UI's, from the sidecar
    # package) so that /api/docs/ works offline. A production deployment puts them behind a CDN.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
]
