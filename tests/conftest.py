"""Shared fixtures: an HTTP client on the ASGI application, a query counter across threads, and
small factories for the rows and users the tests need."""

import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.db.backends import utils as db_utils
from rest_framework.authtoken.models import Token

from asgi_demo.contracts.models import Contract

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.server", "tests.fixtures.faults"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow tests first, in their usual order: spread over pytest-xdist workers a test at a
    time (``-n 2 --maxschedchunk 1``), they start at once instead of ending the run long after
    the others."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


CONTRACTS_URL = "/api/contracts/"
UPSERT_URL = "/api/contracts/?unique_fields=contract_number,year"


@pytest.fixture
async def api():
    """An httpx client that speaks HTTP to the project's ASGI application."""
    from asgi_demo.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    # The test's own async ORM calls run in asgiref's shared thread: close that thread's
    # connections, or the test database cannot be flushed and dropped.
    await sync_to_async(connections.close_all)()


class QueryCounter:
    """Counts SQL statements by database alias, whatever thread runs them."""

    def __init__(self) -> None:
        self.by_alias: Counter = Counter()
        self.statements: list[str] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def record(self, alias: str, sql: str) -> None:
        with self._lock:
            self.by_alias[alias] += 1
            self.statements.append(sql)
            self.threads.add(threading.get_ident())

    def reset(self) -> None:
        self.by_alias.clear()
        self.statements.clear()
        self.threads.clear()


@pytest.fixture
def query_counter(monkeypatch):
    counter = QueryCounter()
    original = db_utils.CursorWrapper._execute_with_wrappers

    def counting(self, sql, params, many, executor):
        counter.record(self.db.alias, sql)
        return original(self, sql, params, many, executor)

    monkeypatch.setattr(db_utils.CursorWrapper, "_execute_with_wrappers", counting)
    return counter


def answer_part(body: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``expected`` as ``body`` has them (the sync answers may carry more keys), with
    the id lists sorted: the contract names exactly which rows, not in which order."""
    return {
        key: sorted(body[key])
        if key.endswith("_ids") and key in body
        else body.get(key, "<missing>")
        for key in expected
    }


def contract_item(number: str, *, year: int = 2024, **fields: Any) -> dict[str, Any]:
    """One valid contract item; ``fields`` override or add values."""
    return {
        "contract_number": number,
        "year": year,
        "amount": "100.00",
        "customer": f"Customer {number}",
    } | fields


@pytest.fixture
def contract_items():
    """Factory of valid contract items: ``contract_items(3, prefix="A")`` gives A0, A1, A2."""

    def build(count: int, *, prefix: str = "C", **fields: Any) -> list[dict[str, Any]]:
        return [contract_item(f"{prefix}{index}", **fields) for index in range(count)]

    return build


@pytest.fixture
def saved_contracts():
    """Factory that stores contracts: ``await saved_contracts(3, prefix="E", using="embedded")``."""

    async def save(
        count: int, *, prefix: str = "E", year: int = 2024, using: str = "default", **fields: Any
    ) -> list[Contract]:
        rows = [
            Contract(
                contract_number=f"{prefix}{index}",
                year=year,
                amount=Decimal("10.00"),
                customer=f"Stored {prefix}{index}",
                **fields,
            )
            for index in range(count)
        ]
        return await Contract.objects.using(using).abulk_create(rows)

    return save


@pytest.fixture
def read_contracts():
    """Reads the stored contracts, keyed by contract number: ``await read_contracts()``."""

    async def read(using: str = "default") -> dict[str, Contract]:
        return {row.contract_number: row async for row in Contract.objects.using(using).all()}

    return read


@dataclass
class TokenUser:
    """A user and the ``Authorization`` header of their DRF token."""

    user: Any
    headers: dict[str, str]


@pytest.fixture
def make_token_user(django_user_model):
    """Factory of users that authenticate with ``Authorization: Token <key>``."""

    def make(username: str) -> TokenUser:
        user = django_user_model.objects.create_user(username=username, password="unused")
        token = Token.objects.create(user=user)
        return TokenUser(user, {"Authorization": f"Token {token.key}"})

    return make


@pytest.fixture
def alice(make_token_user) -> TokenUser:
    return make_token_user("alice")


@pytest.fixture
def bob(make_token_user) -> TokenUser:
    return make_token_user("bob")
