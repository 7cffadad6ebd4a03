"""Unit tests: what runs without PostgreSQL, Redis, a worker or a server.

``pytest tests/unit`` passes on a machine where none of them answers (try it with
``DATABASE_URL=postgres://postgres@127.0.0.1:1/none REDIS_URL=redis://127.0.0.1:1/0``):

- the database is SQLite, the ``embedded`` alias: mark tests with
  ``pytest.mark.django_db(databases=UNIT_DATABASES)``. pytest-django creates only the databases
  the collected tests ask for, and a unit test that asks for another one stops the run at
  collection;
- the cache is Django's local-memory cache, so whatever is picked from the default cache (the
  operation store, the progress hub) is the in-process one;
- ``make_viewset`` builds a viewset as a request handler has it, for code that takes one;
- ``store`` is that in-process operation store.
"""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from django_bulk_drf.operations import LocalOperationStore, get_operation_store

UNIT_DATABASES = ["embedded"]
UNIT_DIR = Path(__file__).parent
LOCAL_CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None or UNIT_DIR not in item.path.parents:
            continue
        databases = marker.kwargs.get("databases") or ["default"]
        if databases == "__all__" or not set(databases) <= set(UNIT_DATABASES):
            raise pytest.UsageError(
                f"{item.nodeid} asks for the databases {databases}: unit tests run without "
                f"PostgreSQL, on {UNIT_DATABASES} only."
            )


@pytest.fixture(autouse=True)
def local_cache(settings: Any) -> None:
    """The default cache is in-process, whatever ``REDIS_URL`` says."""
    settings.CACHES = LOCAL_CACHES


@pytest.fixture
def store() -> LocalOperationStore:
    """The operation store of this process: the in-process one (``local_cache``)."""
    store = get_operation_store()
    assert isinstance(store, LocalOperationStore)
    return store


@pytest.fixture
def make_viewset():
    """Factory: ``make_viewset(ContractViewSet, method="PATCH", query="unique_fields=a,b")`` is a
    viewset with its request (of an anonymous user, unless ``user`` is given)."""

    def make(viewset_class: type, *, method: str = "POST", query: str = "", user: Any = None):
        request = Request(APIRequestFactory().generic(method, f"/?{query}"))
        request.user = user or AnonymousUser()
        return viewset_class(
            request=request, format_kwarg=None, action=None, args=(), kwargs={}, headers={}
        )

    return make
