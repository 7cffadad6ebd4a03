"""Request parsers for bulk bodies: JSON read exactly at orjson's speed, CSV with a header row, and
NDJSON (one JSON value a line).

A viewset's parsers stay the project's (``parser_classes``, by default
``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``). On the routes that take arrays (the list URL and
``/bulk/``) ``with_bulk_parsers`` puts ``OrjsonParser`` in the place of DRF's ``JSONParser`` and
adds ``CSVParser`` and ``NDJSONParser``; every other route parses exactly as DRF does.

``parse`` reads a body whole, as DRF's parsers do (the synchronous endpoints: small bodies). These
three parsers can also ``stream_batches``: the items of an array body a batch at a time, read a
part at a time (``streams.py``), which the ``/bulk/`` endpoints stage as they go. A project's own
parser for the same media type is used as it is, whole.
"""

import codecs
import io
import json
from collections.abc import Iterator
from itertools import chain
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser

from .exactjson import NESTED_TOO_DEEP, orjson_exact, refuse_constant, strict_loads
from .streams import csv_batches, json_array_batches, ndjson_batches


class OrjsonParser(BaseParser):
    """``application/json`` as DRF's ``JSONParser`` reads it (the same values, errors and
    charsets), several times faster on UTF-8 bodies.

    - Values: orjson's, unless the body holds an integer orjson would turn into a float. Then, and
      whenever orjson refuses the body (a charset other than UTF-8, a syntax error, a lone
      surrogate, ``NaN``), the standard library reads it as DRF's ``JSONParser`` does, with its
      values and its error messages; except that in an array a number beyond a float's range
      (``1e999``) is refused as ``NaN`` is, as the ``/bulk/`` endpoints refuse it, where DRF
      would read ``inf``.
    - Nesting deeper than the parser takes (``exactjson.MAX_DEPTH``) is a ``ParseError``.
    - Size: DRF reads a JSON body through ``request.body``, which refuses more than
      ``DATA_UPLOAD_MAX_MEMORY_SIZE``. This parser reads the stream itself and refuses an oversized
      body the same way, unless it is an array: ``BULK_DRF_MAX_RECORDS`` bounds arrays instead.
    """

    media_type = "application/json"

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context=None) -> Any:
        """The body's value; ``ParseError`` (a 400) with DRF's wording when it is not JSON."""
        body = stream.read()
        try:
            data = self.read(body, media_type, parser_context or {})
        except ParseError:
            refuse_oversized(body)  # DRF refuses an oversized body before reading it
            raise
        if not isinstance(data, list):
            refuse_oversized(body)
        return data

    def stream_batches(
        self, stream: IO[bytes], media_type: str | None = None, parser_context=None
    ) -> Iterator[list[Any]]:
        """The items of an array body, a batch at a time (``streams.json_array_batches``); a
        body that is not an array raises ``streams.NotAnArray``."""
        return json_array_batches(stream, text_encoding(parser_context or {}))

    @staticmethod
    def read(body: bytes, media_type: str | None, parser_context: dict[str, Any]) -> Any:
        """The value of ``body`` (see the class); nesting deeper than the parser takes is a
        ``ParseError`` too, where DRF's parser would fail with a ``RecursionError``."""
        try:
            if not reads_utf8(parser_context):
                return JSONParser().parse(io.BytesIO(body), media_type, parser_context)
            try:
                return orjson_exact(body)
            except ValueError:
                pass
            value = drf_loads(body)
            # An array is read as a /bulk/ body is: a number beyond a float's range is refused.
            return strict_loads(body) if isinstance(value, list) else value
        except RecursionError:
            raise ParseError(f"JSON parse error - The JSON text is {NESTED_TOO_DEEP}.") from None
        except ValueError as exc:  # DRF's JSONParser's wording
            raise ParseError(f"JSON parse error - {exc}") from None


def drf_loads(body: bytes) -> Any:
    """UTF-8 JSON as DRF's ``JSONParser`` reads it (``NaN`` refused, ``1e999`` read as ``inf``)."""
    return json.loads(body.decode("utf-8"), parse_constant=refuse_constant)


def reads_utf8(parser_context: dict[str, Any]) -> bool:
    """Whether the request's charset is UTF-8, the only one orjson reads."""
    try:
        return text_encoding(parser_context) == "utf-8"
    except ParseError:
        return False  # DRF's JSONParser refuses it in its own words


def text_encoding(parser_context: dict[str, Any]) -> str:
    """The request's charset, as ``codecs`` names it. A codec that is not a text encoding (such as
    ``bz2_codec``, which would decompress the body past every size limit) is a ``ParseError``."""
    encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
    try:
        "".encode(encoding)  # unlike codecs.lookup(), refuses bytes-to-bytes codecs
    except (LookupError, UnicodeError) as exc:
        message = f'Unsupported charset "{encoding}" in request Content-Type header.'
        raise ParseError(message) from exc
    return codecs.lookup(encoding).name


def refuse_oversized(body: bytes) -> None:
    """Django's refusal of a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (a 400), as DRF gets it."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")


class CSVParser(BaseParser):
    """Parses ``text/csv`` into a list of objects keyed by the header row.

    An empty cell is an omitted field, so that a partial update written as CSV leaves that column
    untouched.
    """

    media_type = "text/csv"

    def parse(  # type: ignore[override]  # an array body is a list, as DRF's JSONParser gives
        self, stream: IO[bytes], media_type: str | None = None, parser_context=None
    ) -> list[dict[str, Any]]:
        """The rows as objects; a malformed body is DRF's ``ParseError`` (a 400)."""
        return list(chain.from_iterable(self.stream_batches(stream, media_type, parser_context)))

    def stream_batches(
        self, stream: IO[bytes], media_type: str | None = None, parser_context=None
    ) -> Iterator[list[dict[str, Any]]]:
        """The rows as objects, a batch at a time (``streams.csv_batches``)."""
        return csv_batches(stream, text_encoding(parser_context or {}))


class NDJSONParser(BaseParser):
    """Parses ``application/x-ndjson`` (one JSON value a line, blank lines skipped) into a list:
    the format of clients that stream their records."""

    media_type = "application/x-ndjson"

    def parse(  # type: ignore[override]  # an array body is a list, as DRF's JSONParser gives
        self, stream: IO[bytes], media_type: str | None = None, parser_context=None
    ) -> list[Any]:
        """The values of the lines; a malformed line is a ``ParseError`` (a 400) naming it."""
        return list(chain.from_iterable(self.stream_batches(stream, media_type, parser_context)))

    def stream_batches(
        self, stream: IO[bytes], media_type: str | None = None, parser_context=None
    ) -> Iterator[list[Any]]:
        """The values of the lines, a batch at a time (``streams.ndjson_batches``)."""
        return ndjson_batches(stream, text_encoding(parser_context or {}))


#: Media types whose bodies are arrays whatever they hold (rows, lines): on ``/bulk/``, a PUT or
#: PATCH in one of them is a bulk request, never the update of one object.
ARRAY_MEDIA_TYPES = frozenset({CSVParser.media_type, NDJSONParser.media_type})


def with_bulk_parsers(parsers: list[BaseParser]) -> list[BaseParser]:
    """``parsers`` for a route that takes arrays: DRF's own ``JSONParser`` gives way to
    ``OrjsonParser`` (a project's subclass of it is kept as it is), and ``CSVParser`` and
    ``NDJSONParser`` are added unless a parser already reads their media type."""
    bulk = [OrjsonParser() if type(parser) is JSONParser else parser for parser in parsers]
    for extra in (CSVParser, NDJSONParser):
        if not any(parser.media_type == extra.media_type for parser in bulk):
            bulk.append(extra())
    return bulk
