"""Which worker holds which task of an operation, and which workers are alive: what the sweeper
needs to take up the work of a worker that died (``recovery.py``), shared by every worker on every
machine.

Each task of a live operation (each chunk, and ``PLANNING`` for its first task) has a holder; a
task that runs several consecutive chunks holds each of them (``hold`` and ``release`` take a
``count``), so that the chunks of a dead worker's run that had not been counted are re-queued,
and those it had counted are not:

- ``QUEUED`` from the moment it is sent to the broker;
- ``<worker>|<task id>|<retries>`` once a worker has received it (a prefetched message, a retry
  waiting for its countdown, a running chunk), until the task returns;
- ``MISSING`` when a sweep found the broker's queue empty and the task still not received: it was
  taken from the queue by a worker that died before it could say so. A later sweep re-queues it.

A live worker renews a heartbeat key with a short expiry; the tasks held by a worker whose heartbeat
has expired are orphans, and so are ``MISSING`` ones. A task that is merely slow keeps its holder
alive, so it is never taken from it. ``<worker>`` names one life of a worker process, not its node
name (``worker_life``): a worker restarted under the same name beats under another key.

Keys (Redis):

- ``bulkdrf:worker:<worker>``: the heartbeat of ``worker``;
- ``bulkdrf:op:<id>:held``: task index → holder;
- ``bulkdrf:held``: the operations that have holdings, so that a sweep reads only those;
- ``bulkdrf:failing``: operation → why it could not be ended ``failed`` yet (its database was
  unreachable); the sweep ends it once it can.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

from ..settings import bulk_settings

HELD_OPERATIONS = "bulkdrf:held"
FAILING = "bulkdrf:failing"
PLANNING = -1
QUEUED = "queued"
MISSING = "missing"

# Tasks sent to the broker are QUEUED, unless a worker holds them already or they are counted.
DISPATCH = (
    """
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then
    redis.call('HSETNX', KEYS[1], ARGV[i], '"""
    + QUEUED
    + """')
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""
)

# QUEUED tasks the broker no longer has become MISSING (unless received meanwhile).
SUSPECT = (
    """
local marked = 0
for i = 1, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == '"""
    + QUEUED
    + """' then
    redis.call('HSET', KEYS[1], ARGV[i], '"""
    + MISSING
    + """')
    marked = marked + 1
  end
end
return marked
"""
)

RELEASE = """
for index = tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[3]) - 1 do
  if redis.call('HGET', KEYS[1], index) == ARGV[2] then
    redis.call('HDEL', KEYS[1], index)
  end
end
return 1
"""

# Take an orphan over once, whichever sweeper comes first, and mark it QUEUED again; a chunk
# counted meanwhile is only released (nothing to run again).
TAKE_OVER = (
    """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], '"""
    + QUEUED
    + """')
return 1
"""
)


#: What tells this worker process's life from any other under the same node name: its pid and a
#: random mark (a pid alone comes back, in a container or after a ``SIGHUP`` restart, which execs
#: in place). Drawn when this module is imported, which Django's setup does in the worker's main
#: process (``BulkDRFConfig.ready`` connects the workers' signals, ``recovery.py``) before Celery
#: forks its pool: the pool processes inherit it, and release what the main process recorded they
#: hold. The life is the main process's: it receives the tasks and beats; when it dies (the whole
#: process group killed, the machine lost) the beats stop and its holdings are taken up, even if a
#: pool process outlives it for a while (the chunk ledger then keeps each chunk applied once). A
#: pool process that dies alone is replaced by the main process, which stays alive; its task is
#: redelivered by the broker (``reject_on_worker_lost``).
PROCESS_LIFE = f"{os.getpid()}.{secrets.token_hex(4)}"


def worker_life(hostname: str) -> str:
    """The holder name of this life of the worker ``hostname`` (its heartbeat's key too)."""
    return f"{hostname}#{PROCESS_LIFE}"


def holder(worker: str, task_id: str, retries: int) -> str:
    """The holder of one attempt of one task on ``worker``."""
    return f"{worker}|{task_id}|{retries}"


def worker_of(held_by: str) -> str | None:
    """The worker of a holder; None for a task no worker holds (``QUEUED``, ``MISSING``)."""
    return held_by.split("|", 1)[0] if "|" in held_by else None


@dataclass(frozen=True)
class Orphan:
    """A task held by a worker whose heartbeat has expired, or ``MISSING``."""

    operation_id: str
    index: int
    held_by: str


@dataclass
class Sweep:
    """What one look at the holdings found: orphans to re-queue, and ``QUEUED`` tasks (by
    operation) to mark ``MISSING`` if the broker's queue is empty."""

    orphans: list[Orphan]
    queued: dict[str, list[int]]


class RedisChunkLeases:
    """Holdings and heartbeats in the Redis of the operation records."""

    def __init__(self, client: Any, record_key: Any) -> None:
        self.client = client
        self.record_key = record_key
        self._dispatch = client.register_script(DISPATCH)
        self._release = client.register_script(RELEASE)
        self._take_over = client.register_script(TAKE_OVER)
        self._suspect = client.register_script(SUSPECT)

    def _held_key(self, operation_id: str) -> str:
        return f"{self.record_key(operation_id)}:held"

    def beat(self, worker: str, ttl: int) -> None:
        """``worker`` is alive for ``ttl`` more seconds."""
        self.client.set(f"bulkdrf:worker:{worker}", 1, ex=ttl)

    def dispatch(self, operation_id: str, indexes: list[int]) -> None:
        """These tasks of the operation are about to be sent to the broker."""
        self._dispatch(
            keys=[
                self._held_key(operation_id),
                f"{self.record_key(operation_id)}:reported",
                HELD_OPERATIONS,
            ],
            args=[bulk_settings.CACHE_TIMEOUT, operation_id, *indexes],
        )

    def hold(self, operation_id: str, index: int, held_by: str, count: int = 1) -> None:
        """A worker received the task of chunks ``index`` to ``index + count - 1`` of the
        operation (``PLANNING`` for the first task)."""
        key = self._held_key(operation_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping=dict.fromkeys(range(index, index + count), held_by))
        pipe.expire(key, bulk_settings.CACHE_TIMEOUT)
        pipe.sadd(HELD_OPERATIONS, operation_id)
        pipe.execute()

    def release(self, operation_id: str, index: int, held_by: str, count: int = 1) -> None:
        """The attempt ``held_by`` at chunks ``index`` to ``index + count - 1`` is over
        (whatever its outcome)."""
        self._release(keys=[self._held_key(operation_id)], args=[index, held_by, count])

    def look(self, is_live: Any) -> Sweep:
        """The holdings of the operations for which ``is_live(id)`` is true; the holdings of ended
        or forgotten operations are dropped on the way."""
        sweep = Sweep([], {})
        for raw_id in self.client.smembers(HELD_OPERATIONS):
            operation_id = raw_id.decode()
            held = self.client.hgetall(self._held_key(operation_id))
            if not held or not is_live(operation_id):
                self.client.delete(self._held_key(operation_id))
                self.client.srem(HELD_OPERATIONS, operation_id)
                continue
            holdings = [(int(index), value.decode()) for index, value in held.items()]
            workers = {worker_of(held_by) for _, held_by in holdings}
            dead = self._dead_workers({worker for worker in workers if worker is not None})
            sweep.orphans += [
                Orphan(operation_id, index, held_by)
                for index, held_by in holdings
                if held_by == MISSING or worker_of(held_by) in dead
            ]
            queued = [index for index, held_by in holdings if held_by == QUEUED]
            if queued:
                sweep.queued[operation_id] = queued
        return sweep

    def _dead_workers(self, workers: set[str]) -> set[str]:
        names = sorted(workers)
        beats = self.client.mget([f"bulkdrf:worker:{name}" for name in names]) if names else []
        return {name for name, beat in zip(names, beats, strict=True) if beat is None}

    def suspect(self, queued: dict[str, list[int]]) -> int:
        """The broker's queue is empty: mark these tasks ``MISSING`` where still ``QUEUED``."""
        return sum(
            self._suspect(keys=[self._held_key(operation_id)], args=indexes)
            for operation_id, indexes in queued.items()
        )

    def take_over(self, orphan: Orphan) -> bool:
        """Mark ``orphan`` ``QUEUED`` again, to be re-sent; False when another sweeper was first,
        or the chunk was counted meanwhile (then there is nothing to run again)."""
        key = self.record_key(orphan.operation_id)
        return bool(
            self._take_over(
                keys=[self._held_key(orphan.operation_id), f"{key}:reported"],
                args=[orphan.index, orphan.held_by],
            )
        )

    def defer_failure(self, operation_id: str, reason: str) -> None:
        """The operation must end ``failed`` but its committed counts cannot be read yet."""
        self.client.hset(FAILING, operation_id, reason)

    def deferred_failures(self) -> dict[str, str]:
        return {key.decode(): value.decode() for key, value in self.client.hgetall(FAILING).items()}

    def forget_failure(self, operation_id: str) -> None:
        self.client.hdel(FAILING, operation_id)
