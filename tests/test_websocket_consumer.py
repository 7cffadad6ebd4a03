"""The operation WebSocket against the ASGI application, with Channels' WebsocketCommunicator.

Operations are created with the store and moved on by reporting chunks from a thread, as a worker
does: real Redis pub/sub, no worker needed.
"""

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django_redis import get_redis_connection

from asgi_demo.asgi import application
from django_bulk_drf.operations import get_operation_store, new_operation_id
from django_bulk_drf.operations.redis import record_key
from django_bulk_drf.progress import operation_events
from tests.fixtures.progress import (
    CHUNK,
    PATIENCE,
    Communicator,
    report_chunk,
    start_operation,
    subscriber_count,
    wait_for_subscribers,
)

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture
async def open_socket():
    """Factory of connected communicators: ``await open_socket(operation_id, headers=[...])``;
    disconnects them all at the end."""
    opened: list[Communicator] = []

    async def connect(operation_id: str, headers=(ORIGIN,)) -> Communicator:
        communicator = Communicator(
            application, f"/ws/operations/{operation_id}/", headers=list(headers)
        )
        opened.append(communicator)
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    yield connect
    for communicator in opened:
        await communicator.disconnect()
    await sync_to_async(connections.close_all)()
    await wait_until_idle(operation_events())


async def wait_until_idle(hub, timeout: float = PATIENCE) -> None:
    """Every socket gone: no subscriber, no reader task, no Redis connection left behind."""
    deadline = asyncio.get_running_loop().time() + timeout
    while hub.subscribers or getattr(hub, "reader", None) or getattr(hub, "pubsub", None):
        assert asyncio.get_running_loop().time() < deadline, "the progress hub is still busy"
        await asyncio.sleep(0.02)


async def close_code(communicator: Communicator) -> int:
    message = await communicator.receive_output()
    assert message["type"] == "websocket.close", message
    return message["code"]


async def test_first_message_is_the_status_snapshot(open_socket):
    operation_id = start_operation()
    await report_chunk(operation_id, 0)

    socket = await open_socket(operation_id)
    snapshot = await socket.receive_json_from()

    expected = await sync_to_async(get_operation_store().status)(operation_id)
    assert snapshot == {"type": "operation.status", **expected}
    assert snapshot["seq"] == 1
    assert snapshot["progress"] == {"processed": 10, "total": 30, "percent": 33.3}


async def test_each_chunk_is_pushed_then_the_end_with_the_full_status_and_close_1000(open_socket):
    operation_id = start_operation()
    socket = await open_socket(operation_id)
    assert (await socket.receive_json_from())["seq"] == 0

    await report_chunk(operation_id, 0, errors=2)
    progress = await socket.receive_json_from()
    assert progress["type"] == "operation.progress"
    assert progress["seq"] == 1
    assert progress["status"] == "running"
    assert progress["progress"] == {"processed": 10, "total": 30, "percent": 33.3}
    assert (progress["created_count"], progress["error_count"]) == (8, 2)
    assert "result" not in progress and "errors" not in progress

    await report_chunk(operation_id, 1)
    assert (await socket.receive_json_from())["progress"]["processed"] == 20

    await report_chunk(operation_id, 2)
    end = await socket.receive_json_from()
    assert end["type"] == "operation.completed"
    assert end["seq"] == 3
    assert end["status"] == "completed" and end["state"] == "SUCCESS"
    assert end["created_count"] == 28 and end["error_count"] == 2
    assert end["result"]["created_ids"] == [*range(2, 10), *range(10, 30)]
    assert end["errors"] == [
        {"index": 0, "errors": {"amount": ["Bad."]}},
        {"index": 1, "errors": {"amount": ["Bad."]}},
    ]
    assert await close_code(socket) == 1000


async def test_a_failed_operation_ends_with_operation_failed(open_socket):
    operation_id = start_operation()
    socket = await open_socket(operation_id)
    await socket.receive_json_from()

    await report_chunk(operation_id, 0)
    await asyncio.to_thread(get_operation_store().fail, operation_id, "The broker went away.")

    messages = [await socket.receive_json_from()]
    while messages[-1]["type"] == "operation.progress":  # unless the end came first: conflated
        messages.append(await socket.receive_json_from())
    end = messages[-1]
    assert end["type"] == "operation.failed" and end["seq"] == 2
    assert end["message"] == "The broker went away."
    assert end["result"]["created_ids"] == list(range(10))
    assert await close_code(socket) == 1000


async def test_a_client_connecting_after_the_end_gets_the_final_state_once_and_close_1000(
    open_socket,
):
    operation_id = start_operation(chunks=1)
    await report_chunk(operation_id, 0)

    socket = await open_socket(operation_id)
    final = await socket.receive_json_from()

    assert final["type"] == "operation.status"
    assert final["status"] == "completed" and final["seq"] == 1
    assert final["result"]["created_ids"] == list(range(10))
    assert await close_code(socket) == 1000
    await wait_for_subscribers(operation_id, 0)


@pytest.mark.parametrize(
    "operation_path",
    [pytest.param(new_operation_id(), id="unknown"), "not-a-uuid", "1' OR '1'='1", "%00"],
)
async def test_an_unknown_or_malformed_operation_closes_4404(open_socket, operation_path):
    socket = await open_socket(operation_path)
    assert await close_code(socket) == 4404


async def test_another_users_operation_closes_4404(open_socket, alice, bob):
    operation_id = start_operation(owner_id=alice.user.pk)
    socket = await open_socket(operation_id, headers=[ORIGIN, token_header(bob)])
    assert await close_code(socket) == 4404


async def test_a_users_operation_without_a_user_closes_4401(open_socket, alice):
    operation_id = start_operation(owner_id=alice.user.pk)
    socket = await open_socket(operation_id)
    assert await close_code(socket) == 4401


async def test_an_invalid_token_counts_as_no_user(open_socket, alice):
    operation_id = start_operation(owner_id=alice.user.pk)
    socket = await open_socket(operation_id, headers=[ORIGIN, (b"authorization", b"Token nope")])
    assert await close_code(socket) == 4401


async def test_the_owner_is_known_by_token(open_socket, alice):
    operation_id = start_operation(owner_id=alice.user.pk)
    socket = await open_socket(operation_id, headers=[ORIGIN, token_header(alice)])
    assert (await socket.receive_json_from())["type"] == "operation.status"


async def test_the_owner_is_known_by_session_cookie(open_socket):
    user = await sync_to_async(get_user_model().objects.create_user)("carol", password="unused")
    browser = Client()
    await sync_to_async(browser.force_login)(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    operation_id = start_operation(owner_id=user.pk)

    socket = await open_socket(operation_id, headers=[ORIGIN, (b"cookie", cookie)])

    assert (await socket.receive_json_from())["type"] == "operation.status"


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_an_origin_outside_allowed_hosts_is_refused(origin):
    operation_id = start_operation()
    headers = [(b"origin", origin)] if origin else []
    communicator = Communicator(application, f"/ws/operations/{operation_id}/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()  # the client is gone too: the application ends


async def test_many_sockets_on_one_operation_share_one_redis_subscription(open_socket):
    operation_id = start_operation()
    sockets = [await open_socket(operation_id) for _ in range(5)]
    for socket in sockets:
        await socket.receive_json_from()
    assert subscriber_count(operation_id) == 1

    await report_chunk(operation_id, 0)
    for socket in sockets:
        assert (await socket.receive_json_from())["seq"] == 1

    for socket in sockets:
        await socket.disconnect()
    await wait_for_subscribers(operation_id, 0)
    # The reader task ends, and closes the connection, once Redis confirms the last UNSUBSCRIBE.
    await wait_until_idle(operation_events())


async def test_no_state_is_repeated_or_reordered_and_the_end_always_arrives(open_socket):
    chunks, latecomers = 40, 2
    operation_id = start_operation(chunks=chunks)
    halfway, latecomers_in = asyncio.Event(), asyncio.Event()
    joined: list[int] = []

    async def worker():
        for index in range(chunks):
            if index == chunks // 2:  # some clients join mid-stream, whatever the machine's pace
                halfway.set()
                await asyncio.wait_for(latecomers_in.wait(), PATIENCE)
            await report_chunk(operation_id, index)
            await asyncio.sleep(0.005)

    async def follow(joining=None) -> list[dict]:
        socket = await open_socket(operation_id)
        messages = [await socket.receive_json_from()]
        if joining:
            joining(messages[0])
        while messages[-1]["status"] != "completed":
            messages.append(await socket.receive_json_from())
        assert await close_code(socket) == 1000
        return messages

    async def early(delay: float) -> list[dict]:
        await asyncio.sleep(delay)
        return await follow()

    def latecomer_joined(snapshot: dict) -> None:
        joined.append(snapshot["seq"])
        if len(joined) == latecomers:
            latecomers_in.set()

    async def late() -> list[dict]:
        await halfway.wait()
        return await follow(latecomer_joined)

    _, *streams = await asyncio.gather(
        worker(), *(early(i * 0.02) for i in range(10)), *(late() for _ in range(latecomers))
    )

    for messages in streams:
        seqs = [message["seq"] for message in messages]
        # Strictly increasing, to the end; a state may be skipped when a newer one has arrived.
        assert seqs == sorted(set(seqs)) and seqs[-1] == chunks
        assert messages[0]["type"] == "operation.status"
        assert messages[-1]["result"]["created_ids"] == list(range(chunks * CHUNK))
    assert joined == [chunks // 2] * latecomers  # joined mid-stream: the snapshot of that moment


class HeldBack:
    """The application as a client that stops reading sees it: while ``reading`` is clear, the
    server's ``websocket.send`` waits, as uvicorn's does once the socket's buffers are full."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.reading.set()

    async def __call__(self, scope, receive, send):
        async def send_when_read(message):
            if message["type"] == "websocket.send":
                await self.reading.wait()
            await send(message)

        await application(scope, receive, send_when_read)


async def test_a_client_held_back_gets_the_newest_state_then_the_end_and_delays_nobody(
    open_socket,
):
    chunks = 40
    operation_id = start_operation(chunks=chunks)
    held_back = HeldBack()
    held = Communicator(held_back, f"/ws/operations/{operation_id}/", headers=[ORIGIN])
    assert (await held.connect())[0]
    assert (await held.receive_json_from())["seq"] == 0
    others = [await open_socket(operation_id) for _ in range(3)]
    for socket in others:
        await socket.receive_json_from()

    held_back.reading.clear()  # from here on, the held client reads nothing
    for index in range(chunks - 1):
        await report_chunk(operation_id, index)
        for socket in others:  # each of the others gets every state at once
            assert (await socket.receive_json_from())["seq"] == index + 1
    newest = chunks - 1
    held_back.reading.set()
    stuck = await held.receive_json_from()  # the state it was being sent when it stopped reading
    caught_up = await held.receive_json_from()
    await report_chunk(operation_id, chunks - 1)
    end = await held.receive_json_from()

    assert 0 < stuck["seq"] < newest
    assert (caught_up["type"], caught_up["seq"]) == ("operation.progress", newest)
    assert caught_up["progress"]["processed"] == newest * CHUNK
    assert (end["type"], end["seq"]) == ("operation.completed", chunks)
    assert await close_code(held) == 1000
    for socket in others:
        assert (await socket.receive_json_from())["seq"] == chunks
    await held.disconnect()


async def test_a_lost_event_is_recovered_by_the_periodic_reread(open_socket, settings):
    settings.BULK_DRF_PROGRESS_UPDATE_INTERVAL = 0.2
    operation_id = start_operation()
    socket = await open_socket(operation_id)
    await socket.receive_json_from()

    # A change whose pub/sub message never arrived (a Redis restart, a dropped connection).
    redis = get_redis_connection("default")
    redis.hset(record_key(operation_id), mapping={"processed": "10", "seq": "1"})

    recovered = await socket.receive_json_from()
    assert recovered["type"] == "operation.progress"
    assert (recovered["seq"], recovered["progress"]["processed"]) == (1, 10)
    assert await socket.receive_nothing(timeout=0.6)  # re-read, unchanged: nothing sent twice

    redis.delete(record_key(operation_id))
    assert await close_code(socket) == 4404


async def test_a_dropped_redis_connection_is_resubscribed_and_the_stream_goes_on(
    open_socket, settings
):
    settings.BULK_DRF_PROGRESS_UPDATE_INTERVAL = 0.3
    operation_id = start_operation(chunks=3)
    socket = await open_socket(operation_id)
    messages = [await socket.receive_json_from()]
    redis = get_redis_connection("default")
    [hub_connection] = [
        client
        for client in redis.client_list(_type="pubsub")
        if client["name"] == f"bulk-drf-progress-{os.getpid()}"
    ]

    redis.client_kill_filter(_id=hub_connection["id"])
    await report_chunk(operation_id, 0)  # published while nobody listens: lost
    await wait_for_subscribers(operation_id, 1)
    await report_chunk(operation_id, 1)
    await report_chunk(operation_id, 2)
    while messages[-1]["status"] != "completed":
        messages.append(await socket.receive_json_from())

    seqs = [message["seq"] for message in messages]
    assert seqs == sorted(set(seqs)) and seqs[-1] == 3
    assert messages[-1]["result"]["created_ids"] == list(range(30))
    assert await close_code(socket) == 1000


async def test_disconnecting_mid_operation_unsubscribes(open_socket):
    operation_id = start_operation()
    socket = await open_socket(operation_id)
    await socket.receive_json_from()
    assert subscriber_count(operation_id) == 1

    await socket.disconnect()

    await wait_for_subscribers(operation_id, 0)
    assert operation_events().subscribers == {}


async def test_embedded_mode_pushes_the_in_process_stores_events(open_socket, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    operation_id = start_operation(chunks=2)
    socket = await open_socket(operation_id)
    assert (await socket.receive_json_from())["type"] == "operation.status"

    await report_chunk(operation_id, 0)
    assert (await socket.receive_json_from())["progress"]["processed"] == 10
    await report_chunk(operation_id, 1)
    end = await socket.receive_json_from()

    assert end["type"] == "operation.completed"
    assert end["result"]["created_ids"] == list(range(20))
    assert await close_code(socket) == 1000
    assert get_operation_store().listeners == []


def token_header(token_user) -> tuple[bytes, bytes]:
    return (b"authorization", token_user.headers["Authorization"].encode())
