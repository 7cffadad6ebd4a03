"""What a list-level validation gives: the valid items (``ValidatedItem``, each with the stored row
it changes) and the errors of the others by index (``ValidationOutcome``). The write hooks and the
writers take these; ``serializers.BulkItemsValidator`` makes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models
from rest_framework.settings import api_settings

from .rows import StoredRow

NON_FIELD_ERRORS = api_settings.NON_FIELD_ERRORS_KEY


class ValidatedItem:
    """One valid item: its position in the payload, its validated data and the stored row it
    changes (``stored``, or as a model instance ``instance``; None for a new row)."""

    __slots__ = ("index", "data", "stored")

    def __init__(
        self,
        index: int,
        data: dict[str, Any],
        instance: models.Model | None = None,
        *,
        stored: StoredRow | None = None,
    ) -> None:
        self.index = index
        self.data = data
        self.stored = StoredRow.of(instance) if instance is not None else stored

    @property
    def instance(self) -> models.Model | None:
        """The stored row as a model instance (built on first use when only the columns the
        write needs were read: the other fields then load on access, one query each)."""
        return self.stored.instance if self.stored is not None else None

    @property
    def stored_row(self) -> StoredRow:
        """The stored row of an item that changes one (an update, an upsert of a row that
        exists)."""
        if self.stored is None:
            raise ValueError(f"item {self.index} is a new row: it changes no stored row")
        return self.stored

    @property
    def present_fields(self) -> frozenset[str]:
        return frozenset(self.data)


@dataclass
class ValidationOutcome:
    """The valid items (each with the row it changes) and the errors of the others, by index."""

    items: list[ValidatedItem] = field(default_factory=list)
    errors: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add_error(self, index: int, errors: Any) -> None:
        self.errors.setdefault(index, {})
        if not isinstance(errors, dict):
            errors = {NON_FIELD_ERRORS: errors if isinstance(errors, list) else [errors]}
        for name, messages in errors.items():
            self.errors[index].setdefault(name, []).extend(
                messages if isinstance(messages, list) else [messages]
            )

    def error_list(self) -> list[dict[str, Any]]:
        return [
            {"index": index, "errors": plain_errors(errors)}
            for index, errors in sorted(self.errors.items())
        ]


def plain_errors(errors: Any) -> Any:
    """Error details as plain JSON types (``ErrorDetail`` becomes ``str``)."""
    if isinstance(errors, dict):
        return {str(key): plain_errors(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [plain_errors(value) for value in errors]
    return str(errors)
