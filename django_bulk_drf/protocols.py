"""What the bulk machinery asks of a viewset, as types.

``BulkViewSet`` is the part of a viewset that validation, the writes and the staging of an
operation read: any ``BulkOperationsMixin`` viewset is one. ``AsyncModelViewSet`` describes adrf's
``ModelViewSet`` (which has no type information) as the mixin extends it; it exists for the type
checker only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

if TYPE_CHECKING:
    from rest_framework.viewsets import ModelViewSet

    class AsyncModelViewSet(ModelViewSet[Any]):
        """adrf's ``ModelViewSet``: DRF's, with async handlers."""

        async def alist(self, request: Request, *args: Any, **kwargs: Any) -> Response: ...

        async def acreate(self, request: Request, *args: Any, **kwargs: Any) -> Response: ...

else:
    AsyncModelViewSet = object


class BulkViewSet(Protocol):
    """A viewset handling a bulk request, in the web process or rebuilt in a worker."""

    @property
    def request(self) -> Request: ...

    @property
    def action(self) -> str: ...

    @property
    def basename(self) -> str: ...

    @property
    def bulk_background(self) -> bool: ...

    def get_queryset(self) -> QuerySet[Any]: ...

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]: ...

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer[Any]: ...

    def get_bulk_unique_fields(self) -> list[tuple[str, ...]]: ...

    def get_bulk_skip_unchanged(self) -> bool: ...
