"""The format of a staged chunk: what the request writes to the store and a worker reads back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import exactjson


@dataclass
class StagedChunk:
    """One chunk as the workers receive it: its items and the errors of those of its items
    that were refused while staging (duplicate keys), each with its index in the payload."""

    items: list[Any]
    refused: list[dict[str, Any]] = field(default_factory=list)

    def encode(self) -> bytes:
        return exactjson.dumps({"items": self.items, "refused": self.refused})

    @classmethod
    def decode(cls, value: dict[str, Any]) -> StagedChunk:
        """The chunk from its value as the store gives it back (``load_chunk``)."""
        return cls(value["items"], value["refused"])
