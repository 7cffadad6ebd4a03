"""A project parser, listed in the test settings' ``DEFAULT_PARSER_CLASSES``."""

from typing import IO, Any

from rest_framework.parsers import BaseParser


class KeyValueParser(BaseParser):
    """``text/x-key-value``: one ``name=value`` per line, as one object."""

    media_type = "text/x-key-value"

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context=None) -> Any:
        lines = stream.read().decode().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)
