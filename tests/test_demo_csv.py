"""The same 500 rows sent to ``/bulk/`` as JSON and as CSV: the same operation, the same table.

A CSV row's index is the index of the JSON item it stands for (row 0 is the first data row), and an
empty cell is an omitted field, so both bodies must end with the same counts, the same errors by
index and the same rows stored.
"""

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from asgi_demo.contracts.models import Contract
from tests.fixtures.operations import run_bulk

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_settled"),
]

ROWS = 500
COLUMNS = ("contract_number", "year", "amount", "customer", "status")
BULK_URL = "/api/contracts/bulk/"
UPSERT_URL = "/api/contracts/bulk/?unique_fields=contract_number,year"
# What differs between two runs of one batch: the operation, its times, and the ids the
# database hands out (compared through the rows they name instead).
RUN_SPECIFIC = {
    "task_id",
    "created_at",
    "started_at",
    "finished_at",
    "result",
    "results_url",
    "seq",
}


def contract_rows() -> list[dict[str, Any]]:
    """500 contract items as a JSON client sends them; every fourth sets ``status``, the others
    leave it to the model's default. One customer needs CSV quoting (comma, quotes, newline)."""
    items = []
    for index in range(ROWS):
        item = {
            "contract_number": f"K-{index:03}",
            "year": 2024 + index % 3,
            "amount": f"{index}.25",
            "customer": f"Customer {index}",
        }
        if index % 4 == 0:
            item["status"] = "pending"
        items.append(item)
    items[42]["customer"] = 'Müller, "Café" & Co\nBerlin'
    return items


def as_csv(items: list[dict[str, Any]]) -> bytes:
    """The items as a CSV body: a header row, then one row per item, an omitted field empty."""
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow([item.get(column, "") for column in COLUMNS])
    return body.getvalue().encode()


async def send(api, url: str, items: list[dict[str, Any]], body_format: str):
    """POST the items to ``url`` as JSON or CSV and wait for the operation to end."""
    if body_format == "json":
        return await run_bulk(api, "POST", url, json=items)
    return await run_bulk(
        api, "POST", url, content=as_csv(items), headers={"Content-Type": "text/csv"}
    )


async def table() -> list[tuple]:
    """Every stored contract, without what the database chooses (ids, timestamps)."""
    return [row async for row in Contract.objects.order_by(*COLUMNS[:2]).values_list(*COLUMNS)]


async def keys_of(ids: list[int]) -> list[tuple]:
    """The (contract_number, year) of the rows with these ids, sorted."""
    rows = Contract.objects.filter(pk__in=ids).values_list("contract_number", "year")
    return sorted([key async for key in rows])


async def outcome(accepted, status: dict[str, Any]) -> dict[str, Any]:
    """What a client learns from one run, with the run-specific parts replaced by what they
    name: the accepted answer, the status (errors by index) and the keys of the rows written."""
    answer = accepted.json()
    result = status["result"]
    return {
        "accepted": {key: answer[key] for key in ("message", "total_items", "unique_fields")},
        "status": {key: value for key, value in status.items() if key not in RUN_SPECIFIC}
        | {"errors": sorted(status["errors"], key=lambda error: error["index"])},
        "created": await keys_of(result["created_ids"]),
        "updated": await keys_of(result["updated_ids"]),
        "table": await table(),
    }


async def seed_existing_rows() -> None:
    """Every other key of the batch already stored, with other values."""
    await Contract.objects.abulk_create(
        Contract(
            contract_number=f"K-{index:03}",
            year=2024 + index % 3,
            amount=Decimal("1.00"),
            customer=f"Old customer {index}",
            status="archived",
        )
        for index in range(0, ROWS, 2)
    )


def error_indexes(result: dict[str, Any]) -> list[int]:
    return [error["index"] for error in result["status"]["errors"]]


def test_the_csv_body_carries_the_same_items_as_the_json_body():
    items = contract_rows()
    del items[3]["customer"]

    parsed = list(csv.DictReader(io.StringIO(as_csv(items).decode())))

    as_sent = [{key: value for key, value in row.items() if value} for row in parsed]
    assert as_sent == [{key: str(value) for key, value in item.items()} for item in items]


async def test_a_bulk_create_of_csv_rows_ends_as_the_same_json_items(api):
    items = contract_rows()
    items[7]["amount"] = "not a number"
    items[123]["year"] = "twenty"
    del items[250]["customer"]
    items[333]["contract_number"] = "X" * 51
    items[460] = items[450] | {"amount": "9.99"}  # same chunk, same key: the later item fails

    from_json = await outcome(*await send(api, BULK_URL, items, "json"))
    await Contract.objects.all().adelete()
    from_csv = await outcome(*await send(api, BULK_URL, items, "csv"))

    assert from_csv == from_json
    assert from_json["status"]["status"] == "completed"
    assert (from_json["status"]["created_count"], from_json["status"]["error_count"]) == (495, 5)
    assert error_indexes(from_json) == [7, 123, 250, 333, 460]
    assert from_json["status"]["errors"][0]["errors"] == {"amount": ["A valid number is required."]}
    assert from_json["status"]["errors"][2]["errors"] == {"customer": ["This field is required."]}
    assert len(from_json["table"]) == 495
    assert ("K-042", 2024, Decimal("42.25"), 'Müller, "Café" & Co\nBerlin', "active") in (
        from_json["table"]
    )


async def test_a_bulk_upsert_of_csv_rows_ends_as_the_same_json_items(api):
    items = contract_rows()
    for index in range(0, ROWS, 10):
        del items[index]["customer"]  # an existing row keeps its customer
    items[7]["amount"] = "-"
    items[251].pop("customer")  # a new row needs one
    items[300]["year"] = "2025.5"
    items[480] = items[20] | {"amount": "9.99"}  # a later chunk repeats a key

    await seed_existing_rows()
    from_json = await outcome(*await send(api, UPSERT_URL, items, "json"))
    await Contract.objects.all().adelete()
    await seed_existing_rows()
    from_csv = await outcome(*await send(api, UPSERT_URL, items, "csv"))

    assert from_csv == from_json
    assert from_json["status"]["status"] == "completed"
    assert error_indexes(from_json) == [7, 251, 300, 480]
    assert (
        "Duplicate of item 20" in from_json["status"]["errors"][3]["errors"]["non_field_errors"][0]
    )
    assert (from_json["status"]["created_count"], from_json["status"]["updated_count"]) == (
        248,
        248,
    )
    stored = {row[0]: row[2:] for row in from_json["table"]}
    assert stored["K-001"] == (Decimal("1.25"), "Customer 1", "active")
    assert stored["K-002"] == (Decimal("2.25"), "Customer 2", "archived")
    assert stored["K-010"] == (Decimal("10.25"), "Old customer 10", "archived")
    assert stored["K-020"] == (Decimal("20.25"), "Old customer 20", "pending")
    assert stored["K-480"] == (Decimal("1.00"), "Old customer 480", "archived")
