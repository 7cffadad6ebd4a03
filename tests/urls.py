from django.urls import include, path

from asgi_demo.urls import urlpatterns as demo_urlpatterns
from django_bulk_drf.routers import BulkRouter
from tests.testapp.background_views import (
    FailingChunkContractViewSet,
    KillAfterCommitContractViewSet,
    PidTrackingContractViewSet,
    SlowStatementContractViewSet,
)
from tests.testapp.views import (
    ActionSerializedContractViewSet,
    BookViewSet,
    EmbeddedContractViewSet,
    FilteredContractViewSet,
    LabelledContractViewSet,
    LegacyHandlerContractViewSet,
    LimitedContractViewSet,
    OwnedViewSet,
    SleepyContractViewSet,
    SlowContractViewSet,
    StampedContractViewSet,
    UpdateHookContractViewSet,
)

router = BulkRouter()
router.register("owned", OwnedViewSet, basename="owned")
router.register("books", BookViewSet)
router.register("embedded-contracts", EmbeddedContractViewSet, basename="embedded-contract")
router.register("slow-contracts", SlowContractViewSet, basename="slow-contract")
router.register("sleepy-contracts", SleepyContractViewSet, basename="sleepy-contract")
router.register("stamped-contracts", StampedContractViewSet, basename="stamped-contract")
router.register("limited-contracts", LimitedContractViewSet, basename="limited-contract")
router.register("hooked-contracts", UpdateHookContractViewSet, basename="hooked-contract")
router.register("pid-contracts", PidTrackingContractViewSet, basename="pid-contract")
router.register("failing-contracts", FailingChunkContractViewSet, basename="failing-contract")
router.register("slow-statement-contracts", SlowStatementContractViewSet, basename="slow-stmt")
router.register("kill-commit-contracts", KillAfterCommitContractViewSet, basename="kill-commit")
router.register("filtered-contracts", FilteredContractViewSet, basename="filtered-contract")
router.register("labelled-contracts", LabelledContractViewSet, basename="labelled-contract")
router.register("action-contracts", ActionSerializedContractViewSet, basename="action-contract")
router.register("legacy-contracts", LegacyHandlerContractViewSet, basename="legacy-contract")

urlpatterns = [*demo_urlpatterns, path("test-api/", include(router.urls))]
