"""Deprecated: the list-level validation moved to ``django_bulk_drf.validation`` (the
validator), ``django_bulk_drf.validated`` (what it gives), ``django_bulk_drf.uniqueness`` (the
batched unique checks) and ``django_bulk_drf.rows`` (an upsert's conflict targets). This module
holds no serializer; its names still resolve, with a warning."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

MOVED_TO = {
    "BulkItemsValidator": "validation",
    "read_integer": "validation",
    "ValidatedItem": "validated",
    "ValidationOutcome": "validated",
    "plain_errors": "validated",
    "NON_FIELD_ERRORS": "validated",
    "UniqueSet": "uniqueness",
    "plain_value": "uniqueness",
    "allowed_conflict_targets": "rows",
}


def __getattr__(name: str) -> Any:
    module = MOVED_TO.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"django_bulk_drf.serializers.{name} is deprecated: import it from "
        f"django_bulk_drf.{module}.",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(f"django_bulk_drf.{module}"), name)


def __dir__() -> list[str]:
    return sorted(MOVED_TO)
