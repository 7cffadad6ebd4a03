"""JSON at orjson's speed that never changes a number.

orjson reads an integer beyond 64 bits as a float (``123456789012345678901234567890`` becomes
``1.2345678901234568e+29``) and refuses to write one; the standard library keeps every integer
exact, three to four times slower. So:

- ``orjson_exact`` is orjson's reading when it is exact, else a ``ValueError``. Whether a body
  holds an integer orjson cannot keep is found by a scan of its bytes (about a millisecond per
  megabyte, a fifth of orjson's parse time): a run of 20 digits, or of 19 after a minus sign. A
  run inside a string, or in the decimals of a float, matches too; it only costs the slower exact
  reading.
- ``loads`` reads with the standard library wherever orjson would not be exact or refuses the text,
  as strictly as orjson: ``NaN``, ``Infinity``, a number beyond a float's range (``1e999``), text
  that is not UTF-8 and nesting deeper than ``MAX_DEPTH`` are a ``ValueError``, never a value (the
  standard library would read ``inf`` or ``nan``, which orjson then writes as ``null``).
- ``dumps`` writes with orjson, and with the standard library when orjson refuses a value.

The request parser (``parsers.OrjsonParser``) and the payloads staged for the Celery workers use
them, so that a number reaches the serializer, in a request or in a worker, with its exact value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

#: The deepest nesting read (orjson's limit); deeper is malformed input.
MAX_DEPTH = 1024
NESTED_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"

# Digits become "0", minus signs stay, every other byte becomes a space.
_DIGIT_RUNS = (
    bytes(
        ord("0") if chr(byte).isdigit() else ord("-") if byte == ord("-") else ord(" ")
        for byte in range(128)
    )
    + b" " * 128
)
_NINETEEN_DIGITS = b"0" * 19
# Beyond orjson's range: above 2**64 - 1 (20 digits or more), below -2**63 (19 digits or more).
_LOSSY_INTEGERS = (b"0" * 20, b"-" + b"0" * 19)


def may_hold_lossy_integer(data: bytes) -> bool:
    """Whether ``data`` may hold an integer that orjson would read as a float."""
    runs = data.translate(_DIGIT_RUNS)
    if _NINETEEN_DIGITS not in runs:
        return False
    return any(pattern in runs for pattern in _LOSSY_INTEGERS)


def orjson_exact(data: bytes) -> Any:
    """orjson's value of UTF-8 JSON ``data``. Raises ``ValueError`` when orjson cannot read it
    or would change one of its integers."""
    if may_hold_lossy_integer(data):
        raise ValueError("The JSON text holds an integer beyond 64 bits.")
    return orjson.loads(data)


def loads(data: bytes) -> Any:
    """The value of UTF-8 JSON ``data``, every number exact (``ValueError`` when it is not JSON,
    or holds what JSON has no number for)."""
    try:
        return orjson_exact(data)
    except ValueError:
        # Beyond 64 bits, or what orjson refuses: a lone surrogate escape the standard library
        # reads, or malformed input it words its own way.
        return strict_loads(data)


def strict_loads(data: bytes) -> Any:
    """The standard library's reading of UTF-8 JSON ``data``, refusing ``NaN``, ``Infinity``,
    out-of-range numbers and too deep nesting with a ``ValueError``."""
    try:
        return json.loads(
            bytes(data).decode("utf-8"), parse_constant=refuse_constant, parse_float=finite_float
        )
    except RecursionError:
        raise ValueError(f"The JSON text is {NESTED_TOO_DEEP}.") from None


def refuse_constant(name: str) -> None:
    """``parse_constant`` that refuses ``NaN``, ``Infinity`` and ``-Infinity``, as DRF does."""
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


def finite_float(text: str) -> float:
    """``parse_float`` that refuses a number beyond a float's range (``1e999``)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"Out of range float values are not JSON compliant: {text!r}")
    return value


def dumps(
    value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None
) -> bytes:
    """``value`` as JSON, every number exact (``default`` as in ``json.dumps``)."""
    try:
        return orjson.dumps(value, default, orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:  # an integer beyond 64 bits, a lone surrogate, nesting past 254 levels
        try:
            return json.dumps(value, sort_keys=sort_keys, default=default).encode()
        except RecursionError:
            raise ValueError("The value is nested too deeply to be written as JSON.") from None
