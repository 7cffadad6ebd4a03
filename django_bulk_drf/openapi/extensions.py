"""The drf-spectacular extensions that document the bulk endpoints: they swap the schema classes of
this package in for every ``BulkOperationsMixin`` viewset and for the operation views, combined
with (and under) a schema class or ``@extend_schema`` the view already has.
"""

from __future__ import annotations

from drf_spectacular.drainage import isolate_view_method
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_class
from rest_framework.views import APIView

from ..actions import ACTIONS
from .operation_views import OperationResultsSchema, OperationSchema
from .viewset import BulkViewSetSchema


class BulkViewSetExtension(OpenApiViewExtension):
    """Every ``BulkOperationsMixin`` viewset is documented by ``BulkViewSetSchema``."""

    target_class = "django_bulk_drf.bulk_requests.BulkRequestMixin"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return with_schema(self.target, BulkViewSetSchema, tuple(ACTIONS))


class OperationStatusViewExtension(OpenApiViewExtension):
    """``GET operations/<id>/status/`` answers the operation status body."""

    target_class = "django_bulk_drf.views.OperationStatusView"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return with_schema(self.target, OperationSchema, ("get",))


class OperationResultsViewExtension(OpenApiViewExtension):
    """``GET operations/<id>/results/`` answers one page of ids, rows or errors."""

    target_class = "django_bulk_drf.views.OperationResultsView"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return with_schema(self.target, OperationResultsSchema, ("get",))


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
