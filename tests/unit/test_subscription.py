"""``progress.Subscription``: one local client's view of an operation's published states. It keeps
only the newest state not taken yet, never goes back to an older one, wakes a waiting ``next``
and answers None after a silence, watched by one timer re-armed only when it fires."""

import asyncio
from dataclasses import replace

from django_bulk_drf.progress import Subscription
from tests.fixtures.records import operation_record

RECORD = operation_record()


def state(seq: int):
    return replace(RECORD, seq=seq, processed=seq)


async def test_next_takes_the_newest_state_delivered_since_the_last_one():
    subscription = Subscription(RECORD.task_id)
    for seq in (1, 2, 3):
        subscription.deliver(state(seq))

    assert (await subscription.next()).seq == 3
    subscription.deliver(state(4))
    assert (await subscription.next()).seq == 4


async def test_an_older_state_delivered_late_is_dropped():
    subscription = Subscription(RECORD.task_id)
    subscription.deliver(state(5))
    subscription.deliver(state(3))
    subscription.deliver(state(5))

    assert (await subscription.next()).seq == 5
    assert subscription.pending is None


async def test_a_waiting_next_is_woken_by_a_delivery():
    subscription = Subscription(RECORD.task_id)
    waiting = asyncio.create_task(subscription.next(timeout=60))
    while subscription.waiter is None:
        await asyncio.sleep(0)

    subscription.deliver(state(1))

    assert (await waiting).seq == 1
    assert subscription.waiter is None
    subscription.close()


async def test_next_answers_none_after_a_silence_then_waits_again():
    subscription = Subscription(RECORD.task_id)

    assert await subscription.next(timeout=0.01) is None
    subscription.deliver(state(2))
    assert (await subscription.next(timeout=0.01)).seq == 2
    assert await subscription.next(timeout=0.01) is None
    subscription.close()


async def test_one_timer_watches_the_silence_across_calls():
    subscription = Subscription(RECORD.task_id)
    taken = []

    async def deliver_each(count: int) -> None:
        for seq in range(1, count + 1):
            while subscription.waiter is None:
                await asyncio.sleep(0)
            subscription.deliver(state(seq))
            await asyncio.sleep(0)

    delivering = asyncio.create_task(deliver_each(20))
    timer = None
    for _ in range(20):
        taken.append((await subscription.next(timeout=60)).seq)
        timer = timer or subscription.timer
        assert subscription.timer is timer  # armed once, not once per message
    await delivering

    assert taken == list(range(1, 21))
    subscription.close()
    assert subscription.timer is None
    assert timer.cancelled()


async def test_a_closed_subscription_no_longer_watches_the_silence():
    subscription = Subscription(RECORD.task_id)
    waiting = asyncio.create_task(subscription.next(timeout=0.05))
    while subscription.waiter is None:
        await asyncio.sleep(0)

    subscription.close()
    await asyncio.sleep(0.1)

    assert not waiting.done()  # no silence watched: it waits for a state
    subscription.deliver(state(1))
    assert (await waiting).seq == 1
