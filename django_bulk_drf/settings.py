"""The ``BULK_DRF_*`` settings, read from Django settings on every use.

Like DRF's ``api_settings``, values are looked up lazily and the cache is cleared on Django's
``setting_changed`` signal, so ``override_settings`` takes effect at once. The settings named in
``IMPORT_STRINGS`` hold dotted paths and are read as the classes they name.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "CHUNK_SIZE": 100,
    "MAX_RECORDS": 10_000,
    "BATCH_SIZE": 1_000,
    "CACHE_TIMEOUT": 86_400,
    "PROGRESS_UPDATE_INTERVAL": 10,
    "SYNC_UPSERT_MAX_ITEMS": 50,
    "SYNC_UPSERT_BATCH_SIZE": 1_000,
    "SYNC_UPSERT_TIMEOUT": 30,
    "USE_OPTIMIZED_TASKS": True,
    "AUTO_OPTIMIZE_QUERIES": True,
    "QUERY_TIMEOUT": 300,
    "ENABLE_METRICS": False,
    "AUTO_ROUTE": False,
    # Update and upsert items equal to their stored row are not written (``unchanged``).
    "SKIP_UNCHANGED": True,
    # None: the Redis store when the ``default`` cache is django-redis, else the local one.
    "OPERATION_STORE": None,
    # None: the hub the operation store names (Redis pub/sub, or in process).
    "PROGRESS_EVENTS": None,
}

IMPORT_STRINGS = ("OPERATION_STORE", "PROGRESS_EVENTS")

PREFIX = "BULK_DRF_"


def perform_import(name: str, value: Any) -> Any:
    """The class an import-string setting names (a class given as such is kept)."""
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"{PREFIX}{name} = {value!r} cannot be imported ({exc}); give the dotted path of a "
            "class, or None for the default."
        ) from exc


class BulkSettings:
    """Attribute access to ``BULK_DRF_<NAME>`` with the package defaults."""

    def __init__(self) -> None:
        self._cached: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid django-bulk-drf setting: {name!r}")
        if name not in self._cached:
            value = getattr(settings, PREFIX + name, DEFAULTS[name])
            if name in IMPORT_STRINGS:
                value = perform_import(name, value)
            self._cached[name] = value
        return self._cached[name]

    def reload(self) -> None:
        self._cached.clear()


bulk_settings = BulkSettings()


def reload_bulk_settings(*args: Any, setting: str = "", **kwargs: Any) -> None:
    if setting.startswith(PREFIX):
        bulk_settings.reload()


setting_changed.connect(reload_bulk_settings)
