"""Integers of 19, 20 and 40 digits reach the serializer with their exact value.

Sent to a ``DecimalField``, a ``JSONField`` and an ``IntegerField``, on a single-object request, a
synchronous bulk request and a ``/bulk/`` one (staged in Redis, read back by a Celery worker),
each value is stored exactly, or refused with a 400 (an error by index, in the background) naming
its field: none is changed on the way.
"""

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from tests.fixtures.operations import run_bulk
from tests.parityapp.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)

INTEGERS = [
    1234567890123456789,  # 19 digits: within 64 bits
    -9876543210987654321,  # 19 digits, below the smallest 64-bit integer
    12345678901234567890,  # 20 digits: within unsigned 64 bits
    98765432109876543210,  # 20 digits: beyond
    1234567890123456789012345678901234567890,  # 40 digits
    -1234567890123456789012345678901234567890,
]
#: The model fields that keep them (DecimalField(45, 2), JSONField), and the one that refuses
#: them (IntegerField: 32 bits).
STORED = ("amount", "data")
REFUSED = "count"


def item(field: str, index: int, value: int) -> dict[str, Any]:
    return {"name": "Big", "slug": f"{field}-{index}", field: value}


def items(*fields: str) -> list[dict[str, Any]]:
    return [item(field, index, value) for field in fields for index, value in enumerate(INTEGERS)]


def client_headers() -> dict[str, str]:
    """A client address of its own: the parity viewsets are throttled per address."""
    return {"X-Forwarded-For": uuid.uuid4().hex}


async def assert_stored_exactly(sent: list[dict[str, Any]]) -> None:
    rows = {row.slug: row async for row in Widget.objects.all()}
    for sent_item in sent:
        row = rows[sent_item["slug"]]
        if "amount" in sent_item:
            assert row.amount == Decimal(sent_item["amount"])
        if "data" in sent_item:
            assert type(row.data) is int and row.data == sent_item["data"]


@pytest.fixture
def bulk_urls():
    with override_settings(ROOT_URLCONF="tests.parityapp.urls_bulk"):
        yield


@pytest.mark.usefixtures("bulk_urls")
async def test_single_objects_keep_big_integers_or_name_the_field(api):
    for sent in items(*STORED):
        response = await api.post("/api/widgets/", json=sent, headers=client_headers())
        assert response.status_code == 201, response.text
        if "amount" in sent:
            assert response.json()["amount"] == f"{sent['amount']}.00"
        else:
            assert response.json()["data"] == sent["data"]
    await assert_stored_exactly(items(*STORED))

    for sent in items(REFUSED):
        response = await api.post("/api/widgets/", json=sent, headers=client_headers())
        assert response.status_code == 400
        assert list(response.json()) == [REFUSED]
    assert not await Widget.objects.filter(slug__startswith=REFUSED).aexists()


@pytest.mark.usefixtures("bulk_urls")
async def test_sync_bulk_keeps_big_integers_or_names_the_field(api):
    response = await api.post("/api/widgets/", json=items(*STORED), headers=client_headers())
    assert (response.status_code, response.json()["created_count"]) == (201, 12)
    await assert_stored_exactly(items(*STORED))

    response = await api.post("/api/widgets/", json=items(REFUSED), headers=client_headers())
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(error["index"], list(error["errors"])) for error in errors] == [
        (index, [REFUSED]) for index in range(len(INTEGERS))
    ]


@pytest.mark.usefixtures("bulk_urls", "celery_worker_settled")
async def test_background_bulk_keeps_big_integers_or_names_the_field(api):
    sent = items(*STORED, REFUSED)

    _, status = await run_bulk(
        api, "POST", "/api/widgets/bulk/", json=sent, headers=client_headers()
    )

    assert (status["status"], status["created_count"]) == ("completed", 12)
    refused = [index for index, sent_item in enumerate(sent) if REFUSED in sent_item]
    assert [(error["index"], list(error["errors"])) for error in status["errors"]] == [
        (index, [REFUSED]) for index in refused
    ]
    await assert_stored_exactly(items(*STORED))
    assert not await Widget.objects.filter(slug__startswith=REFUSED).aexists()
