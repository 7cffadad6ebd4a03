"""Redis restarted without persistence in the middle of an operation.

The operation record, its staged payload and the broker's queue are gone with it, so the operation
cannot go on; what the database committed is known from the chunk ledger, which also keeps a copy
of the record. The status endpoint, the WebSocket and the worker rebuild the record from it: the
operation ends ``completed`` (every chunk had committed) or ``failed`` with the committed counts and
ids, never a row written twice, never a 500 or a socket left hanging.
"""

import asyncio
import threading
import time
from typing import Any

import httpx
import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.models import Count
from django_redis import get_redis_connection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from asgi_demo.asgi import application
from asgi_demo.contracts.models import Contract
from django_bulk_drf import background, tasks
from django_bulk_drf.models import ChunkLedger
from django_bulk_drf.operations import Status, get_operation_store
from django_bulk_drf.operations.redis import record_key
from tests.conftest import contract_item
from tests.fixtures.faults import TERMINAL, wait_for
from tests.fixtures.operations import staged_operation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def wipe_operation(operation_id: str) -> None:
    """What a Redis restart without persistence leaves of an operation: nothing."""
    redis = get_redis_connection("default")
    redis.delete(*redis.keys(f"{record_key(operation_id)}*"))


def committed_ids() -> set[int]:
    return set(Contract.objects.values_list("id", flat=True))


def started_create(count: int, chunk_size: int) -> str:
    """A create planned as the first task plans it; no chunk has run."""
    items = [contract_item(f"R{index}") for index in range(count)]
    operation_id = staged_operation(items, chunk_size=chunk_size)
    background.plan_operation(operation_id)
    return operation_id


async def test_a_lost_record_is_rebuilt_from_the_ledger_by_the_status_endpoint(api):
    operation_id = await sync_to_async(started_create)(30, 10)
    for index in (0, 1):
        await sync_to_async(background.process_chunk)(operation_id, index)
    await sync_to_async(wipe_operation)(operation_id)

    response = await api.get(f"/api/operations/{operation_id}/status/")

    assert response.status_code == 200, response.text
    status = response.json()
    assert status["status"] == "failed"
    assert (status["created_count"], status["progress"]["processed"]) == (20, 20)
    assert "2 of 3 chunk(s), 20 created, 0 updated, 0 deleted" in status["message"]
    assert set(status["result"]["created_ids"]) == await sync_to_async(committed_ids)()


async def test_a_chunk_that_finds_its_record_gone_ends_the_operation_and_writes_nothing(api):
    operation_id = await sync_to_async(started_create)(30, 10)
    await sync_to_async(background.process_chunk)(operation_id, 0)
    await sync_to_async(wipe_operation)(operation_id)

    await sync_to_async(tasks.process_chunk.apply)(args=(operation_id, 1))

    record = await sync_to_async(get_operation_store().record)(operation_id)
    assert (record.status, record.created_count) == (Status.FAILED, 10)
    assert await Contract.objects.acount() == 10
    assert await ChunkLedger.objects.filter(chunk_index__gte=0).acount() == 1


async def test_the_websocket_of_a_lost_record_gets_the_rebuilt_end(api):
    operation_id = await sync_to_async(started_create)(20, 10)
    for index in (0, 1):
        await sync_to_async(background.process_chunk)(operation_id, index)
    await sync_to_async(wipe_operation)(operation_id)
    socket = WebsocketCommunicator(
        application, f"/ws/operations/{operation_id}/", headers=[(b"origin", b"http://testserver")]
    )

    connected, _ = await socket.connect()
    message = await socket.receive_json_from(timeout=30)
    closing = await socket.receive_output(timeout=30)

    assert connected
    assert (message["type"], message["status"], message["created_count"]) == (
        "operation.status",
        "completed",
        20,
    )
    assert closing == {"type": "websocket.close", "code": 1000}


async def test_an_operation_that_never_started_is_404_once_its_record_is_lost(api):
    operation_id = await sync_to_async(staged_operation)([contract_item("N0")])
    await sync_to_async(wipe_operation)(operation_id)

    response = await api.get(f"/api/operations/{operation_id}/status/")

    assert response.status_code == 404


def follow_in_thread(server, operation_id: str) -> tuple[threading.Thread, dict[str, Any]]:
    """A WebSocket client following the operation from a thread of its own: its messages and
    close code land in the returned dict."""
    seen: dict[str, Any] = {"messages": [], "code": None}

    async def follow() -> None:
        url = f"{server.ws_url}/ws/operations/{operation_id}/"
        async with connect(url, origin=server.http_url) as socket:
            try:
                async for raw in socket:
                    seen["messages"].append(orjson.loads(raw))
            except ConnectionClosed:
                pass
            seen["code"] = socket.close_code

    thread = threading.Thread(target=lambda: asyncio.run(asyncio.wait_for(follow(), 60)))
    thread.start()
    return thread, seen


@pytest.mark.slow
def test_redis_restarted_mid_operation_ends_it_with_exactly_what_was_committed(fault_processes):
    store = fault_processes.redis("store")
    env = {"REDIS_URL": store.url(), "BULK_DRF_PROGRESS_UPDATE_INTERVAL": "1"}
    server = fault_processes.server("redis", **env)
    fault_processes.worker("redis", **env)
    client = fault_processes.client(server)
    items = [contract_item(f"S{index}") for index in range(3_000)]
    # Each chunk takes half a second inside its transaction: the crash lands mid-chunk.
    task_id = client.start("POST", "/test-api/slow-contracts/bulk/", json=items)["task_id"]
    client.wait_for_progress(task_id, 300)
    follower, seen = follow_in_thread(server, task_id)
    wait_for(lambda: seen["messages"], timeout=30)

    store.kill()
    during = client.http.get(f"/api/operations/{task_id}/status/")
    store.start()
    status = client.wait_until_ended(task_id, timeout=90)
    follower.join(timeout=60)
    # A chunk that was committing at the crash may report after the rebuild: let it land.
    wait_for(ledger_settled, timeout=60)
    status = client.status(task_id)

    assert during.status_code == 503, during.text
    assert status["status"] in TERMINAL, status
    rows = Contract.objects.count()
    assert status["created_count"] == rows
    assert set(client.results(task_id, "created")) == committed_ids()
    duplicates = Contract.objects.values("contract_number").annotate(n=Count("id")).filter(n__gt=1)
    assert list(duplicates) == []
    if status["status"] == "failed":
        assert rows < len(items)
        assert f"{rows} created" in status["message"]
    else:
        assert rows == len(items)
    assert not follower.is_alive(), "the WebSocket client hangs"
    # The socket that followed the operation through the crash got the rebuilt end.
    assert (seen["code"], seen["messages"][-1]["status"]) == (1000, status["status"]), seen
    with httpx.Client(base_url=server.http_url) as http:
        assert http.get(f"/api/operations/{task_id}/status/").status_code == 200
    late, late_seen = follow_in_thread(server, task_id)
    late.join(timeout=60)
    assert (late_seen["code"], late_seen["messages"][-1]["status"]) == (1000, status["status"])


def ledger_settled() -> bool:
    """No chunk committed for three seconds, six times what a chunk takes: the worker is done
    with the crashed operation."""
    before = ChunkLedger.objects.count()
    time.sleep(3.0)
    return ChunkLedger.objects.count() == before
