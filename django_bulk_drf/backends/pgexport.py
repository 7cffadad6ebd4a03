"""PostgreSQL spelling of a column as a DRF field renders it, for ``COPY … TO STDOUT`` exports.

Only the built-in fields whose text PostgreSQL writes exactly as DRF's field renders the value are
spelled here; for any other field (or option: a localized decimal, a datetime format or time zone
other than ISO 8601 in UTC) the answer is None and the export renders rows in Python.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

TEXT_FIELDS = (models.CharField, models.TextField)
INTEGER_FIELDS = (models.IntegerField, models.BigIntegerField, models.SmallIntegerField)
#: DRF's integer fields (``BigIntegerField`` came with DRF 3.16: text either way).
INTEGER_SERIALIZERS = tuple(
    getattr(serializers, name)
    for name in ("IntegerField", "BigIntegerField")
    if hasattr(serializers, name)
)


def export_text_sql(serializer_field: Any, model_field: models.Field, column: str) -> str | None:
    """``column`` as text as ``serializer_field`` renders it, or None."""
    kind = type(serializer_field)
    if model_field.is_relation:
        key = getattr(model_field, "target_field", None)  # a foreign key's target
        return f"{column}::text" if isinstance(key, INTEGER_FIELDS) else None
    if kind in (serializers.CharField, serializers.ChoiceField, serializers.SlugField) or (
        kind is serializers.EmailField
    ):
        return column if isinstance(model_field, TEXT_FIELDS) else None
    if kind in INTEGER_SERIALIZERS and isinstance(model_field, INTEGER_FIELDS):
        return f"{column}::text"
    if kind is serializers.BooleanField and isinstance(model_field, models.BooleanField):
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    if kind is serializers.DecimalField and isinstance(model_field, models.DecimalField):
        plain = not serializer_field.localize and not getattr(
            serializer_field, "normalize_output", False
        )
        same_places = serializer_field.decimal_places == model_field.decimal_places
        return f"{column}::text" if plain and same_places else None
    if kind is serializers.UUIDField and isinstance(model_field, models.UUIDField):
        return f"{column}::text" if serializer_field.uuid_format == "hex_verbose" else None
    if kind is serializers.DateField and type(model_field) is models.DateField:
        return f"to_char({column}, 'YYYY-MM-DD')" if is_iso(serializer_field) else None
    if kind is serializers.DateTimeField and isinstance(model_field, models.DateTimeField):
        return datetime_sql(serializer_field, column)
    return None


def export_json_sql(serializer_field: Any, model_field: models.Field, column: str) -> str | None:
    """``column`` as the JSON value ``serializer_field`` renders (for ``json_build_object``):
    numbers and booleans as themselves, the rest as the text ``export_text_sql`` spells."""
    kind = type(serializer_field)
    text = export_text_sql(serializer_field, model_field, column)
    if text is None:
        return None
    if model_field.is_relation or kind is serializers.BooleanField:
        return column
    if kind in INTEGER_SERIALIZERS:
        big = kind is not serializers.IntegerField  # DRF 3.16's BigIntegerField
        coerce = big and getattr(
            serializer_field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
        )
        return text if coerce else column
    if kind is serializers.DecimalField:
        coerce = getattr(
            serializer_field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING
        )
        return text if coerce else None
    return text


#: PostgreSQL truncates longer identifiers (the keys ``row_to_json`` takes from column names).
MAX_IDENTIFIER = 63


def json_rows_sql(names: list[str], values: list[str], source: str) -> str:
    """A query of one JSON object text per row of ``source`` (``… AS export``), its keys
    ``names`` in that order: ``row_to_json``, compact as DRF's renderer writes it; keys too long
    for a column name go through ``json_build_object``."""
    if all(len(name.encode()) <= MAX_IDENTIFIER for name in names):
        columns = ", ".join(
            f'{value} AS "{name.replace(chr(34), chr(34) * 2).replace("%", "%%")}"'
            for name, value in zip(names, values, strict=True)
        )
        rows = f"(SELECT {columns} FROM {source}) AS exported"
        return f"SELECT row_to_json(exported)::text FROM {rows}"
    pairs = []
    for name, value in zip(names, values, strict=True):
        literal = name.replace("'", "''").replace("%", "%%")
        pairs.append(f"'{literal}', {value}")
    return f"SELECT json_build_object({', '.join(pairs)})::text FROM {source}"


def is_iso(serializer_field: Any) -> bool:
    default = api_settings.DATE_FORMAT
    if isinstance(serializer_field, serializers.DateTimeField):
        default = api_settings.DATETIME_FORMAT
    field_format = getattr(serializer_field, "format", serializers.empty)
    if field_format is serializers.empty:
        field_format = default
    return field_format == ISO_8601


def datetime_sql(serializer_field: Any, column: str) -> str | None:
    """``isoformat()`` in UTC with ``Z`` and microseconds when there are any, as DRF renders an
    aware datetime when the current time zone is UTC."""
    zone = serializer_field.timezone if hasattr(serializer_field, "timezone") else None
    zone_name = str(zone) if zone is not None else timezone.get_current_timezone_name()
    if not settings.USE_TZ or not is_iso(serializer_field) or zone_name != "UTC":
        return None
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"mod(date_part('microseconds', {column})::bigint, 1000000) = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || 'Z'"
    )
