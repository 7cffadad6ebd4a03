"""Exports: ``GET`` on the list URL as CSV or NDJSON, every selected row, streamed.

A client asks with ``Accept: text/csv`` or ``Accept: application/x-ndjson`` (or ``?format=csv`` /
``?format=ndjson``). The answer is every row of ``filter_queryset(get_queryset())`` (the view's
scoping and filters, not its pagination), serialized as the list serializes it, streamed as it is
read: an async iterator whose blocks are produced in a worker thread (one at a time, so the
server holds one block of rows at most), the rows read with a server-side cursor.

The CSV's header row names the serializer's readable fields, and its cells are what the ``/bulk/``
endpoints read back: a null is an empty cell (an omitted field), booleans are ``true``/``false``,
nested values JSON. An exported file is thus a valid import of the same rows, and re-importing it
with ``?unique_fields=`` leaves every row unchanged.

Three ways to read the rows, the fastest that gives the same output:

- ``COPY (SELECT …) TO STDOUT`` when the database can spell every field as the serializer renders
  it (``BaseBulkBackend.export_column_sql`` and ``export_json_sql``: PostgreSQL, for the built-in
  fields of a plain ``ModelSerializer``): the database writes the CSV, or the JSON objects, itself;
- the columns alone (``values_list``), each value passed to its serializer field's
  ``to_representation``, when every field reads one column of the row (a *plain* serializer);
- model instances through ``get_serializer(rows, many=True)``, a batch at a time, otherwise.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.db import models
from django.http import StreamingHttpResponse
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from . import exactjson
from .backends import bulk_backend
from .protocols import AsyncModelViewSet

#: Rows read (and serialized) at a time, and bytes sent to the client at a time.
EXPORT_BATCH = 2000
BLOCK_BYTES = 256 * 1024


class ExportRenderer(BaseRenderer):
    """Selects an export in content negotiation. The rows are streamed by ``export_response``;
    what this renders is an error answered instead (a ``403``, a filter's ``400``), as JSON."""

    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = JSONRenderer.media_type
        return JSONRenderer().render(data, renderer_context=renderer_context)


class CSVExportRenderer(ExportRenderer):
    media_type = "text/csv"
    format = "csv"


class NDJSONExportRenderer(ExportRenderer):
    media_type = "application/x-ndjson"
    format = "ndjson"


EXPORT_RENDERERS = (CSVExportRenderer, NDJSONExportRenderer)


class BulkExportMixin(AsyncModelViewSet):
    """CSV and NDJSON exports of the list route of an adrf viewset (``BulkOperationsMixin`` has
    it). ``get_export_queryset`` and ``get_export_serializer`` are the seams to override.

    Its base is ``object``; to a type checker it is adrf's ``ModelViewSet``, which it extends."""

    #: Rows read and serialized at a time.
    bulk_export_batch_size: int = EXPORT_BATCH

    def get_renderers(self) -> list[BaseRenderer]:
        """The viewset's renderers, and on the list route the export formats after them (so they
        are chosen only when asked for by name)."""
        renderers = super().get_renderers()
        route = getattr(self, "action_map", None) or {}
        if route.get("get") in ("list", "alist"):
            renderers += [renderer() for renderer in EXPORT_RENDERERS]
        return renderers

    async def alist(self, *args: Any, **kwargs: Any) -> Any:
        """The list, or (asked for as CSV or NDJSON) its every row, streamed."""
        renderer = getattr(self.request, "accepted_renderer", None)
        if self.action == "alist" and isinstance(renderer, ExportRenderer):
            return await self.export(self.request, renderer.format)
        return await super().alist(*args, **kwargs)

    def get_export_queryset(self) -> models.QuerySet:
        """The rows to export: the list's, without pagination."""
        return self.filter_queryset(self.get_queryset())

    def get_export_serializer(self) -> serializers.BaseSerializer:
        """A serializer whose fields name the columns (``get_serializer()``, unbound)."""
        return self.get_serializer()

    async def export(self, request: Request, export_format: str) -> StreamingHttpResponse:
        """The streamed answer: the queryset is built (filters may query) in a thread."""
        queryset, serializer = await sync_to_async(
            lambda: (self.get_export_queryset(), self.get_export_serializer())
        )()
        if export_format == "csv":
            blocks = csv_blocks(self, queryset, serializer)
            content_type = "text/csv; charset=utf-8"
        else:
            blocks = ndjson_blocks(self, queryset, serializer)
            content_type = "application/x-ndjson"
        name = getattr(self, "basename", None) or queryset.model._meta.model_name
        response = StreamingHttpResponse(streamed(blocks), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}.{export_format}"'
        response["Cache-Control"] = "no-store"
        return response


async def streamed(blocks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``blocks`` produced one at a time in the request's database thread (the same thread each
    time: a server-side cursor lives on its connection); closed there too, even when the client
    goes away."""

    def advance() -> bytes | None:
        return next(blocks, None)

    step = sync_to_async(advance, thread_sensitive=True)
    try:
        while True:
            block = await step()
            if block is None:
                return
            yield block
    finally:
        close = getattr(blocks, "close", None)  # a generator's: its cursor is closed there
        if close is not None:
            await sync_to_async(close, thread_sensitive=True)()


def readable_fields(serializer: serializers.BaseSerializer) -> dict[str, serializers.Field]:
    fields = serializer.fields  # type: ignore[attr-defined]  # a Serializer's, as exports need
    return {name: f for name, f in fields.items() if not f.write_only}


def in_blocks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Small chunks gathered into blocks of about ``BLOCK_BYTES``."""
    block = bytearray()
    for chunk in chunks:
        block += chunk
        if len(block) >= BLOCK_BYTES:
            yield bytes(block)
            block.clear()
    if block:
        yield bytes(block)


# -- CSV ------------------------------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    """A value as the CSV parser reads it back: null is an empty cell, booleans ``true`` /
    ``false``, nested values JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return exactjson.dumps(value, default=str).decode()
    return value


def csv_blocks(
    viewset: Any, queryset: models.QuerySet, serializer: serializers.BaseSerializer
) -> Iterator[bytes]:
    fields = readable_fields(serializer)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(fields))
    header = buffer.getvalue().encode()
    copied = copied_rows(queryset, serializer)
    if copied is not None:
        yield from in_blocks(chunk_with_header(header, copied))
        return

    def lines() -> Iterator[bytes]:
        yield header
        for batch in row_batches(viewset, queryset, serializer):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows([csv_cell(value) for value in row] for row in batch)
            yield buffer.getvalue().encode()

    yield from in_blocks(lines())


def chunk_with_header(header: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield header
    yield from chunks


# -- NDJSON ---------------------------------------------------------------------------------------


def ndjson_blocks(
    viewset: Any, queryset: models.QuerySet, serializer: serializers.BaseSerializer
) -> Iterator[bytes]:
    copied = copied_rows(queryset, serializer, as_json=True)
    if copied is not None:
        yield from in_blocks(copied)
        return
    names = list(readable_fields(serializer))

    def lines() -> Iterator[bytes]:
        for batch in row_batches(viewset, queryset, serializer, as_dicts=True):
            rows = (
                row if isinstance(row, dict) else dict(zip(names, row, strict=True))
                for row in batch
            )
            yield b"".join(exactjson.dumps(row, default=str) + b"\n" for row in rows)

    yield from in_blocks(lines())


# -- reading the rows ----------------------------------------------------------------------------


def row_batches(
    viewset: Any,
    queryset: models.QuerySet,
    serializer: serializers.BaseSerializer,
    *,
    as_dicts: bool = False,
) -> Iterator[list[Any]]:
    """The serialized rows a batch at a time: tuples in field order from the columns of a plain
    serializer, else the serializer's dicts (as tuples too for CSV)."""
    size = getattr(viewset, "bulk_export_batch_size", EXPORT_BATCH)
    fields = readable_fields(serializer)
    columns = plain_columns(serializer, queryset.model)
    if columns is not None:
        converters = [representation(f) for f in fields.values()]
        rows = queryset.values_list(*columns).iterator(chunk_size=size)
        for batch in batched(rows, size):
            yield [
                tuple(
                    None if value is None else convert(value)
                    for convert, value in zip(converters, row, strict=True)
                )
                for row in batch
            ]
        return
    names = list(fields)
    for batch in batched(queryset.iterator(chunk_size=size), size):
        data = viewset.get_serializer(batch, many=True).data
        yield data if as_dicts else [tuple(row.get(name) for name in names) for row in data]


def representation(serializer_field: serializers.Field) -> Any:
    """How a plain field renders its column's value (a key field: the id it holds)."""
    if isinstance(serializer_field, serializers.PrimaryKeyRelatedField):
        return lambda value: value
    return serializer_field.to_representation


def batched(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


PLAIN_REPRESENTATION = serializers.Serializer.to_representation


def plain_columns(
    serializer: serializers.BaseSerializer, model: type[models.Model]
) -> list[str] | None:
    """The column (attname) behind each readable field, when every one is a model column read as
    it is (a plain ``ModelSerializer``); None otherwise."""
    if type(serializer).to_representation is not PLAIN_REPRESENTATION:
        return None
    columns = []
    for serializer_field in readable_fields(serializer).values():
        model_field = column_of(serializer_field, model)
        if model_field is None:
            return None
        columns.append(model_field.attname)
    return columns


def column_of(serializer_field: serializers.Field, model: type[models.Model]) -> Any:
    """The model column a serializer field reads as it is, or None."""
    source = serializer_field.source
    if not source or source == "*" or "." in source:
        return None
    try:
        model_field = model._meta.get_field(source)
    except Exception:
        return None
    if (
        not model_field.concrete
        or model_field.many_to_many
        or isinstance(model_field, models.FileField)
    ):
        return None
    if model_field.is_relation:
        plain_key = type(serializer_field) is serializers.PrimaryKeyRelatedField
        pk_field = getattr(serializer_field, "pk_field", None)
        return model_field if plain_key and pk_field is None else None
    if isinstance(serializer_field, serializers.RelatedField):
        return None
    return model_field


def copied_rows(
    queryset: models.QuerySet, serializer: serializers.BaseSerializer, as_json: bool = False
) -> Iterator[bytes] | None:
    """The rows as the database writes them (``COPY … TO STDOUT``): CSV lines, or one JSON
    object a line, when its backend can spell each column as the serializer renders it; None
    otherwise."""
    backend = bulk_backend(queryset.db)
    if not backend.copies_out or plain_columns(serializer, queryset.model) is None:
        return None
    fields = readable_fields(serializer)
    spell = backend.export_json_sql if as_json else backend.export_column_sql
    aliased, expressions = {}, []
    for position, serializer_field in enumerate(fields.values()):
        model_field = column_of(serializer_field, queryset.model)
        sql = spell(serializer_field, model_field, f'"c{position}"')
        if sql is None:
            return None
        aliased[f"c{position}"] = models.F(model_field.name)
        expressions.append(sql)
    inner, params = queryset.values(**aliased).query.sql_with_params()
    if as_json:
        sql = backend.json_rows_sql(list(fields), expressions, f"({inner}) AS export")
        return backend.copy_lines_out(sql, params)
    sql = f"SELECT {', '.join(expressions)} FROM ({inner}) AS export"
    return backend.copy_csv_out(sql, params)
