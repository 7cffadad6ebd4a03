"""The schema of the operation views: ``GET operations/<id>/status/`` and
``DELETE operations/<id>/``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.plumbing import build_basic_type, build_object_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from .components import BulkSchemaComponents, Schema, boolean, string


class OperationSchema(BulkSchemaComponents):
    """The schema of the operation views: ``GET .../status/`` and ``DELETE operations/<id>/``."""

    def get_override_parameters(self) -> list[Any]:
        operation_id = OpenApiParameter(
            "operation_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The task_id."
        )
        return [*super().get_override_parameters(), operation_id]

    def get_response_serializers(self) -> Any:
        not_found = OpenApiResponse(
            self.detail_error_ref(), description="Unknown operation, or another user's."
        )
        if self.method == "DELETE":
            return {
                202: OpenApiResponse(
                    self.cancel_requested_ref(),
                    description="The workers stop between chunks; the status ends cancelled.",
                ),
                404: not_found,
                409: OpenApiResponse(
                    {
                        "allOf": [
                            build_object_type(
                                properties={"error": string("The operation has already ended.")},
                                required=["error"],
                            ),
                            self.status_ref(),
                        ]
                    },
                    description="The operation has already ended: its status.",
                ),
            }
        return {200: OpenApiResponse(self.status_ref()), 404: not_found}

    def cancel_requested_ref(self) -> Schema:
        return self.component(
            "BulkOperationCancelRequested",
            build_object_type(
                properties={
                    "message": string("Cancellation requested"),
                    "task_id": build_basic_type(OpenApiTypes.UUID),
                    "is_async": boolean(),
                },
                required=["message", "task_id", "is_async"],
            ),
        )
