"""``path("api/", include("django_bulk_drf.urls"))`` serves the operation endpoints."""

from django.urls import path

from .views import OperationResultsView, OperationStatusView, OperationView

urlpatterns = [
    path(
        "operations/<str:operation_id>/status/",
        OperationStatusView.as_view(),
        name="bulk-operation-status",
    ),
    path(
        "operations/<str:operation_id>/results/",
        OperationResultsView.as_view(),
        name="bulk-operation-results",
    ),
    path("operations/<str:operation_id>/", OperationView.as_view(), name="bulk-operation"),
]
