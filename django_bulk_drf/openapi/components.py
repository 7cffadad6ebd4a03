"""The shared answer bodies of the bulk endpoints as named schema components: the ``202``, the
error bodies and the operation status.

Names, counters and limits come from where they are defined (the status counters, id lists and
error cap from ``operations``, the operation kinds from ``actions``, setting names from
``settings``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import (
    ComponentIdentity,
    ResolvedComponent,
    build_array_type,
    build_basic_type,
    build_object_type,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from ..actions import OPERATIONS
from ..operations import COUNTERS, ID_LISTS, STATUS_LIST_LIMIT, Status
from ..settings import DEFAULTS, PREFIX

Schema = dict[str, Any]

ANY_ID: Schema = {"oneOf": [{"type": "integer"}, {"type": "string"}]}


def basic(kind: OpenApiTypes) -> Schema:
    """drf-spectacular's schema of a basic type (which it leaves out only for ``NONE``)."""
    schema = build_basic_type(kind)
    if schema is None:
        raise ValueError(f"{kind} has no schema")
    return schema


def string(example: str) -> Schema:
    return {**basic(OpenApiTypes.STR), "example": example}


def integer() -> Schema:
    return basic(OpenApiTypes.INT)


def boolean() -> Schema:
    return basic(OpenApiTypes.BOOL)


def setting_name(name: str) -> str:
    """The Django setting of ``bulk_settings.<name>``; a name that is no setting fails at import."""
    if name not in DEFAULTS:
        raise KeyError(f"No django-bulk-drf setting {name!r}.")
    return PREFIX + name


class BulkSchemaComponents(AutoSchema):
    """The shared answer bodies (202, errors, operation status) as named components."""

    def component(self, name: str, schema: Schema) -> Schema:
        """Register ``schema`` under ``name`` once and return a reference to it."""
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.SCHEMA,
            schema=schema,
            object=ComponentIdentity(name),
        )
        self.registry.register_on_missing(component)
        return component.ref

    def accepted_ref(self) -> Schema:
        return self.component(
            "BulkOperationAccepted",
            build_object_type(
                description="A background operation was started.",
                properties={
                    "message": string("Bulk create task started for 500 items"),
                    "task_id": basic(OpenApiTypes.UUID),
                    "total_items": integer(),
                    "unique_fields": build_array_type(basic(OpenApiTypes.STR)),
                    "status_url": string("/api/operations/<task_id>/status/"),
                    "websocket_url": string("/ws/operations/<task_id>/"),
                    "is_async": boolean(),
                    "dry_run": {**boolean(), "description": "Present (true) for a dry run."},
                },
                required=[
                    "message",
                    "task_id",
                    "total_items",
                    "unique_fields",
                    "status_url",
                    "websocket_url",
                    "is_async",
                ],
            ),
        )

    def item_error_ref(self) -> Schema:
        messages = build_array_type(basic(OpenApiTypes.STR))
        return self.component(
            "BulkItemError",
            build_object_type(
                description="The errors of one item, by its index in the array.",
                properties={
                    "index": integer(),
                    "errors": {
                        "type": "object",
                        "description": "Field name (or non_field_errors) to messages.",
                        "additionalProperties": messages,
                    },
                },
                required=["index", "errors"],
            ),
        )

    def validation_error_ref(self) -> Schema:
        return self.component(
            "BulkValidationError",
            build_object_type(
                description="Some items are invalid; nothing was written.",
                properties={
                    "error": string("Validation failed"),
                    "total_items": integer(),
                    "error_count": integer(),
                    "errors": build_array_type(self.item_error_ref()),
                },
                required=["error", "total_items", "error_count", "errors"],
            ),
        )

    def request_error_ref(self) -> Schema:
        target = build_array_type(basic(OpenApiTypes.STR))
        return self.component(
            "BulkRequestError",
            {
                **build_object_type(
                    description="The request as a whole was refused (bad ids, unknown "
                    "unique_fields, a body that is not an array, a database conflict).",
                    properties={
                        "error": basic(OpenApiTypes.STR),
                        "unique_fields": target,
                        "allowed_unique_fields": build_array_type(target),
                    },
                    required=["error"],
                ),
                "additionalProperties": True,
            },
        )

    def detail_error_ref(self) -> Schema:
        return self.component(
            "BulkDetailError",
            build_object_type(
                description="DRF's error body (malformed JSON or CSV, authentication, not found).",
                properties={"detail": basic(OpenApiTypes.STR)},
                required=["detail"],
            ),
        )

    def too_large_ref(self) -> Schema:
        return self.component(
            "BulkPayloadTooLarge",
            build_object_type(
                description="More items than the endpoint accepts: max_sync_items and bulk_url "
                "for a synchronous request, max_records above "
                f"{setting_name('MAX_RECORDS')}.",
                properties={
                    "error": basic(OpenApiTypes.STR),
                    "total_items": integer(),
                    "max_sync_items": integer(),
                    "max_records": integer(),
                    "suggestion": basic(OpenApiTypes.STR),
                    "bulk_url": basic(OpenApiTypes.URI),
                },
                required=["error", "total_items", "suggestion"],
            ),
        )

    def status_ref(self) -> Schema:
        """The operation status body, as ``GET operations/<id>/status/`` answers it."""
        ids = build_array_type(ANY_ID)
        result = {
            **build_object_type(
                description="Once the operation has ended: the ids it wrote, and for get the "
                f"serialized rows; the first {STATUS_LIST_LIMIT:,} of each (all of them at "
                "results_url).",
                properties={
                    **{id_list: ids for id_list in ID_LISTS},
                    "results": build_array_type(build_object_type()),
                    "ids_truncated": {
                        **boolean(),
                        "description": "Present when an id list is longer than shown.",
                    },
                    "results_truncated": {
                        **boolean(),
                        "description": "Present when a get read more rows than shown.",
                    },
                },
                required=list(ID_LISTS),
            ),
            "nullable": True,
        }
        progress = build_object_type(
            properties={
                "processed": integer(),
                "total": integer(),
                "percent": basic(OpenApiTypes.DOUBLE),
            },
            required=["processed", "total", "percent"],
        )
        counters = [counter for counter in COUNTERS if counter != "processed"]
        return self.component(
            "BulkOperationStatus",
            build_object_type(
                description="The state of a background operation.",
                properties={
                    "task_id": basic(OpenApiTypes.UUID),
                    "operation": self.enum_ref("BulkOperationKindEnum", list(OPERATIONS)),
                    "status": self.enum_ref("BulkOperationStatusEnum", [s.value for s in Status]),
                    "state": self.enum_ref(
                        "BulkOperationStateEnum", [s.celery_state for s in Status]
                    ),
                    "progress": progress,
                    **{counter: integer() for counter in counters},
                    "errors": build_array_type(self.item_error_ref()),
                    "errors_truncated": {
                        **boolean(),
                        "description": "Present when only the first "
                        f"{STATUS_LIST_LIMIT:,} errors are listed.",
                    },
                    "result": result,
                    "results_url": {
                        **string("/api/operations/<task_id>/results/"),
                        "description": "Every id, row and error, a page at a time.",
                    },
                    "created_at": basic(OpenApiTypes.DATETIME),
                    "started_at": {**basic(OpenApiTypes.DATETIME), "nullable": True},
                    "finished_at": {**basic(OpenApiTypes.DATETIME), "nullable": True},
                    "seq": integer(),
                    "message": {
                        **basic(OpenApiTypes.STR),
                        "description": "Why the operation failed.",
                    },
                    "unique_fields": build_array_type(basic(OpenApiTypes.STR)),
                    "is_async": boolean(),
                    "skip_unchanged": {
                        **boolean(),
                        "description": "Update and upsert: whether items equal to their stored "
                        "row were left alone (counted in unchanged_count).",
                    },
                    "dry_run": {
                        **boolean(),
                        "description": "Present (true) for a dry run: nothing was written; the "
                        "created list holds the indices of the items that would be created.",
                    },
                },
                required=[
                    "task_id",
                    "operation",
                    "status",
                    "state",
                    "progress",
                    *counters,
                    "errors",
                    "result",
                    "results_url",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "is_async",
                ],
            ),
        )

    def enum_ref(self, name: str, values: list[str]) -> Schema:
        # A named component: drf-spectacular's enum post-processing only hoists inline enums, and
        # would otherwise clash with a user's own "status" choices.
        return self.component(name, {"type": "string", "enum": values})

    def errors_response(self, *refs: Schema, description: str) -> OpenApiResponse:
        schema = refs[0] if len(refs) == 1 else {"anyOf": list(refs)}
        return OpenApiResponse(schema, description=description)
