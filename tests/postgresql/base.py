"""Django's PostgreSQL backend, with a flush that suits the test suite.

Between transactional tests pytest-django empties every table (Django's ``flush``), which
PostgreSQL spells ``TRUNCATE``: that gives each table and index a new file, some 0.1 to 0.4 s per
flush on a busy machine, paid after several hundred tests. The tables then hold a few rows each,
which ``DELETE`` removes in about a millisecond. The tables are first locked as ``TRUNCATE`` locks
them, so a transaction still writing to them (a worker's chunk) ends before they are emptied.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        names = [style.SQL_FIELD(self.quote_name(table)) for table in tables]
        # Foreign keys are deferred to the end of the flush's transaction: any order will do.
        return [
            f"{style.SQL_KEYWORD('LOCK TABLE')} {', '.join(names)} "
            f"{style.SQL_KEYWORD('IN ACCESS EXCLUSIVE MODE')};",
            *(f"{style.SQL_KEYWORD('DELETE FROM')} {name};" for name in names),
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
