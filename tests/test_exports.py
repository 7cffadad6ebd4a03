"""Exports: ``GET`` on the list URL as CSV or NDJSON streams every selected row, as the list
serializes it; the CSV goes back into ``/bulk/`` as it is."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from asgiref.sync import sync_to_async

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.exports import csv_cell
from tests.fixtures.operations import run_bulk

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "embedded"])

CSV = {"Accept": "text/csv"}
NDJSON = {"Accept": "application/x-ndjson"}


def store(count: int, using: str = "default", **fields) -> None:
    Contract.objects.using(using).bulk_create(
        Contract(
            contract_number=f"X{i}",
            year=2024 + i % 2,
            amount=Decimal(i) / 4,
            customer=f'Customer "{i % 3}", with, commas\nand a line, a \t tab and a \\ here',
            **fields,
        )
        for i in range(count)
    )


def serialized(using: str = "default", **filters) -> list[dict]:
    rows = Contract.objects.using(using).filter(**filters).order_by("pk")
    return json.loads(json.dumps(ContractSerializer(rows, many=True).data))


def csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def as_cells(rows: list[dict]) -> list[dict]:
    return [{name: str(csv_cell(value)) for name, value in row.items()} for row in rows]


def ndjson_rows(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.decode().splitlines()]


@pytest.mark.parametrize("using", ["default", "embedded"])
async def test_csv_and_ndjson_hold_every_row_as_the_list_serializes_it(api, using):
    await sync_to_async(store)(120, using)
    # A timestamp without microseconds renders without them.
    await (
        Contract.objects.using(using)
        .filter(contract_number="X3")
        .aupdate(updated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    )
    url = {"default": "/api/contracts/", "embedded": "/test-api/embedded-contracts/"}[using]
    expected = await sync_to_async(serialized)(using)

    as_csv = await api.get(url, headers=CSV)
    as_ndjson = await api.get(f"{url}?format=ndjson")

    assert as_csv.status_code == as_ndjson.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_ndjson.headers["content-type"] == "application/x-ndjson"
    assert as_csv.content.startswith(b"id,contract_number,year,amount,customer,status,created_at,")
    assert sorted(csv_rows(as_csv.content), key=lambda r: int(r["id"])) == as_cells(expected)
    assert sorted(ndjson_rows(as_ndjson.content), key=lambda r: r["id"]) == expected
    # Byte for byte as DRF's JSON renderer writes each row: compact, in field order.
    assert as_ndjson.content == b"".join(orjson.dumps(row) + b"\n" for row in expected)
    assert "2026-01-02T03:04:05Z" in as_csv.text


async def test_format_in_the_query_string_and_the_paginated_list_otherwise(api):
    await sync_to_async(store)(5)

    by_format = await api.get("/api/contracts/?format=csv")
    listed = await api.get("/api/contracts/")

    assert len(csv_rows(by_format.content)) == 5
    assert listed.headers["content-type"] == "application/json"
    assert "results" in listed.json()


async def test_a_computed_field_is_exported_through_the_serializer(api):
    await sync_to_async(store)(30)

    as_csv = await api.get("/test-api/labelled-contracts/", headers=CSV)
    as_ndjson = await api.get("/test-api/labelled-contracts/", headers=NDJSON)

    rows = csv_rows(as_csv.content)
    assert [row["label"] for row in rows] == [f"X{i}/{2024 + i % 2}" for i in range(30)]
    assert [row["label"] for row in ndjson_rows(as_ndjson.content)] == [r["label"] for r in rows]


async def test_the_export_honours_get_queryset_and_the_filters(api):
    await sync_to_async(store)(60)
    url = "/test-api/filtered-contracts/"

    scoped = csv_rows((await api.get(url, headers=CSV)).content)
    filtered = ndjson_rows(
        (await api.get(url, params={"customer": scoped[0]["customer"]}, headers=NDJSON)).content
    )

    assert [row["contract_number"] for row in scoped] == [f"X{i}" for i in range(0, 60, 2)]
    assert [row["contract_number"] for row in filtered] == [f"X{i}" for i in range(0, 60, 6)]


async def test_an_export_of_a_users_rows_needs_the_user(api, alice):
    refused = await api.get("/test-api/owned/", headers=CSV)

    assert refused.status_code in (401, 403)
    assert refused.headers["content-type"] == "application/json"
    assert "detail" in refused.json()


@pytest.mark.usefixtures("celery_worker_settled")
async def test_the_exported_csv_reimported_leaves_every_row_unchanged(api):
    await sync_to_async(store)(500)
    stamps = dict(await sync_to_async(list)(Contract.objects.values_list("pk", "updated_at")))
    exported = (await api.get("/api/contracts/", headers=CSV)).content

    _, status = await run_bulk(
        api,
        "POST",
        "/api/contracts/bulk/?unique_fields=contract_number,year",
        content=exported,
        headers={"Content-Type": "text/csv"},
    )

    assert status["status"] == "completed", status
    counts = (status["created_count"], status["updated_count"], status["unchanged_count"])
    assert (counts, status["error_count"]) == ((0, 0, 500), 0)
    after = dict(await sync_to_async(list)(Contract.objects.values_list("pk", "updated_at")))
    assert after == stamps
