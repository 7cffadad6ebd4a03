"""Shared fixtures: an HTTP client on the ASGI application, and a query counter across threads."""

import threading
from collections import Counter

import httpx
import pytest
from django.db.backends import utils as db_utils


@pytest.fixture
async def api():
    """An httpx client that speaks HTTP to the project's ASGI application."""
    from asgi_demo.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


class QueryCounter:
    """Counts SQL statements by database alias, whatever thread runs them."""

    def __init__(self) -> None:
        self.by_alias: Counter = Counter()
        self.statements: list[str] = []
        self._lock = threading.Lock()

    def record(self, alias: str, sql: str) -> None:
        with self._lock:
            self.by_alias[alias] += 1
            self.statements.append(sql)

    def reset(self) -> None:
        self.by_alias.clear()
        self.statements.clear()


@pytest.fixture
def query_counter(monkeypatch):
    counter = QueryCounter()
    original = db_utils.CursorWrapper._execute_with_wrappers

    def counting(self, sql, params, many, executor):
        counter.record(self.db.alias, sql)
        return original(self, sql, params, many, executor)

    monkeypatch.setattr(db_utils.CursorWrapper, "_execute_with_wrappers", counting)
    return counter
