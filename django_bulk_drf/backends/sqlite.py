"""SQLite (the embedded mode's database): multi-row ``INSERT … RETURNING`` from SQLite 3.35 on.

What is not here is the base's: SQLite has no statement timeout and no row locks (one writer at a
time, which makes the ledger's share lock needless), and cannot tell an inserted row from an
updated one in ``RETURNING``, so the writers take the rows that existed from validation.
"""

from __future__ import annotations

from .base import BaseBulkBackend


class BulkBackend(BaseBulkBackend):
    """SQLite through the standard library's ``sqlite3``."""

    #: ``IS DISTINCT FROM`` came with SQLite 3.39; ``IS NOT`` has always compared so.
    distinct_operator = "IS NOT"

    @property
    def returns_rows(self) -> bool:
        # RETURNING came with SQLite 3.35; older libraries get the ORM's statements.
        return self.connection.features.can_return_rows_from_bulk_insert
