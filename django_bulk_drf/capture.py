"""The request that starts a background operation: captured into its record, rebuilt in a worker.

The record keeps what the worker needs to run the request's viewset as the request did: the
viewset's class, ``action`` and ``basename``, the method, path and query string, and the user's
primary key (``captured_request``). ``rebuild_viewset`` makes that viewset again, with the user
loaded, so that ``get_queryset()``, ``get_serializer_class()``, serializer context, permissions and
``perform_*`` hooks apply in the worker as they did in the request.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, QueryDict
from django.utils.module_loading import import_string
from rest_framework.request import Request

from .operations import OperationRecord


def captured_request(viewset: Any) -> dict[str, Any]:
    """The fields of an operation record that describe the request of ``viewset``."""
    request = viewset.request
    user = getattr(request, "user", None)
    return {
        "owner_id": str(user.pk) if user is not None and user.is_authenticated else None,
        "viewset": f"{type(viewset).__module__}.{type(viewset).__qualname__}",
        "action": viewset.action,
        "basename": viewset.basename,
        "method": request.method or "",
        "path": request.path,
        "query_string": request.META.get("QUERY_STRING", ""),
    }


def rebuild_viewset(record: OperationRecord) -> Any:
    """The viewset of the request that started the operation, with that request's user and
    ``action``; its permissions are checked again."""
    viewset_class = import_string(record.viewset)
    http_request = HttpRequest()
    http_request.method = record.method
    http_request.path = record.path
    http_request.META = {
        "QUERY_STRING": record.query_string,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REQUEST_METHOD": record.method,
    }
    http_request.GET = QueryDict(record.query_string)
    viewset = viewset_class()
    viewset.basename = record.basename
    viewset.args, viewset.kwargs = (), {}
    viewset.format_kwarg = None
    viewset.action_map = {}
    viewset.action = record.action
    viewset.bulk_background = True
    request = Request(http_request, parsers=viewset.get_parsers())
    request.user = load_user(record.owner_id)
    viewset.request = request
    viewset.headers = {}
    viewset.check_permissions(request)
    return viewset


def load_user(owner_id: str | None) -> Any:
    """The user who started the operation (anonymous when none was authenticated)."""
    if owner_id is None:
        return AnonymousUser()
    user_model = get_user_model()
    return user_model._default_manager.get(pk=user_model._meta.pk.to_python(owner_id))
