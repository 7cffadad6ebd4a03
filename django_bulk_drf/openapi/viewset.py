"""The schema of a ``BulkOperationsMixin`` viewset: its list and ``/bulk/`` endpoints.

What each endpoint takes and answers is read from its declaration in ``actions.ACTIONS``: the kinds
it runs (an array of objects or ids, found by id or by ``?unique_fields=``), whether it is partial,
whether it answers at once or ``202``, its summary and description.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.plumbing import (
    build_array_type,
    build_media_type_object,
    build_object_type,
    get_view_model,
)
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.serializers import Serializer

from ..actions import ACTIONS, BulkAction, OperationKind, RowKey, SyncAnswer
from ..mixins import BulkOperationsMixin
from ..rows import allowed_conflict_targets
from .components import (
    ANY_ID,
    BulkSchemaComponents,
    Schema,
    basic,
    boolean,
    integer,
    setting_name,
    string,
)
from .importers import DRY_RUN_PARAMETER, answer_extras, with_exports

SYNC_LIMITS = (
    f"More than {setting_name('SYNC_UPSERT_MAX_ITEMS')} items: 413 with the /bulk/ URL to use; "
    "`Prefer: respond-async` hands any size to the background path (202)."
)
SYNC_WRITE = (
    "Answered at once, all or nothing: every item is validated first, and any invalid item is a "
    "400 listing the errors by index, with nothing written. " + SYNC_LIMITS
)
ASYNC = (
    "Answers 202 at once; Celery workers process the batch in chunks, each in its own "
    "transaction, and report invalid items by index in the status. Follow it at `status_url` "
    "(polling) or `websocket_url`."
)
#: How a request picks each kind of its action, for the descriptions of the answers.
PICKED_BY = {
    RowKey.NONE: "An array",
    RowKey.PK: "By id",
    RowKey.UNIQUE_FIELDS: "With `unique_fields`",
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


def takes_items(action: BulkAction) -> bool:
    """Whether its body is an array of objects (``acreate`` takes one object too)."""
    return action.kinds[0].validates


def reads_ids_body(action: BulkAction) -> bool:
    """Whether it reads its ids from the body when ``?ids=`` is absent (not on GET)."""
    return not takes_items(action) and action.method != "get"


def description_of(action: BulkAction) -> str:
    if action.background:
        return f"{action.description} {ASYNC}"
    return f"{action.description} {SYNC_WRITE if takes_items(action) else SYNC_LIMITS}"


def answers_note(action: BulkAction, kinds: list[OperationKind]) -> str:
    """Which request gets which of these answers."""
    notes = [f"{PICKED_BY[kind.rows]}: the {kind.name} answer." for kind in kinds]
    if action.enhances and action.kinds[0] in kinds:
        notes.insert(0, f"An object body: the object, as DRF's {action.enhances} answers it.")
    return " ".join(notes)


def as_instance(found: Serializer | type[Serializer] | None) -> Serializer:
    """The serializer drf-spectacular found for a view, as an instance."""
    if found is None:
        raise ImproperlyConfigured("A bulk route's view needs a serializer.")
    return found() if isinstance(found, type) else found


class BulkViewSetSchema(BulkSchemaComponents):
    """The schema of a ``BulkOperationsMixin`` viewset: its list and ``/bulk/`` endpoints."""

    @property
    def bulk_action(self) -> BulkAction | None:
        """The bulk action this operation runs, or None for the other (detail) endpoints."""
        return ACTIONS.get(getattr(self.view, "action", None) or "")

    # -- naming -----------------------------------------------------------------------------------

    def get_operation_id(self) -> str:
        action = self.bulk_action
        if action is None:
            return super().get_operation_id()
        tokens = [token.replace("-", "_") for token in self._tokenize_path()] or ["root"]
        if action.background and tokens[-1] == "bulk":
            tokens.pop()  # the action name says it already: contracts_async_bulk_create
        if spectacular_settings.OPERATION_ID_METHOD_POSITION == "PRE":
            return "_".join([action.route_name, *tokens])
        return "_".join([*tokens, action.route_name])

    def get_summary(self) -> str | None:
        action = self.bulk_action
        return action.summary if action else super().get_summary()

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        action = self.bulk_action
        return description_of(action) if action else super().get_description()

    def _is_list_view(self, serializer: Any = None) -> bool:
        # adrf names the list action "alist", so drf-spectacular's `action == "list"` test misses
        # it; the bulk answers are built whole here, arrays included.
        if self.bulk_action is not None:
            return False
        return super()._is_list_view(serializer)

    # -- parameters -------------------------------------------------------------------------------

    def _get_pagination_parameters(self) -> list[Any]:
        # The list is paged like any DRF list: `_is_list_view` is False for it only because its
        # answers are built here.
        action, paginator = self.bulk_action, self._get_paginator()
        if action is not None and action.enhances == "list" and paginator:
            return paginator.get_schema_operation_parameters(self.view)
        return super()._get_pagination_parameters()

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        action = self.bulk_action
        if action is None:
            return parameters
        if takes_items(action):
            parameters.append(self.unique_fields_parameter())
        else:
            # Without ids a get is the plain list, a delete reads its body: only a background
            # get has nothing else to go by.
            required = action.method == "get" and action.enhances is None
            parameters.append(self.ids_parameter(required=required))
        if not action.kinds[0].reads:
            parameters.append(DRY_RUN_PARAMETER)
        parameters.append(LOCATION_HEADER)
        if not action.background:
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
        if action is None or not takes_items(action):
            return super().get_request_serializer()
        item = self.item_schema(action)
        array = build_array_type(item)
        bodies: dict[str, Schema] = {}
        for media_type in self.map_parsers():
            if "json" in media_type:
                # The enhanced DRF create takes its one object too.
                bodies[media_type] = {"oneOf": [item, array]} if action.enhances else array
            elif media_type == "text/csv":
                bodies[media_type] = self.csv_schema(action)
            elif action.enhances:  # form bodies: one object, the standard create
                bodies[media_type] = item
        return bodies

    def _get_request_body(self, direction: str = "request") -> Schema | None:
        action = self.bulk_action
        if action is not None and reads_ids_body(action):
            # drf-spectacular documents bodies on POST, PUT and PATCH only; these DELETEs read one.
            return {"content": self.ids_body()}
        body = super()._get_request_body(direction)
        if body is not None and action is not None and takes_items(action):
            body["required"] = True
        return body

    def item_schema(self, action: BulkAction) -> Schema:
        """One item: the serializer's fields; with the primary key to find the row by for PUT and
        PATCH (where the serializer usually has it read-only)."""
        serializer = as_instance(super().get_request_serializer())
        if action.is_partial(action.kinds[0]):
            # As drf-spectacular does for PATCH: a partial copy, named Patched<Serializer>.
            serializer = copy.copy(serializer)
            serializer.partial = True
        component = self.resolve_serializer(serializer, "request")
        if action.kinds[0].rows is not RowKey.PK:
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

    def csv_schema(self, action: BulkAction) -> Schema:
        serializer = as_instance(super().get_request_serializer())
        columns = [name for name, field in serializer.fields.items() if not field.read_only]
        if action.kinds[0].rows is RowKey.PK:
            columns.insert(0, self.pk_name())
        return {
            **basic(OpenApiTypes.STR),
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
                    **basic(OpenApiTypes.STR),
                    "description": f"CSV: a header row `{self.pk_name()}`, then one id per row.",
                }
            )
        return content

    # -- answers ----------------------------------------------------------------------------------

    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> Schema:
        responses = super()._get_response_bodies(direction)
        action = self.bulk_action
        if action is not None and action.enhances == "list":
            serializer = super().get_response_serializers()
            fields = getattr(serializer, "fields", {})
            columns = [name for name, field in fields.items() if not field.write_only]
            return with_exports(responses, columns)
        return responses

    def get_response_serializers(self) -> Any:
        action = self.bulk_action
        if action is None:
            return super().get_response_serializers()
        too_large = OpenApiResponse(self.too_large_ref(), description="Too many items.")
        if action.background:
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
            f"then has `Preference-Applied: respond-async`), or {setting_name('AUTO_ROUTE')} is "
            "on and the array is larger than the synchronous limit."
        )
        responses = {
            **self.sync_responses(action),
            202: OpenApiResponse(self.accepted_ref(), description=accepted),
            400: self.bad_request(action),
        }
        if not action.kinds[0].reads:
            responses[409] = self.errors_response(
                self.request_error_ref(),
                description="The database refused the batch; nothing was written.",
            )
        responses[413] = too_large
        responses[503] = self.errors_response(
            self.request_error_ref(),
            self.detail_error_ref(),
            description=f"{setting_name('SYNC_UPSERT_TIMEOUT')} passed (nothing was written), "
            "or the task queue is unavailable.",
        )
        return responses

    def bad_request(self, action: BulkAction) -> OpenApiResponse:
        if not takes_items(action) and not reads_ids_body(action):
            return OpenApiResponse(self.request_error_ref(), description="Invalid ids.")
        if reads_ids_body(action):
            return self.errors_response(
                self.request_error_ref(),
                self.detail_error_ref(),
                description="No ids, invalid ids, or a body that cannot be parsed.",
            )
        if action.background:
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

    def sync_responses(self, action: BulkAction) -> dict[int, OpenApiResponse]:
        """The synchronous success answers of a list-route action, one per status code: the
        answers of its kinds (and of the DRF action it enhances)."""
        serializer = as_instance(super().get_response_serializers())
        row = self.resolve_serializer(serializer, "response")
        if action.kinds[0].reads:
            listing = build_array_type(row.ref)
            paginator = self._get_paginator()
            if paginator:
                listing = paginator.get_paginated_response_schema(listing)
            return {
                200: OpenApiResponse(
                    # anyOf: a paginated page and a multi-get answer both hold `results`.
                    {"anyOf": [listing, self.multi_get_ref(row.name, row.ref)]},
                    description="The list (a page of it when the view paginates); with `ids`, "
                    "{count, results, is_sync}.",
                )
            }
        by_status: dict[int, list[OperationKind]] = {}
        for kind in action.kinds:
            by_status.setdefault(kind.status_code, []).append(kind)
        # Say which answer is whose where there is a choice.
        described = len(action.kinds) > 1 or action.enhances is not None
        responses = {}
        for status_code, kinds in by_status.items():
            schemas = [self.answer_ref(row.name, kind.answer) for kind in kinds if kind.answer]
            if action.enhances and action.kinds[0] in kinds:
                schemas.insert(0, row.ref)
            responses[status_code] = OpenApiResponse(
                schemas[0] if len(schemas) == 1 else {"oneOf": schemas},
                description=answers_note(action, kinds) if described else "",
            )
        return responses

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

    def answer_ref(self, name: str, answer: SyncAnswer) -> Schema:
        """A synchronous write answer (``{message, total_items, *_count, *_ids, is_sync}``)."""
        ids = build_array_type(self.pk_schema())
        properties = {
            "message": string(answer.message),
            "total_items": integer(),
            **{f"{id_list}_count": integer() for id_list in answer.id_lists},
            **{f"{id_list}_ids": ids for id_list in answer.id_lists},
            "is_sync": boolean(),
        }
        required = list(properties)
        properties.update(answer_extras(answer, self.pk_schema()))
        return self.component(
            f"{name}{answer.schema_name}",
            build_object_type(properties=properties, required=required),
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
        view = self.view
        if isinstance(view, BulkOperationsMixin):
            try:
                return view.get_bulk_unique_fields()
            except Exception:  # get_queryset() may need a real request: fall back to the model
                pass
        model = self.model()
        return allowed_conflict_targets(model) if model is not None else []
