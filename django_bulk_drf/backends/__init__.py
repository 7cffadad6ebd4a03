"""The database seam: SQL that differs between databases, picked by ``connection.vendor``.

As Django picks its backend by ``ENGINE``, ``bulk_backend()`` takes the ``BulkBackend`` class of
the module named after the connection's vendor (``postgresql.py``, ``sqlite.py``) and falls back
to ``base.py``'s portable behaviour for a vendor without one. Supporting another database is one
new module here; the writers (``writers.py``), the chunk ledger (``models.py``) and the background
steps (``background.py``) only ask the backend.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from .base import BaseBulkBackend, Insert

__all__ = ["BaseBulkBackend", "Insert", "backend_class", "bulk_backend"]


def bulk_backend(connection_or_alias: BaseDatabaseWrapper | str) -> BaseBulkBackend:
    """The backend of a connection (or of the database alias, on this thread's connection)."""
    connection = (
        connections[connection_or_alias]
        if isinstance(connection_or_alias, str)
        else connection_or_alias
    )
    return backend_class(connection.vendor)(connection)


@cache
def backend_class(vendor: str) -> type[BaseBulkBackend]:
    """``backends.<vendor>.BulkBackend``, or the portable base for a vendor without a module."""
    module_name = f"{__name__}.{vendor}"
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the vendor's module is there but needs something missing
        return BaseBulkBackend
    return module.BulkBackend
