"""The operation WebSocket end to end: uvicorn and a Celery worker in processes of their own, on
PostgreSQL and Redis, followed with the ``websockets`` client as any program would."""

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from django_bulk_drf.operations import new_operation_id
from tests.conftest import contract_item
from tests.fixtures.progress import (
    report_chunk,
    start_operation,
    subscriber_count,
    wait_for_subscribers,
)

pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = 3000
CHUNK_SIZE = 100  # BULK_DRF_CHUNK_SIZE of the server: the package default


@dataclass
class Stream:
    """What one client saw: the messages, then the close code."""

    messages: list[dict[str, Any]]
    close_code: int | None


def open_socket(server, operation_id: str, origin: str | None = None) -> Any:
    return connect(
        f"{server.ws_url}/ws/operations/{operation_id}/", origin=origin or server.http_url
    )


async def read_all(socket: ClientConnection) -> Stream:
    messages = []
    try:
        async for raw in socket:
            messages.append(orjson.loads(raw))
    except ConnectionClosed:
        pass  # closed with a code other than 1000: the code says why
    return Stream(messages, socket.close_code)


async def follow(server, operation_id: str) -> Stream:
    async with open_socket(server, operation_id) as socket:
        return await asyncio.wait_for(read_all(socket), timeout=60)


async def start_create(server, count: int) -> str:
    """``POST /api/contracts/bulk/`` with ``count`` new contracts; returns the operation id."""
    items = [contract_item(f"WS{index}") for index in range(count)]
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        response = await http.post("/api/contracts/bulk/", json=items)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def assert_complete_stream(stream: Stream) -> dict[str, Any]:
    """A snapshot, progress in order (conflated: states may be skipped, never reordered), the
    exact end, close 1000; returns the final state."""
    snapshot, *live = stream.messages
    assert snapshot["type"] == "operation.status"
    seqs = [message["seq"] for message in stream.messages]
    assert seqs == sorted(set(seqs)), f"seq not strictly increasing: {seqs}"
    processed = [message["progress"]["processed"] for message in stream.messages]
    assert processed == sorted(processed), f"processed went back: {processed}"
    # Each state is whole: its counts are those of chunks counted together, never half of one.
    assert all(count % CHUNK_SIZE == 0 for count in processed)
    assert all(message["type"] == "operation.progress" for message in live[:-1])
    final = stream.messages[-1]
    if live:
        assert final["type"] == "operation.completed"
    assert final["status"] == "completed"
    assert (final["created_count"], final["error_count"]) == (ITEMS, 0)
    assert final["progress"] == {"processed": ITEMS, "total": ITEMS, "percent": 100.0}
    # The status lists the first 1,000 ids; the results endpoint has them all.
    assert len(set(final["result"]["created_ids"])) == 1000
    assert final["result"]["ids_truncated"] is True
    assert stream.close_code == 1000
    return final


async def test_a_client_sees_progress_then_the_exact_end_and_close_1000(asgi_server, celery_worker):
    operation_id = await start_create(asgi_server, ITEMS)

    stream = await follow(asgi_server, operation_id)

    assert_complete_stream(stream)
    assert stream.messages[0]["progress"]["processed"] < ITEMS, "connected after the end"
    assert stream.messages[-1]["type"] == "operation.completed"


async def test_fifty_clients_of_one_operation_see_the_same_end(asgi_server, celery_worker):
    operation_id = await start_create(asgi_server, ITEMS)

    clients = asyncio.gather(*(follow(asgi_server, operation_id) for _ in range(50)))
    subscriptions = set()
    while not clients.done():
        subscriptions.add(await asyncio.to_thread(subscriber_count, operation_id))
        await asyncio.sleep(0.02)
    streams = await clients

    assert subscriptions <= {0, 1} and 1 in subscriptions  # one for the fifty, in one server
    finals = [assert_complete_stream(stream) for stream in streams]
    final_states = {orjson.dumps({**final, "type": None}) for final in finals}
    assert len(final_states) == 1
    await wait_for_subscribers(operation_id, 0)  # the server unsubscribes once it has closed


async def test_clients_leaving_mid_operation_leave_no_redis_subscription(asgi_server):
    operation_id = start_operation(chunks=3)
    sockets = [await open_socket(asgi_server, operation_id).__aenter__() for _ in range(10)]
    for socket in sockets:
        assert orjson.loads(await socket.recv())["type"] == "operation.status"
    assert subscriber_count(operation_id) == 1  # ten clients, one Redis subscription

    for index, socket in enumerate(sockets):
        if index % 2:
            await socket.close()
        else:
            socket.transport.abort()  # gone without a closing handshake
    await wait_for_subscribers(operation_id, 0)

    # The server keeps serving: a newcomer follows the same operation to its end.
    newcomer = asyncio.create_task(follow(asgi_server, operation_id))
    await wait_for_subscribers(operation_id, 1)
    for index in range(3):
        await report_chunk(operation_id, index)
    stream = await newcomer
    types = [message["type"] for message in stream.messages]
    # Progress the newcomer had not been sent when a newer state came may be skipped.
    assert types[0] == "operation.status" and types[-1] == "operation.completed"
    assert set(types[1:-1]) <= {"operation.progress"}
    assert stream.messages[-1]["seq"] == 3
    assert stream.close_code == 1000
    await wait_for_subscribers(operation_id, 0)
    assert asgi_server.running()


async def test_a_client_sees_close_4404_and_the_origin_refusal(asgi_server):
    stream = await follow(asgi_server, new_operation_id())
    assert stream == Stream([], 4404)

    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(asgi_server, new_operation_id(), origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
