"""``/bulk/`` bodies read and staged a part at a time, in bounded memory (docs/semantics.md).

A body sent in parts is staged chunk by chunk as the server reads it, its keys checked across the
whole payload on the way; the server never holds it whole, and no worker loads more than the chunk
it is writing. A body refused on the way (malformed, or one item too many) leaves nothing staged.
"""

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from django.test import override_settings
from django_redis import get_redis_connection

from asgi_demo.contracts.models import Contract
from django_bulk_drf import background, tasks
from django_bulk_drf.operations import get_operation_store
from tests.conftest import contract_item
from tests.fixtures.operations import staged_operation

BULK_URL = "/api/contracts/bulk/"
PART = 64 * 1024
COLUMNS = ("contract_number", "year", "amount", "customer")


def rows(count: int, prefix: str) -> list[dict]:
    return [
        {
            "contract_number": f"{prefix}{index:07d}",
            "year": 2020 + index % 5,
            "amount": f"{index % 100_000}.{index % 100:02d}",
            "customer": f"Customer {index % 1000}",
        }
        for index in range(count)
    ]


def json_body(items: list[dict]) -> bytes:
    return orjson.dumps(items)


def ndjson_body(items: list[dict]) -> bytes:
    return b"\n".join(orjson.dumps(item) for item in items) + b"\n"


def csv_body(items: list[dict]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows([item[column] for column in COLUMNS] for item in items)
    return text.getvalue().encode()


BODIES = {
    "application/json": json_body,
    "application/x-ndjson": ndjson_body,
    "text/csv": csv_body,
}


def in_parts(body: bytes) -> Iterator[bytes]:
    """The body as a client streams it: parts of 64 KB, no ``Content-Length``."""
    for start in range(0, len(body), PART):
        yield body[start : start + PART]


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def operation_ids() -> set[str]:
    """The operations the test Redis holds anything of (record, staged chunks, claimed keys)."""
    keys = get_redis_connection("default").scan_iter("bulkdrf:op:*")
    return {key.decode().split(":")[2] for key in keys}


# -- a served demo: 200,000 rows streamed in parts ---------------------------------------------

ROWS = 200_000


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(600)
def test_a_200k_row_body_streamed_in_parts_is_written_once_in_bounded_server_memory(
    fault_processes,
):
    env = {"REDIS_URL": fault_processes.redis("stream").url(), "BULK_DRF_MAX_RECORDS": str(ROWS)}
    server = fault_processes.server("stream", **env)
    fault_processes.worker("stream", **env)
    client = fault_processes.client(server)
    client.http.timeout = 120
    for number, (media_type, encode) in enumerate(BODIES.items()):  # warm up: every reader
        accepted = client.start(
            "POST",
            BULK_URL,
            content=in_parts(encode(rows(300, f"W{number}-"))),
            headers={"Content-Type": media_type},
        )
        warm = client.wait_until_ended(accepted["task_id"])
        assert warm["created_count"] == 300, warm

    for media_type, encode in BODIES.items():
        Contract.objects.all().delete()
        body = encode(rows(ROWS, "S"))
        baseline = memory_kb(server.process.pid, "VmRSS")
        Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

        accepted = client.start(
            "POST", BULK_URL, content=in_parts(body), headers={"Content-Type": media_type}
        )
        growth_kb = memory_kb(server.process.pid, "VmHWM") - baseline
        status = client.wait_until_ended(accepted["task_id"], timeout=400)

        assert accepted["total_items"] == ROWS
        assert status["status"] == "completed", status
        assert (status["created_count"], status["error_count"]) == (ROWS, 0)
        assert status["progress"]["processed"] == ROWS
        assert Contract.objects.count() == ROWS
        assert Contract.objects.values("contract_number").distinct().count() == ROWS
        assert growth_kb * 1024 < len(body) / 2, (
            f"{media_type}: the server grew by {growth_kb / 1024:.1f} MB "
            f"for a body of {len(body) / 1e6:.1f} MB"
        )


# -- keys across the payload, no payload loaded whole ------------------------------------------


class StoreReads:
    """The chunks the store gives this process (``load_chunk``, ``record_and_chunk(s)``): which,
    whether during the planning, and the most held at once (read and not yet reported)."""

    def __init__(self, monkeypatch) -> None:
        self.loaded: list[int] = []
        self.held: set[int] = set()
        self.most_held = 0
        self.loaded_while_planning: list[int] = []
        self.planning = False
        store = type(get_operation_store())
        load, read_both, report = store.load_chunk, store.record_and_chunk, store.report_chunk
        read_batch, report_batch = store.record_and_chunks, store.report_chunks

        def loaded(index: int) -> None:
            (self.loaded_while_planning if self.planning else self.loaded).append(index)
            self.held.add(index)
            self.most_held = max(self.most_held, len(self.held))

        def load_chunk(store_self, operation_id, index):
            loaded(index)
            return load(store_self, operation_id, index)

        def record_and_chunk(store_self, operation_id, index):
            loaded(index)
            return read_both(store_self, operation_id, index)

        def report_chunk(store_self, operation_id, index, chunk_report):
            self.held.discard(index)
            return report(store_self, operation_id, index, chunk_report)

        def record_and_chunks(store_self, operation_id, indexes):
            record, chunks = read_batch(store_self, operation_id, indexes)
            for index, chunk in zip(indexes, chunks, strict=True):
                if chunk is not None:
                    loaded(index)
            return record, chunks

        def report_chunks(store_self, operation_id, reports):
            self.held.difference_update(index for index, _ in reports)
            return report_batch(store_self, operation_id, reports)

        plan = background.plan_operation

        def plan_operation(*args, **kwargs):
            self.planning = True
            try:
                return plan(*args, **kwargs)
            finally:
                self.planning = False

        monkeypatch.setattr(store, "load_chunk", load_chunk)
        monkeypatch.setattr(store, "record_and_chunk", record_and_chunk)
        monkeypatch.setattr(store, "record_and_chunks", record_and_chunks)
        monkeypatch.setattr(store, "report_chunks", report_chunks)
        monkeypatch.setattr(store, "report_chunk", report_chunk)
        monkeypatch.setattr(background, "plan_operation", plan_operation)


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_key_in_the_last_of_50_chunks_fails_the_later_item_without_loading_the_payload(
    monkeypatch,
):
    items = [contract_item(f"D{index}") for index in range(500)]
    items[495] = contract_item("D3", customer="the later one")
    operation_id = staged_operation(items, chunk_size=10)
    reads = StoreReads(monkeypatch)

    with override_settings(BULK_DRF_USE_OPTIMIZED_TASKS=False):  # every task in this process
        tasks.run_operation.apply(args=[operation_id]).get()

    status = get_operation_store().status(operation_id)
    assert status["status"] == "completed"
    assert (status["created_count"], status["error_count"]) == (499, 1)
    assert status["errors"] == [
        {
            "index": 495,
            "errors": {
                "non_field_errors": ["The fields contract_number, year must make a unique set."]
            },
        }
    ]
    assert Contract.objects.get(contract_number="D3").customer == "Customer D3"
    assert reads.loaded_while_planning == []
    assert sorted(reads.loaded) == list(range(50))  # each chunk once
    assert reads.most_held <= 1_000 // 10  # one batch (BULK_DRF_BATCH_SIZE rows) at a time


@pytest.mark.django_db(transaction=True)
def test_the_keys_claimed_while_staging_are_forgotten_once_the_operation_exists():
    operation_id = staged_operation([contract_item(f"F{index}") for index in range(30)])

    assert not get_redis_connection("default").exists(f"bulkdrf:op:{operation_id}:claims")
    get_operation_store().fail(operation_id, "The test staged it only.")


# -- refused on the way: nothing staged --------------------------------------------------------


async def in_async_parts(body: bytes):
    for part in in_parts(body):
        yield part


BROKEN_ITEM = b'{"contract_number": "M", "year": 2024,, "amount": "1"}'


def malformed_at(index: int, media_type: str, count: int) -> tuple[bytes, dict]:
    """A body of ``count`` items whose item ``index`` is malformed, and where the answer must
    say it is."""
    items = rows(count, "M")
    if media_type == "application/json":
        encoded = [orjson.dumps(item) for item in items]
        encoded[index] = BROKEN_ITEM
        before = len(b"[" + b",".join(encoded[:index]) + b",")
        body = b"[" + b",".join(encoded) + b"]"
        return body, {"item": index, "byte": before + BROKEN_ITEM.index(b",,") + 1}
    if media_type == "application/x-ndjson":
        lines = ndjson_body(items).split(b"\n")
        lines[index] = b'{"contract_number": "M", "year": }'
        return b"\n".join(lines), {"line": index + 1}
    lines = csv_body(items).split(b"\r\n")
    lines[index + 1] += b",one cell too many"
    return b"\r\n".join(lines), {"line": index + 2}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("media_type", list(BODIES))
async def test_malformed_input_mid_stream_is_a_400_naming_where_and_nothing_is_staged(
    api, media_type
):
    body, position = malformed_at(150_000, media_type, 200_000)
    before = operation_ids()

    with override_settings(BULK_DRF_MAX_RECORDS=200_000):
        response = await api.post(
            BULK_URL, content=in_async_parts(body), headers={"Content-Type": media_type}
        )

    assert response.status_code == 400, response.text
    answer = response.json()
    assert {key: answer.get(key) for key in position} == position
    assert str(next(iter(position.values()))) in answer["detail"]
    assert operation_ids() - before == set()  # none staged for it


@pytest.mark.django_db(transaction=True)
async def test_one_item_past_max_records_is_a_413_before_the_rest_of_the_body_is_read(api):
    items = rows(20_001, "X")
    before = operation_ids()

    json_type = {"Content-Type": "application/json"}

    with override_settings(BULK_DRF_MAX_RECORDS=20_000):
        refused = await api.post(BULK_URL, content=json_body(items), headers=json_type)
        # The rest of a longer body is never parsed: malformed at its end, still a 413.
        unread = json_body(rows(30_000, "X"))[:-1] + b", {not even JSON"
        refused_early = await api.post(BULK_URL, content=in_async_parts(unread), headers=json_type)

    for response in (refused, refused_early):
        assert response.status_code == 413, response.text
        assert response.json()["max_records"] == 20_000
    assert operation_ids() - before == set()  # none staged for it
    assert not await Contract.objects.filter(contract_number__startswith="X").aexists()
