"""The schema of the operation views: ``GET operations/<id>/status/``,
``GET operations/<id>/results/`` and ``DELETE operations/<id>/``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.plumbing import build_array_type, build_basic_type, build_object_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from ..operations import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, RESULT_KINDS
from .components import ANY_ID, BulkSchemaComponents, Schema, boolean, string


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


class OperationResultsSchema(OperationSchema):
    """``GET operations/<id>/results/``: one page of ids, rows or errors, and the next page."""

    def get_override_parameters(self) -> list[Any]:
        return [
            *super().get_override_parameters(),
            OpenApiParameter(
                "kind",
                str,
                OpenApiParameter.QUERY,
                required=True,
                enum=list(RESULT_KINDS),
                description="Which list: the ids created, updated or deleted, the item errors, "
                "or the rows a get read.",
            ),
            OpenApiParameter(
                "limit",
                int,
                OpenApiParameter.QUERY,
                default=DEFAULT_PAGE_SIZE,
                description=f"Values per page, at most {MAX_PAGE_SIZE:,} (a larger limit is "
                "capped).",
            ),
            OpenApiParameter(
                "cursor",
                str,
                OpenApiParameter.QUERY,
                description="Where the page starts, as the previous page's next URL gives it.",
            ),
        ]

    def get_response_serializers(self) -> Any:
        return {
            200: OpenApiResponse(self.results_page_ref()),
            400: OpenApiResponse(
                self.request_error_ref(), description="kind, limit or cursor not understood."
            ),
            404: OpenApiResponse(
                self.detail_error_ref(), description="Unknown operation, or another user's."
            ),
        }

    def results_page_ref(self) -> Schema:
        return self.component(
            "BulkOperationResults",
            build_object_type(
                description="Values of one list of the operation, in payload order (errors by "
                "item index).",
                properties={
                    "kind": self.enum_ref("BulkOperationResultKindEnum", list(RESULT_KINDS)),
                    "results": build_array_type(
                        {"oneOf": [ANY_ID, self.item_error_ref(), build_object_type()]}
                    ),
                    "next": {
                        **string("/api/operations/<task_id>/results/?kind=created&cursor=..."),
                        "nullable": True,
                        "description": "The next page; null on the last one.",
                    },
                },
                required=["kind", "results", "next"],
            ),
        )
