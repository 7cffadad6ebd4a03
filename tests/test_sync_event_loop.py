"""A sync bulk request does its database work off the event loop, which keeps answering other
requests meanwhile. ``/test-api/slow-contracts/`` notes the thread of its bulk create and sleeps,
or waits until the test lets it go."""

import asyncio
import contextlib
import threading
import time

import pytest

from tests.conftest import CONTRACTS_URL
from tests.testapp.views import HOLD_LIMIT, SlowContractViewSet

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_URL = "/test-api/slow-contracts/"


@pytest.fixture
def write_threads():
    """The threads the slow viewset's bulk creates ran on during the test."""
    SlowContractViewSet.write_threads.clear()
    yield SlowContractViewSet.write_threads
    SlowContractViewSet.write_threads.clear()


@pytest.fixture
def held_write(write_threads):
    """The slow viewset's bulk create, held until the test sets the returned event."""
    hold = threading.Event()
    SlowContractViewSet.hold = hold
    SlowContractViewSet.released.clear()
    yield hold
    hold.set()
    SlowContractViewSet.hold = None
    SlowContractViewSet.released.clear()


async def until(condition, timeout: float = HOLD_LIMIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.005)


async def test_bulk_request_database_work_runs_off_the_event_loop_thread(
    api, query_counter, contract_items, write_threads
):
    loop_thread = threading.get_ident()

    response = await api.post(SLOW_URL, json=contract_items(3))

    assert response.status_code == 201
    assert len(write_threads) == 1
    assert write_threads[0] != loop_thread
    assert query_counter.by_alias["default"] > 0
    assert loop_thread not in query_counter.threads


@pytest.mark.parametrize(
    "fast_request",
    ["detail", "multi-get"],
)
async def test_event_loop_answers_another_request_while_a_bulk_write_runs(
    api, saved_contracts, contract_items, write_threads, held_write, fast_request
):
    (stored,) = await saved_contracts(1)
    fast_url = {
        "detail": f"{CONTRACTS_URL}{stored.pk}/",
        "multi-get": f"{CONTRACTS_URL}?ids={stored.pk}",
    }[fast_request]

    slow = asyncio.create_task(api.post(SLOW_URL, json=contract_items(2)))
    await until(lambda: write_threads)
    fast = await api.get(fast_url)
    answered_while_writing = not slow.done()
    held_write.set()
    slow = await slow

    assert (slow.status_code, fast.status_code) == (201, 200)
    assert answered_while_writing
    assert SlowContractViewSet.released == [True]


async def test_event_loop_keeps_ticking_during_a_bulk_write(
    api, contract_items, write_threads, held_write
):
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += bool(write_threads)  # the ticks while the write is under way
            if ticks == 10:
                held_write.set()  # a blocked loop would not tick: the write would wait in vain

    beating = asyncio.create_task(heartbeat())
    response = await api.post(SLOW_URL, json=contract_items(2))
    beating.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beating

    assert response.status_code == 201
    assert SlowContractViewSet.released == [True]
