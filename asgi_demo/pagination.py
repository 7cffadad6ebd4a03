"""The demo's list pagination: a cursor over the primary key, newest rows first.

A cursor page is one indexed range scan whatever the table holds (no ``COUNT``, no ``OFFSET``), so
``GET /api/contracts/`` stays cheap on a table of a million rows. ``?page_size=`` asks for up to
1,000 rows; ``next`` and ``previous`` are the links to follow. Multi-get answers (``?ids=``) are not
paginated: the sync limit bounds them.
"""

from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Pages of 100 rows (``?page_size=`` up to 1,000), by descending primary key."""

    ordering = "-pk"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1_000
