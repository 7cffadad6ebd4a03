"""drf-spectacular support: the bulk endpoints documented with their real request and answer shapes.

``BulkDRFConfig.ready()`` imports this module when drf-spectacular is installed. Its view extensions
swap in schema classes for every ``BulkOperationsMixin`` viewset and for the operation views, so a
project that lists ``drf_spectacular`` gets correct documents without touching its viewsets. They
also repair what adrf's action names (``alist``, ``acreate``) hide from drf-spectacular: the list
answer is an array, and each list-level method gets its own operation id.
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.drainage import isolate_view_method
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import (
    ComponentIdentity,
    ResolvedComponent,
    build_array_type,
    build_basic_type,
    build_media_type_object,
    build_object_type,
    get_class,
    get_view_model,
)
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.views import APIView

from .answers import SYNC_MESSAGES
from .operations import Status
from .payloads import Operation
from .serializers import allowed_conflict_targets

Schema = dict[str, Any]

LIST_ROUTE_ACTIONS = ("alist", "acreate", "bulk_update", "bulk_partial_update", "bulk_destroy")
BULK_ROUTE_ACTIONS = (
    "async_bulk_list",
    "async_bulk_create",
    "async_bulk_update",
    "async_bulk_partial_update",
    "async_bulk_destroy",
)
BULK_ACTIONS = LIST_ROUTE_ACTIONS + BULK_ROUTE_ACTIONS
#: Actions whose body is an array of items (``acreate`` takes one object too).
ARRAY_ACTIONS = (
    "acreate",
    "bulk_update",
    "bulk_partial_update",
    "async_bulk_create",
    "async_bulk_update",
    "async_bulk_partial_update",
)
PARTIAL_ACTIONS = ("bulk_partial_update", "async_bulk_partial_update")
BY_ID_ACTIONS = (
    "bulk_update",
    "bulk_partial_update",
    "async_bulk_update",
    "async_bulk_partial_update",
)
IDS_ACTIONS = ("alist", "bulk_destroy", "async_bulk_list", "async_bulk_destroy")
DELETE_ACTIONS = ("bulk_destroy", "async_bulk_destroy")

SUMMARIES = {
    "alist": "List, or get the rows named by ?ids=",
    "acreate": "Create one object, bulk create an array, or upsert with ?unique_fields=",
    "bulk_update": "Replace rows by id, or full upsert with ?unique_fields=",
    "bulk_partial_update": "Partially update rows by id, or partial upsert with ?unique_fields=",
    "bulk_destroy": "Delete the rows named by ?ids= or a body of ids",
    "async_bulk_list": "Read the rows named by ?ids= in the background",
    "async_bulk_create": "Create (or upsert with ?unique_fields=) in the background",
    "async_bulk_update": "Replace by id (or full upsert) in the background",
    "async_bulk_partial_update": "Partially update by id (or partial upsert) in the background",
    "async_bulk_destroy": "Delete the rows named by ?ids= or a body of ids in the background",
}
SYNC_LIMITS = (
    " More than BULK_DRF_SYNC_UPSERT_MAX_ITEMS items: 413 with the /bulk/ URL to use; "
    "`Prefer: respond-async` hands any size to the background path (202)."
)
SYNC_WRITE = (
    "Answered at once, all or nothing: every item is validated first, and any invalid item is a "
    "400 listing the errors by index, with nothing written." + SYNC_LIMITS
)
ASYNC = (
    " Answers 202 at once; Celery workers process the batch in chunks, each in its own "
    "transaction, and report invalid items by index in the status. Follow it at `status_url` "
    "(polling) or `websocket_url`."
)
DESCRIPTIONS = {
    "alist": "Without `ids`: the list (an array). With `ids`: `{count, results, is_sync}` with "
    "the rows that exist; absent ids are left out." + SYNC_LIMITS,
    "acreate": "An object body is DRF's standard create (201, the object). An array is a bulk "
    "create (201); with `unique_fields`, an upsert (200) that writes only the fields each item "
    "carries. " + SYNC_WRITE,
    "bulk_update": "Each item carries its `id` and replaces every writable field; with "
    "`unique_fields`, a full upsert. " + SYNC_WRITE,
    "bulk_partial_update": "Each item carries its `id` and the fields to change; omitted "
    "fields are never touched. With `unique_fields`, a partial upsert. " + SYNC_WRITE,
    "bulk_destroy": "Deletes the rows named by `ids` or by a body of ids; no ids is a 400, never "
    "a wipe." + SYNC_LIMITS,
    "async_bulk_list": "Reads the rows named by `ids`; the status `result.results` holds them."
    + ASYNC,
    "async_bulk_create": "Creates the items, or upserts them with `unique_fields`." + ASYNC,
    "async_bulk_update": "Replaces rows by `id`, or full upsert with `unique_fields`." + ASYNC,
    "async_bulk_partial_update": "Partially updates rows by `id`, or partial upsert with "
    "`unique_fields`." + ASYNC,
    "async_bulk_destroy": "Deletes the rows named by `ids` or by a body of ids." + ASYNC,
}


# -- small schema builders ----------------------------------------------------------------------


def string(example: str) -> Schema:
    return {**build_basic_type(OpenApiTypes.STR), "example": example}


def integer() -> Schema:
    return build_basic_type(OpenApiTypes.INT)


def boolean() -> Schema:
    return build_basic_type(OpenApiTypes.BOOL)


ANY_ID: Schema = {"oneOf": [{"type": "integer"}, {"type": "string"}]}
OPERATION_KINDS = [
    Operation.GET,
    Operation.CREATE,
    Operation.UPDATE,
    Operation.REPLACE,
    Operation.UPSERT,
    Operation.DELETE,
]
SYNC_ANSWER_KINDS = {
    Operation.CREATE: ("created",),
    Operation.UPSERT: ("created", "updated"),
    Operation.UPDATE: ("updated",),
    Operation.DELETE: ("deleted",),
}
LOCATION_HEADER = OpenApiParameter(
    "Location",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[202],
    description="The operation's status URL.",
)
PREFER_HEADER = OpenApiParameter(
    "Prefer",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    enum=["respond-async"],
    description="`respond-async` hands the batch, of any size, to the background path (202).",
)
PREFERENCE_APPLIED_HEADER = OpenApiParameter(
    "Preference-Applied",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[202],
    description="`respond-async` when the request asked for it.",
)


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
                    "task_id": build_basic_type(OpenApiTypes.UUID),
                    "total_items": integer(),
                    "unique_fields": build_array_type(build_basic_type(OpenApiTypes.STR)),
                    "status_url": string("/api/operations/<task_id>/status/"),
                    "websocket_url": string("/ws/operations/<task_id>/"),
                    "is_async": boolean(),
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
        messages = build_array_type(build_basic_type(OpenApiTypes.STR))
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
        target = build_array_type(build_basic_type(OpenApiTypes.STR))
        return self.component(
            "BulkRequestError",
            {
                **build_object_type(
                    description="The request as a whole was refused (bad ids, unknown "
                    "unique_fields, a body that is not an array, a database conflict).",
                    properties={
                        "error": build_basic_type(OpenApiTypes.STR),
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
                properties={"detail": build_basic_type(OpenApiTypes.STR)},
                required=["detail"],
            ),
        )

    def too_large_ref(self) -> Schema:
        return self.component(
            "BulkPayloadTooLarge",
            build_object_type(
                description="More items than the endpoint accepts: max_sync_items and bulk_url "
                "for a synchronous request, max_records above BULK_DRF_MAX_RECORDS.",
                properties={
                    "error": build_basic_type(OpenApiTypes.STR),
                    "total_items": integer(),
                    "max_sync_items": integer(),
                    "max_records": integer(),
                    "suggestion": build_basic_type(OpenApiTypes.STR),
                    "bulk_url": build_basic_type(OpenApiTypes.URI),
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
                "serialized rows.",
                properties={
                    "created_ids": ids,
                    "updated_ids": ids,
                    "deleted_ids": ids,
                    "results": build_array_type(build_object_type()),
                },
                required=["created_ids", "updated_ids", "deleted_ids"],
            ),
            "nullable": True,
        }
        progress = build_object_type(
            properties={
                "processed": integer(),
                "total": integer(),
                "percent": build_basic_type(OpenApiTypes.DOUBLE),
            },
            required=["processed", "total", "percent"],
        )
        counters = ("created_count", "updated_count", "deleted_count", "error_count")
        return self.component(
            "BulkOperationStatus",
            build_object_type(
                description="The state of a background operation.",
                properties={
                    "task_id": build_basic_type(OpenApiTypes.UUID),
                    "operation": self.enum_ref("BulkOperationKindEnum", OPERATION_KINDS),
                    "status": self.enum_ref("BulkOperationStatusEnum", [s.value for s in Status]),
                    "state": self.enum_ref(
                        "BulkOperationStateEnum", [s.celery_state for s in Status]
                    ),
                    "progress": progress,
                    **{counter: integer() for counter in counters},
                    "errors": build_array_type(self.item_error_ref()),
                    "errors_truncated": {
                        **boolean(),
                        "description": "Present when only the first 1,000 errors are listed.",
                    },
                    "result": result,
                    "created_at": build_basic_type(OpenApiTypes.DATETIME),
                    "started_at": {**build_basic_type(OpenApiTypes.DATETIME), "nullable": True},
                    "finished_at": {**build_basic_type(OpenApiTypes.DATETIME), "nullable": True},
                    "seq": integer(),
                    "message": {
                        **build_basic_type(OpenApiTypes.STR),
                        "description": "Why the operation failed.",
                    },
                    "unique_fields": build_array_type(build_basic_type(OpenApiTypes.STR)),
                    "is_async": boolean(),
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


class BulkViewSetSchema(BulkSchemaComponents):
    """The schema of a ``BulkOperationsMixin`` viewset: its list and ``/bulk/`` endpoints."""

    @property
    def bulk_action(self) -> str | None:
        """The bulk handler this operation runs, or None for the other (detail) endpoints."""
        action = getattr(self.view, "action", None)
        return action if action in BULK_ACTIONS else None

    # -- naming -----------------------------------------------------------------------------------

    def get_operation_id(self) -> str:
        action = self.bulk_action
        if action is None:
            return super().get_operation_id()
        tokens = [token.replace("-", "_") for token in self._tokenize_path()] or ["root"]
        if action in BULK_ROUTE_ACTIONS and tokens[-1] == "bulk":
            tokens.pop()  # the action name says it already: contracts_async_bulk_create
        word = {"alist": "list", "acreate": "create"}.get(action, action)
        if spectacular_settings.OPERATION_ID_METHOD_POSITION == "PRE":
            return "_".join([word, *tokens])
        return "_".join([*tokens, word])

    def get_summary(self) -> str | None:
        action = self.bulk_action
        return SUMMARIES[action] if action else super().get_summary()

    def get_description(self) -> str:
        action = self.bulk_action
        return DESCRIPTIONS[action] if action else super().get_description()

    def _is_list_view(self, serializer: Any = None) -> bool:
        # adrf names the list action "alist", so drf-spectacular's `action == "list"` test misses
        # it; the bulk answers are built whole here, arrays included.
        if self.bulk_action is not None:
            return False
        return super()._is_list_view(serializer)

    # -- parameters -------------------------------------------------------------------------------

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        action = self.bulk_action
        if action is None:
            return parameters
        if action in IDS_ACTIONS:
            parameters.append(self.ids_parameter(required=action == "async_bulk_list"))
        if action in ARRAY_ACTIONS:
            parameters.append(self.unique_fields_parameter())
        parameters.append(LOCATION_HEADER)
        if action in LIST_ROUTE_ACTIONS:
            parameters += [PREFER_HEADER, PREFERENCE_APPLIED_HEADER]
        return parameters

    def ids_parameter(self, *, required: bool) -> OpenApiParameter:
        return OpenApiParameter(
            "ids",
            build_array_type(self.pk_schema()),
            OpenApiParameter.QUERY,
            required=required,
            style="form",
            explode=False,
            description="Comma-separated primary keys, e.g. `ids=1,2,3`.",
        )

    def unique_fields_parameter(self) -> OpenApiParameter:
        targets = [",".join(target) for target in self.conflict_targets()]
        return OpenApiParameter(
            "unique_fields",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            enum=targets or None,
            description="Upsert on this conflict target (comma-separated field names, in any "
            "order): rows whose values exist are updated, the others inserted."
            + (f" Allowed: {'; '.join(targets)}." if targets else ""),
        )

    # -- request bodies ---------------------------------------------------------------------------

    def map_parsers(self) -> list[Any]:
        media_types = super().map_parsers()
        if self.bulk_action is None:  # a CSV body is an array: the detail endpoints refuse it
            return [media_type for media_type in media_types if media_type != "text/csv"]
        return media_types

    def get_request_serializer(self) -> Any:
        action = self.bulk_action
        if action not in ARRAY_ACTIONS:
            return super().get_request_serializer()
        item = self.item_schema(action)
        array = build_array_type(item)
        bodies: dict[str, Schema] = {}
        for media_type in self.map_parsers():
            if "json" in media_type:
                bodies[media_type] = {"oneOf": [item, array]} if action == "acreate" else array
            elif media_type == "text/csv":
                bodies[media_type] = self.csv_schema(action)
            elif action == "acreate":  # form bodies: one object, the standard create
                bodies[media_type] = item
        return bodies

    def _get_request_body(self, direction: str = "request") -> Schema | None:
        action = self.bulk_action
        if action in DELETE_ACTIONS:
            # drf-spectacular documents bodies on POST, PUT and PATCH only; these DELETEs read one.
            return {"content": self.ids_body()}
        body = super()._get_request_body(direction)
        if body is not None and action in ARRAY_ACTIONS:
            body["required"] = True
        return body

    def item_schema(self, action: str) -> Schema:
        """One item: the serializer's fields; with the primary key to find the row by for PUT and
        PATCH (where the serializer usually has it read-only)."""
        serializer = super().get_request_serializer()
        if action in PARTIAL_ACTIONS:
            # As drf-spectacular does for PATCH: a partial copy, named Patched<Serializer>.
            serializer = copy.copy(serializer)
            serializer.partial = True
        component = self.resolve_serializer(serializer, "request")
        if action not in BY_ID_ACTIONS:
            return component.ref
        pk_name = self.pk_name()
        schema = {
            **component.schema,
            "description": f"One item: the {component.name} fields and the primary key of the "
            "row to change.",
        }
        required = [name for name in schema.get("required", []) if name != pk_name]
        schema.pop("required", None)
        if required:
            schema["required"] = required
        schema["properties"] = {
            pk_name: {
                **self.pk_schema(),
                "description": "The row to change (not needed with ?unique_fields=).",
            },
            **{name: prop for name, prop in schema["properties"].items() if name != pk_name},
        }
        return self.component(f"{component.name}BulkItem", schema)

    def csv_schema(self, action: str) -> Schema:
        serializer = super().get_request_serializer()
        columns = [name for name, field in serializer.fields.items() if not field.read_only]
        if action in BY_ID_ACTIONS:
            columns.insert(0, self.pk_name())
        return {
            **build_basic_type(OpenApiTypes.STR),
            "description": f"CSV: a header row naming the fields ({', '.join(columns)}), then "
            "one item per row. An empty cell omits that field.",
        }

    def ids_body(self) -> dict[str, Schema]:
        pk = self.pk_schema()
        by_object = build_object_type(properties={self.pk_name(): pk}, required=[self.pk_name()])
        content = {
            "application/json": build_media_type_object(
                {**build_array_type({"oneOf": [pk, by_object]}), "minItems": 1}
            )
        }
        if "text/csv" in self.map_parsers():
            content["text/csv"] = build_media_type_object(
                {
                    **build_basic_type(OpenApiTypes.STR),
                    "description": f"CSV: a header row `{self.pk_name()}`, then one id per row.",
                }
            )
        return content

    # -- answers ----------------------------------------------------------------------------------

    def get_response_serializers(self) -> Any:
        action = self.bulk_action
        if action is None:
            return super().get_response_serializers()
        too_large = OpenApiResponse(self.too_large_ref(), description="Too many items.")
        if action in BULK_ROUTE_ACTIONS:
            accepted = "The operation was started; `Location` is its status URL."
            return {
                202: OpenApiResponse(self.accepted_ref(), description=accepted),
                400: self.bad_request(action),
                413: too_large,
                503: OpenApiResponse(
                    self.detail_error_ref(), description="The task queue is unavailable."
                ),
            }
        accepted = (
            "Sent to the background path: the request had `Prefer: respond-async` (the answer "
            "then has `Preference-Applied: respond-async`), or BULK_DRF_AUTO_ROUTE is on and the "
            "array is larger than the synchronous limit."
        )
        responses = {
            **self.sync_responses(action),
            202: OpenApiResponse(self.accepted_ref(), description=accepted),
            400: self.bad_request(action),
        }
        if action != "alist":
            responses[409] = self.errors_response(
                self.request_error_ref(),
                description="The database refused the batch; nothing was written.",
            )
        responses[413] = too_large
        responses[503] = self.errors_response(
            self.request_error_ref(),
            self.detail_error_ref(),
            description="BULK_DRF_SYNC_UPSERT_TIMEOUT passed (nothing was written), or the task "
            "queue is unavailable.",
        )
        return responses

    def bad_request(self, action: str) -> OpenApiResponse:
        if action in ("alist", "async_bulk_list"):
            return OpenApiResponse(self.request_error_ref(), description="Invalid ids.")
        if action in DELETE_ACTIONS:
            return self.errors_response(
                self.request_error_ref(),
                self.detail_error_ref(),
                description="No ids, invalid ids, or a body that cannot be parsed.",
            )
        if action in BULK_ROUTE_ACTIONS:
            return self.errors_response(
                self.request_error_ref(),
                self.detail_error_ref(),
                description="Unknown unique_fields, an empty array, or a body that is not an "
                "array or cannot be parsed. Invalid items are reported in the status.",
            )
        return self.errors_response(
            self.validation_error_ref(),
            self.request_error_ref(),
            self.detail_error_ref(),
            description="Invalid items (nothing was written), unknown unique_fields, or a body "
            "that is not an array (an object, for POST) or cannot be parsed.",
        )

    def sync_responses(self, action: str) -> dict[int, OpenApiResponse]:
        """The synchronous success answers of a list-route action."""
        serializer = super().get_response_serializers()
        row = self.resolve_serializer(serializer, "response")
        name = row.name
        if action == "alist":
            listing = build_array_type(row.ref)
            paginator = self._get_paginator()
            if paginator:
                listing = paginator.get_paginated_response_schema(listing)
            return {
                200: OpenApiResponse(
                    {"oneOf": [listing, self.multi_get_ref(name, row.ref)]},
                    description="The list (an array); with `ids`, {count, results, is_sync}.",
                )
            }
        if action == "acreate":
            return {
                201: OpenApiResponse(
                    {"oneOf": [row.ref, self.answer_ref(name, "BulkCreated", Operation.CREATE)]},
                    description="An object body: the created object. An array: the bulk "
                    "create answer.",
                ),
                200: OpenApiResponse(
                    self.answer_ref(name, "Upserted", Operation.UPSERT),
                    description="With `unique_fields`: the upsert answer.",
                ),
            }
        if action == "bulk_destroy":
            return {200: OpenApiResponse(self.answer_ref(name, "BulkDeleted", Operation.DELETE))}
        return {
            200: OpenApiResponse(
                {
                    "oneOf": [
                        self.answer_ref(name, "BulkUpdated", Operation.UPDATE),
                        self.answer_ref(name, "Upserted", Operation.UPSERT),
                    ]
                },
                description="By id: the update answer. With `unique_fields`: the upsert answer.",
            )
        }

    def multi_get_ref(self, name: str, row: Schema) -> Schema:
        return self.component(
            f"{name}MultiGet",
            build_object_type(
                properties={
                    "count": integer(),
                    "results": build_array_type(row),
                    "is_sync": boolean(),
                },
                required=["count", "results", "is_sync"],
            ),
        )

    def answer_ref(self, name: str, suffix: str, operation: str) -> Schema:
        """A synchronous write answer (``{message, total_items, *_count, *_ids, is_sync}``)."""
        kinds = SYNC_ANSWER_KINDS[operation]
        ids = build_array_type(self.pk_schema())
        properties = {
            "message": string(SYNC_MESSAGES[operation]),
            "total_items": integer(),
            **{f"{kind}_count": integer() for kind in kinds},
            **{f"{kind}_ids": ids for kind in kinds},
            "is_sync": boolean(),
        }
        return self.component(
            f"{name}{suffix}", build_object_type(properties=properties, required=list(properties))
        )

    # -- the model --------------------------------------------------------------------------------

    def model(self) -> Any:
        serializer = super().get_request_serializer()
        meta_model = getattr(getattr(serializer, "Meta", None), "model", None)
        return get_view_model(self.view, emit_warnings=False) or meta_model

    def pk_name(self) -> str:
        model = self.model()
        return model._meta.pk.name if model is not None else "id"

    def pk_schema(self) -> Schema:
        model = self.model()
        if model is None:
            return dict(ANY_ID)
        schema = self._map_model_field(model._meta.pk, direction=None)
        return {
            key: value for key, value in schema.items() if key not in ("readOnly", "description")
        }

    def conflict_targets(self) -> list[tuple[str, ...]]:
        try:
            return self.view.get_bulk_unique_fields()
        except Exception:  # get_queryset() may need a real request: fall back to the model
            model = self.model()
            return allowed_conflict_targets(model) if model is not None else []


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


# -- extensions: swap the schema classes in, keeping a user's own ------------------------------


class BulkViewSetExtension(OpenApiViewExtension):
    """Every ``BulkOperationsMixin`` viewset is documented by ``BulkViewSetSchema``."""

    target_class = "django_bulk_drf.mixins.BulkOperationsMixin"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return with_schema(self.target, BulkViewSetSchema, BULK_ACTIONS)


class OperationStatusViewExtension(OpenApiViewExtension):
    """``GET operations/<id>/status/`` answers the operation status body."""

    target_class = "django_bulk_drf.views.OperationStatusView"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return with_schema(self.target, OperationSchema, ("get",))


class OperationViewExtension(OpenApiViewExtension):
    """``DELETE operations/<id>/`` answers 202, 404 or 409."""

    target_class = "django_bulk_drf.views.OperationView"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return with_schema(self.target, OperationSchema, ("delete",))


def with_schema(
    view_class: type[APIView], schema_class: type[AutoSchema], methods: tuple[str, ...]
) -> type[APIView]:
    """A subclass of ``view_class`` documented by ``schema_class``, combined with the schema the
    view (or an ``@extend_schema`` on one of ``methods``) already has, which takes precedence."""
    replacement = type(
        view_class.__name__,
        (view_class,),
        {
            "__doc__": view_class.__doc__,
            "__module__": view_class.__module__,
            "schema": combined(get_class(view_class.schema), schema_class)(),
        },
    )
    for name in methods:
        handler = getattr(replacement, name, None)
        action_schema = getattr(handler, "kwargs", {}).get("schema")
        if action_schema is not None:
            # drf-spectacular would put the decorator's schema class in place of ours.
            isolated = isolate_view_method(replacement, name)
            isolated.kwargs["schema"] = combined(get_class(action_schema), schema_class)
    return replacement


def combined(existing: type, schema_class: type[AutoSchema]) -> type[AutoSchema]:
    """``schema_class``, under ``existing`` when that is a customised ``AutoSchema``."""
    if existing is AutoSchema or not issubclass(existing, AutoSchema):
        return schema_class
    return type(f"{existing.__name__}With{schema_class.__name__}", (existing, schema_class), {})
