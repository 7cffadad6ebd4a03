"""The demo's URLs plus the baselines, under ``/bench/``; used by ``load_tests.settings`` only."""

from django.urls import path

from asgi_demo.urls import urlpatterns as demo_urlpatterns

from .baseline_views import (
    AdrfPing,
    DrfPing,
    HandWrittenBulkView,
    PlainContractViewSet,
    PlainUpsertContractViewSet,
    ping,
)

urlpatterns = [
    *demo_urlpatterns,
    path("bench/ping/", ping, name="bench-ping"),
    path("bench/adrf-ping/", AdrfPing.as_view(), name="bench-adrf-ping"),
    path("bench/drf-ping/", DrfPing.as_view(), name="bench-drf-ping"),
    path(
        "bench/plain-drf/create/",
        PlainContractViewSet.as_view({"post": "create"}),
        name="bench-plain-create",
    ),
    path(
        "bench/plain-drf/upsert/",
        PlainUpsertContractViewSet.as_view({"post": "create"}),
        name="bench-plain-upsert",
    ),
    path(
        "bench/hand-written/create/",
        HandWrittenBulkView.as_view(upsert=False),
        name="bench-hand-written-create",
    ),
    path(
        "bench/hand-written/upsert/",
        HandWrittenBulkView.as_view(upsert=True),
        name="bench-hand-written-upsert",
    ),
]
