"""A scan of the structure of JSON text that arrives a part at a time: where, inside an array,
one item ends and the next begins.

``streams.JSONArrayReader`` cuts a window of an array body between two items; when its guesses
fail (an item longer than the window, ``},`` inside strings) it scans the window with a
``StructureScan``, which keeps its state (inside a string or not, the depth, what it has found)
from one part to the next, so that each byte is scanned once however long the item.
"""

from __future__ import annotations

import re

from . import exactjson

# What, inside an item, leaves the depth as it is: text other than brackets and quotes, whole
# strings, and containers that hold neither brackets nor an unfinished string.
_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_FLAT = rb'(?:[^\[\]{}"]++|' + _STRING + rb")*+"
SAME_DEPTH = re.compile(
    rb"(?:[^\[\]{}\"]++|" + _STRING + rb"|\[" + _FLAT + rb"\]|\{" + _FLAT + rb"\})*+", re.DOTALL
)
BETWEEN_ITEMS = re.compile(rb'[\[\]{},"]')
# The rest of a string, up to its closing quote or an escape cut in two.
STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)


def skip(pattern: re.Pattern[bytes], window: bytes | bytearray, position: int) -> int:
    """Where ``pattern`` (which matches the empty string too) ends, matched at ``position``."""
    match = pattern.match(window, position)
    return match.end() if match else position


class StructureScan:
    """A scan of the strings and brackets of a window inside the array, carried on as the window
    grows, so that each byte is read once: where the last comma between two items is, where
    the ``]`` that ends the array is, and where nesting passes ``exactjson.MAX_DEPTH`` (each -1
    until found).

    Inside an item, what leaves the depth as it is (text without brackets or quotes, whole
    strings, containers holding neither) is read by one regular expression match, so an item of
    many small values costs few steps of Python, not one per bracket."""

    def __init__(self) -> None:
        self.position = 0  # scanned up to here
        self.depth = 0  # inside the array's items
        self.in_string = False
        self.last_cut = -1
        self.closed = -1
        self.too_deep = -1

    def read(self, window: bytes | bytearray) -> None:
        """Scan what the window has gained since the last call."""
        position, end = self.position, len(window)
        while position < end and self.closed < 0 and self.too_deep < 0:
            if self.in_string:
                position = skip(STRING_BODY, window, position)
                if position == end or window[position] != 0x22:  # '"'
                    break  # the string goes on (or an escape is cut in two) in the next part
                self.in_string = False
                position += 1
            elif self.depth:
                position = self._inside_item(window, position)
            else:
                position = self._between_items(window, position)
        self.position = position

    def _inside_item(self, window: bytes | bytearray, position: int) -> int:
        """Skip what keeps the depth, then take the bracket or unfinished string that follows."""
        position = skip(SAME_DEPTH, window, position)
        if position == len(window):
            return position
        token = window[position]
        if token == 0x22:  # '"': a string the window has not finished
            self.in_string = True
        elif token in b"[{":
            self.depth += 1
            if self.depth >= exactjson.MAX_DEPTH:  # the array is one level already
                self.too_deep = position
        else:
            self.depth -= 1
        return position + 1

    def _between_items(self, window: bytes | bytearray, position: int) -> int:
        """Between two items: note the commas, up to the next string or container."""
        for match in BETWEEN_ITEMS.finditer(window, position):
            start = match.start()
            token = window[start]
            if token == 0x2C:  # ','
                self.last_cut = start
                continue
            if token == 0x22:  # '"'
                self.in_string = True
            elif token in b"[{":
                self.depth = 1
            else:  # the array's end (or a stray brace, which parsing the window reports)
                self.closed = start
            return start + 1
        return len(window)
