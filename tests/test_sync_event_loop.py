"""A sync bulk request does its database work off the event loop, which keeps answering other
requests meanwhile. ``/test-api/slow-contracts/`` notes the thread of its bulk create and sleeps."""

import asyncio
import threading
import time

import pytest

from tests.conftest import CONTRACTS_URL
from tests.testapp.views import SlowContractViewSet

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_URL = "/test-api/slow-contracts/"


@pytest.fixture
def write_threads():
    """The threads the slow viewset's bulk creates ran on during the test."""
    SlowContractViewSet.write_threads.clear()
    yield SlowContractViewSet.write_threads
    SlowContractViewSet.write_threads.clear()


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
    api, saved_contracts, contract_items, write_threads, fast_request
):
    (stored,) = await saved_contracts(1)
    fast_url = {
        "detail": f"{CONTRACTS_URL}{stored.pk}/",
        "multi-get": f"{CONTRACTS_URL}?ids={stored.pk}",
    }[fast_request]
    finished: dict[str, float] = {}

    async def timed(name: str, request):
        response = await request
        finished[name] = time.monotonic()
        return response

    async def fast_after_slow_started():
        while not write_threads:
            await asyncio.sleep(0.005)
        return await api.get(fast_url)

    slow, fast = await asyncio.gather(
        timed("slow", api.post(SLOW_URL, json=contract_items(2))),
        timed("fast", fast_after_slow_started()),
    )

    assert (slow.status_code, fast.status_code) == (201, 200)
    assert finished["fast"] < finished["slow"]
    assert finished["slow"] - finished["fast"] > SlowContractViewSet.write_delay / 5


async def test_event_loop_keeps_ticking_during_a_bulk_write(api, contract_items, write_threads):
    ticks = 0
    done = asyncio.Event()

    async def heartbeat():
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.02)
            ticks += 1

    beating = asyncio.create_task(heartbeat())
    started = time.monotonic()
    response = await api.post(SLOW_URL, json=contract_items(2))
    elapsed = time.monotonic() - started
    done.set()
    await beating

    assert response.status_code == 201
    assert elapsed >= SlowContractViewSet.write_delay
    # A blocked loop would not tick at all while the write sleeps.
    assert ticks >= (SlowContractViewSet.write_delay / 0.02) / 2
