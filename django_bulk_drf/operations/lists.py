"""The lists of an operation (its ids, rows and item errors), kept in payload order and read a page
at a time.

Chunks report in any order (chunk 7 may be counted before chunk 3), so a store does not keep one
list per name in arrival order: it keeps one *segment* per chunk (the chunk's index), each in the
chunk's own order, and an index of the segments that hold something. Reading segments in index
order gives payload order, and a page is read from its ``Position`` (segment, offset) on, touching
only the segments it returns: its cost depends on the page, not on the list. Item errors are kept
in the segment of their item (``index // chunk_size``), sorted by index, so that errors found
before the chunks ran and a chunk's own errors interleave by index.

A ``Position`` travels to clients as an opaque cursor (``encode_cursor`` / ``decode_cursor``).
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

#: The first this many values of each list appear in a status body; the rest are paged.
STATUS_LIST_LIMIT = 1000
#: Values per page of ``GET operations/<id>/results/``, by default and at most.
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
#: What a client asks the results endpoint for (``?kind=``), and the list that holds it.
RESULT_KINDS = {
    "created": "created_ids",
    "updated": "updated_ids",
    "deleted": "deleted_ids",
    "unchanged": "unchanged_ids",
    "errors": "errors",
    "rows": "results",
}
#: A cursor's segment and offset have at most this many digits: far above any operation's chunks
#: and values, and exact as the Lua numbers of the Redis store (doubles) and its integers.
MAX_POSITION_DIGITS = 15
#: Lists whose segments are kept sorted by the ``index`` of their values.
BY_INDEX = frozenset({"errors"})


class Position(NamedTuple):
    """Where a page starts: a segment (a chunk's index) and an offset inside it."""

    segment: int
    offset: int


FIRST = Position(0, 0)


@dataclass(frozen=True)
class Page:
    """Values of a list in payload order, and where the next page starts (None: none left)."""

    values: list[Any]
    next: Position | None = None


def encode_cursor(position: Position) -> str:
    return base64.urlsafe_b64encode(f"{position.segment}.{position.offset}".encode()).decode()


def decode_cursor(cursor: str) -> Position:
    """The position ``encode_cursor`` gave; ``ValueError`` for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error) as exc:
        raise ValueError("not a cursor") from exc
    segment, dot, offset = text.partition(".")
    if not (dot and is_position(segment) and is_position(offset)):
        raise ValueError("not a cursor")
    return Position(int(segment), int(offset))


def is_position(text: str) -> bool:
    """Whether ``text`` is a segment or offset a cursor can hold: digits, of at
    most ``MAX_POSITION_DIGITS``."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_POSITION_DIGITS


def by_index(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(errors, key=lambda error: error["index"])


def by_segment(errors: Iterable[dict[str, Any]], chunk_size: int) -> dict[int, list[Any]]:
    """Item errors grouped by the segment (the chunk) of their item, each group by index."""
    segments: dict[int, list[Any]] = {}
    for error in by_index(errors):
        segments.setdefault(error["index"] // chunk_size, []).append(error)
    return segments


class SegmentedList:
    """One list of an operation kept in memory, in segments: read a page without a copy of the
    whole, for a store that keeps its lists in this process (``LocalOperationStore``). The
    values of a list in ``BY_INDEX`` are kept sorted by index within each segment."""

    def __init__(self, name: str) -> None:
        self.ordered = name in BY_INDEX
        self.segments: dict[int, list[Any]] = {}
        self.order: list[int] = []

    def extend(self, segment: int, values: list[Any]) -> None:
        if not values:
            return
        kept = self.segments.get(segment)
        if kept is None:
            bisect.insort(self.order, segment)
            self.segments[segment] = by_index(values) if self.ordered else list(values)
            return
        kept.extend(values)
        if self.ordered:
            self.segments[segment] = by_index(kept)

    def page(self, start: Position, limit: int) -> Page:
        values: list[Any] = []
        for segment in self.order[bisect.bisect_left(self.order, start.segment) :]:
            kept = self.segments[segment]
            offset = start.offset if segment == start.segment else 0
            if len(values) == limit:
                return Page(values, Position(segment, offset))
            taken = kept[offset : offset + limit - len(values)]
            values.extend(taken)
            if len(values) == limit and offset + len(taken) < len(kept):
                return Page(values, Position(segment, offset + len(taken)))
        return Page(values)
