"""The operation record of a background bulk operation: its staged payload, counts and status.

Production stores it in Redis (the ``default`` cache, through django-redis). Every change is one Lua
script that updates the counters, bumps the record's ``seq`` and publishes the new state on the
operation's pub/sub channel, so that events arrive in ``seq`` order with consistent counts, and
several workers reporting chunks at once add up exactly. The embedded mode (no Redis) keeps the same
record in process behind the same interface.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import caches

from .metrics import operation_metrics
from .settings import bulk_settings

TERMINAL_STATUSES = ("completed", "failed", "cancelled")
CELERY_STATES = {
    "pending": "PENDING",
    "running": "PROGRESS",
    "completed": "SUCCESS",
    "failed": "FAILURE",
    "cancelled": "REVOKED",
}
MAX_REPORTED_ERRORS = 1000
COUNTERS = ("processed", "created_count", "updated_count", "deleted_count", "error_count")
ID_LISTS = ("created_ids", "updated_ids", "deleted_ids")


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def new_operation_id() -> str:
    return str(uuid.uuid4())


def parse_operation_id(value: str) -> str | None:
    """The canonical form of a uuid4 string, or None when it is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def new_record(
    operation_id: str,
    *,
    operation: str,
    owner_id: Any,
    viewset: str,
    total: int,
    chunk_size: int,
    chunks_total: int,
    unique_fields: tuple[str, ...],
    partial: bool,
) -> dict[str, str]:
    """A fresh record, every value a string as Redis keeps them."""
    return {
        "task_id": operation_id,
        "operation": operation,
        "owner_id": "" if owner_id is None else str(owner_id),
        "viewset": viewset,
        "unique_fields": ",".join(unique_fields),
        "partial": "1" if partial else "0",
        "status": "pending",
        "state": "PENDING",
        "message": "",
        "total": str(total),
        "chunk_size": str(chunk_size),
        "chunks_total": str(chunks_total),
        "chunks_done": "0",
        "cancel_requested": "0",
        "seq": "0",
        "work_ms": "0",
        "created_at": now_iso(),
        "started_at": "",
        "finished_at": "",
        **{counter: "0" for counter in COUNTERS},
    }


def render_status(
    record: dict[str, str],
    errors: list[Any] | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The public status body of an operation, from its record."""
    total = int(record["total"])
    processed = int(record["processed"])
    error_count = int(record["error_count"])
    status = {
        "task_id": record["task_id"],
        "operation": record["operation"],
        "status": record["status"],
        "state": record["state"],
        "progress": {
            "processed": processed,
            "total": total,
            "percent": round(100.0 * processed / total, 1) if total else 100.0,
        },
        **{counter: int(record[counter]) for counter in COUNTERS if counter != "processed"},
        "errors": errors if errors is not None else [],
        "result": result,
        "created_at": record["created_at"],
        "started_at": record["started_at"] or None,
        "finished_at": record["finished_at"] or None,
        "seq": int(record["seq"]),
        "is_async": True,
    }
    if error_count > MAX_REPORTED_ERRORS:
        status["errors_truncated"] = True
    if record.get("message"):
        status["message"] = record["message"]
    if record.get("unique_fields"):
        status["unique_fields"] = record["unique_fields"].split(",")
    if bulk_settings.ENABLE_METRICS:
        status["metrics"] = operation_metrics(record)
    return status


class ChunkReport:
    """What one chunk did, as reported to the operation record."""

    def __init__(
        self,
        processed: int,
        created_ids: list[Any] | None = None,
        updated_ids: list[Any] | None = None,
        deleted_ids: list[Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
        results: list[Any] | None = None,
    ) -> None:
        self.processed = processed
        self.ids = {
            "created_ids": created_ids or [],
            "updated_ids": updated_ids or [],
            "deleted_ids": deleted_ids or [],
        }
        self.errors = errors or []
        self.results = results or []
        self.work_ms = 0

    def increments(self) -> dict[str, int]:
        return {
            "processed": self.processed,
            "created_count": len(self.ids["created_ids"]),
            "updated_count": len(self.ids["updated_ids"]),
            "deleted_count": len(self.ids["deleted_ids"]),
            "error_count": len(self.errors),
            "chunks_done": 1,
            "work_ms": self.work_ms,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"processed": self.processed, **self.ids, "errors": self.errors}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkReport:
        return cls(
            data["processed"],
            data["created_ids"],
            data["updated_ids"],
            data["deleted_ids"],
            data["errors"],
        )


def result_lists(record: dict[str, str]) -> tuple[str, ...]:
    """The lists that make an ended operation's ``result``."""
    return (*ID_LISTS, "results") if record["operation"] == "get" else ID_LISTS


@dataclass
class Snapshot:
    """One consistent read of an operation: record, first errors, and id lists once ended."""

    record: dict[str, str]
    errors: list[Any]
    lists: dict[str, list[Any]]

    def render(self) -> dict[str, Any]:
        result = self.lists if self.record["status"] in TERMINAL_STATUSES else None
        errors = sorted(self.errors, key=lambda error: error.get("index", -1))
        return render_status(self.record, errors, result)


class OperationStore(ABC):
    """Where operation records, staged payloads and progress events live."""

    @abstractmethod
    def create(self, record: dict[str, str], chunks: list[bytes]) -> None:
        """Save a new record and its payload, already split into serialised chunks."""

    @abstractmethod
    def record(self, operation_id: str) -> dict[str, str] | None:
        """The raw record, or None when unknown or expired."""

    @abstractmethod
    def load_chunk(self, operation_id: str, index: int) -> list[Any] | None:
        """The items of a staged chunk, or None when it is gone."""

    @abstractmethod
    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        """Add a chunk's counts once (a second report of the same chunk changes nothing);
        completes the operation when it is the last chunk. True when it was counted."""

    @abstractmethod
    def transition(self, operation_id: str, fields: dict[str, str], event: str) -> bool:
        """Set fields and publish ``event`` unless the operation has already ended."""

    @abstractmethod
    def restore(
        self, record: dict[str, str], lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        """Put back a lost record (rebuilt from the ledger) with its id and error lists and the
        chunks it has counted, and publish it; False when the record exists (nothing changed).
        Its ``seq`` restarts from the clock in milliseconds, above any ``seq`` the lost record
        reached, so that clients following the operation take the rebuilt state as news."""

    @abstractmethod
    def add_errors(self, operation_id: str, errors: list[dict[str, Any]]) -> None:
        """Record item errors found before the chunks run (duplicate keys across chunks)."""

    @abstractmethod
    def errors(self, operation_id: str) -> list[Any]:
        """The first ``MAX_REPORTED_ERRORS`` item errors."""

    @abstractmethod
    def id_list(self, operation_id: str, name: str) -> list[Any]:
        """``created_ids``, ``updated_ids``, ``deleted_ids`` or ``results``."""

    @abstractmethod
    def skip_indexes(self, operation_id: str) -> set[int]:
        """Items left out before the chunks run (reported as errors already)."""

    @abstractmethod
    def set_skip_indexes(self, operation_id: str, indexes: list[int]) -> None: ...

    @abstractmethod
    def claim_key(self, key: str, value: dict[str, str], ttl: int) -> dict[str, str] | None:
        """Take an idempotency key; returns what the key already holds when it is taken."""

    @abstractmethod
    def set_key(self, key: str, value: dict[str, str], ttl: int) -> None: ...

    @abstractmethod
    def release_key(self, key: str) -> None: ...

    def status(self, operation_id: str) -> dict[str, Any] | None:
        """The public status; the id lists are included once the operation has ended."""
        snapshot = self.snapshot(operation_id)
        return None if snapshot is None else snapshot.render()

    def snapshot(self, operation_id: str) -> Snapshot | None:
        """The record with its errors and, once ended, its id lists."""
        record = self.record(operation_id)
        return None if record is None else self.complete(record)

    def render(self, record: dict[str, str]) -> dict[str, Any]:
        return self.complete(record).render()

    def complete(self, record: dict[str, str]) -> Snapshot:
        operation_id = record["task_id"]
        lists = {}
        if record["status"] in TERMINAL_STATUSES:
            lists = {name: self.id_list(operation_id, name) for name in result_lists(record)}
        return Snapshot(record, self.errors(operation_id), lists)

    def request_cancel(self, operation_id: str) -> bool:
        """Ask the workers to stop between chunks; False when the operation has ended."""
        record = self.record(operation_id)
        if record is None or record["status"] in TERMINAL_STATUSES:
            return False
        return self.transition(operation_id, {"cancel_requested": "1"}, "operation.progress")

    def fail(self, operation_id: str, message: str) -> bool:
        return self.transition(
            operation_id,
            {
                "status": "failed",
                "state": CELERY_STATES["failed"],
                "message": message,
                "finished_at": now_iso(),
            },
            "operation.failed",
        )

    def start(self, operation_id: str) -> bool:
        record = self.record(operation_id)
        if record is None or record["status"] != "pending":
            return False
        return self.transition(
            operation_id,
            {"status": "running", "state": CELERY_STATES["running"], "started_at": now_iso()},
            "operation.progress",
        )


# -- Redis --------------------------------------------------------------------------------------

REPORT_CHUNK = """
local record, reported, payload, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local chunk, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', record) == 0 then return 0 end
if redis.call('SADD', reported, chunk) == 0 then return 0 end
redis.call('EXPIRE', reported, ttl)
redis.call('HDEL', payload, chunk)
for name, amount in pairs(cjson.decode(ARGV[4])) do
  redis.call('HINCRBY', record, name, amount)
end
for name, values in pairs(cjson.decode(ARGV[5])) do
  local key = record .. ':' .. name
  for i = 1, #values, 500 do
    redis.call('RPUSH', key, unpack(values, i, math.min(i + 499, #values)))
  end
  redis.call('EXPIRE', key, ttl)
end
local errors = record .. ':errors'
redis.call('LTRIM', errors, 0, tonumber(ARGV[6]) - 1)
local status = redis.call('HGET', record, 'status')
if status == 'pending' then
  redis.call('HSET', record, 'status', 'running', 'state', 'PROGRESS', 'started_at', now)
  status = 'running'
end
local event = 'operation.progress'
local done = tonumber(redis.call('HGET', record, 'chunks_done'))
local total = tonumber(redis.call('HGET', record, 'chunks_total'))
if status == 'running' and done >= total then
  if redis.call('HGET', record, 'cancel_requested') == '1' then
    redis.call('HSET', record, 'status', 'cancelled', 'state', 'REVOKED', 'finished_at', now)
    event = 'operation.cancelled'
  else
    redis.call('HSET', record, 'status', 'completed', 'state', 'SUCCESS', 'finished_at', now)
    event = 'operation.completed'
  end
elseif status ~= 'running' then
  -- A chunk that committed after the operation ended: count it, but the end is published once.
  redis.call('EXPIRE', record, ttl)
  return 1
end
redis.call('HINCRBY', record, 'seq', 1)
redis.call('EXPIRE', record, ttl)
local flat = redis.call('HGETALL', record)
local state = {type = event}
for i = 1, #flat, 2 do state[flat[i]] = flat[i + 1] end
redis.call('PUBLISH', channel, cjson.encode(state))
return 1
"""

TRANSITION = """
local record, channel = KEYS[1], KEYS[2]
local status = redis.call('HGET', record, 'status')
if not status then return 0 end
if status == 'completed' or status == 'failed' or status == 'cancelled' then return 0 end
for name, value in pairs(cjson.decode(ARGV[1])) do redis.call('HSET', record, name, value) end
redis.call('HINCRBY', record, 'seq', 1)
local flat = redis.call('HGETALL', record)
local state = {type = ARGV[2]}
for i = 1, #flat, 2 do state[flat[i]] = flat[i + 1] end
redis.call('PUBLISH', channel, cjson.encode(state))
return 1
"""


RESTORE = """
local record, reported, channel = KEYS[1], KEYS[2], KEYS[3]
local ttl = tonumber(ARGV[4])
if redis.call('EXISTS', record) == 1 then return 0 end
for name, value in pairs(cjson.decode(ARGV[1])) do redis.call('HSET', record, name, value) end
for name, values in pairs(cjson.decode(ARGV[2])) do
  local key = record .. ':' .. name
  redis.call('DEL', key)
  for i = 1, #values, 500 do
    redis.call('RPUSH', key, unpack(values, i, math.min(i + 499, #values)))
  end
  redis.call('EXPIRE', key, ttl)
end
local chunks = cjson.decode(ARGV[3])
redis.call('DEL', reported)
for i = 1, #chunks, 500 do
  redis.call('SADD', reported, unpack(chunks, i, math.min(i + 499, #chunks)))
end
redis.call('EXPIRE', reported, ttl)
redis.call('EXPIRE', record, ttl)
local flat = redis.call('HGETALL', record)
local state = {type = 'operation.' .. redis.call('HGET', record, 'status')}
for i = 1, #flat, 2 do state[flat[i]] = flat[i + 1] end
redis.call('PUBLISH', channel, cjson.encode(state))
return 1
"""


def restored_seq() -> str:
    return str(time.time_ns() // 1_000_000)


SNAPSHOT = """
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return false end
local errors = redis.call('LRANGE', KEYS[1] .. ':errors', 0, tonumber(ARGV[1]) - 1)
local status, operation
for i = 1, #record, 2 do
  if record[i] == 'status' then status = record[i + 1] end
  if record[i] == 'operation' then operation = record[i + 1] end
end
local lists = {}
if status == 'completed' or status == 'failed' or status == 'cancelled' then
  local names = {'created_ids', 'updated_ids', 'deleted_ids'}
  if operation == 'get' then table.insert(names, 'results') end
  for _, name in ipairs(names) do
    table.insert(lists, redis.call('LRANGE', KEYS[1] .. ':' .. name, 0, -1))
  end
end
return {record, errors, lists}
"""


def snapshot_from(answer: Any) -> Snapshot | None:
    """A ``Snapshot`` from the ``SNAPSHOT`` script's answer (None: no such record)."""
    if not answer:
        return None
    flat, errors, lists = answer
    record = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
    names = result_lists(record) if lists else ()
    return Snapshot(
        record,
        [orjson.loads(raw) for raw in errors],
        {
            name: [orjson.loads(raw) for raw in values]
            for name, values in zip(names, lists, strict=True)
        },
    )


ASYNC_MAX_CONNECTIONS = 50
_async_snapshots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
    weakref.WeakKeyDictionary()
)


async def asnapshot(operation_id: str) -> Snapshot | None:
    """``snapshot`` for async views: on Redis, one round trip on the event loop itself (an
    asyncio client per loop) instead of a trip to a thread; in process, no I/O at all."""
    store = get_operation_store()
    if not isinstance(store, RedisOperationStore):
        return store.snapshot(operation_id)
    loop = asyncio.get_running_loop()
    script = _async_snapshots.get(loop)
    if script is None:
        from redis import asyncio as aioredis

        # Many requests read at once: wait for a free connection rather than fail.
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url(), max_connections=ASYNC_MAX_CONNECTIONS, timeout=20
        )
        client = aioredis.Redis(connection_pool=pool)
        script = _async_snapshots[loop] = client.register_script(SNAPSHOT)
    return snapshot_from(await script(keys=[record_key(operation_id)], args=[MAX_REPORTED_ERRORS]))


def redis_url() -> str:
    """The Redis URL of the django-redis ``default`` cache, where the records live."""
    location = settings.CACHES["default"]["LOCATION"]
    if isinstance(location, list | tuple):
        location = location[0]
    return location.split(",")[0]


def record_key(operation_id: str) -> str:
    return f"bulkdrf:op:{operation_id}"


def channel_name(operation_id: str) -> str:
    """The pub/sub channel on which an operation's events are published."""
    return f"bulkdrf:op:{operation_id}:events"


class RedisOperationStore(OperationStore):
    """Operation records in Redis, shared by every web process and worker."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._report_chunk = client.register_script(REPORT_CHUNK)
        self._transition = client.register_script(TRANSITION)
        self._restore = client.register_script(RESTORE)
        self._snapshot = client.register_script(SNAPSHOT)

    def create(self, record: dict[str, str], chunks: list[bytes]) -> None:
        key = record_key(record["task_id"])
        ttl = bulk_settings.CACHE_TIMEOUT
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping=record)
        pipe.expire(key, ttl)
        if chunks:
            pipe.hset(f"{key}:payload", mapping=dict(enumerate(chunks)))
            pipe.expire(f"{key}:payload", ttl)
        pipe.execute()

    def record(self, operation_id: str) -> dict[str, str] | None:
        raw = self.client.hgetall(record_key(operation_id))
        if not raw:
            return None
        return {key.decode(): value.decode() for key, value in raw.items()}

    def snapshot(self, operation_id: str) -> Snapshot | None:
        """The whole status in one round trip (one Lua script)."""
        return snapshot_from(
            self._snapshot(keys=[record_key(operation_id)], args=[MAX_REPORTED_ERRORS])
        )

    def load_chunk(self, operation_id: str, index: int) -> list[Any] | None:
        blob = self.client.hget(f"{record_key(operation_id)}:payload", index)
        return None if blob is None else orjson.loads(blob)

    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        key = record_key(operation_id)
        lists = {
            name: [orjson.dumps(value).decode() for value in values]
            for name, values in report.ids.items()
            if values
        }
        if report.errors:
            lists["errors"] = [
                orjson.dumps(error).decode() for error in report.errors[:MAX_REPORTED_ERRORS]
            ]
        if report.results:
            lists["results"] = [orjson.dumps(row).decode() for row in report.results]
        counted = self._report_chunk(
            keys=[key, f"{key}:reported", f"{key}:payload", channel_name(operation_id)],
            args=[
                index,
                now_iso(),
                bulk_settings.CACHE_TIMEOUT,
                orjson.dumps(report.increments()),
                orjson.dumps(lists) if lists else "{}",
                MAX_REPORTED_ERRORS,
            ],
        )
        return bool(counted)

    def transition(self, operation_id: str, fields: dict[str, str], event: str) -> bool:
        key = record_key(operation_id)
        return bool(
            self._transition(
                keys=[key, channel_name(operation_id)], args=[orjson.dumps(fields), event]
            )
        )

    def restore(
        self, record: dict[str, str], lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        key = record_key(record["task_id"])
        encoded = {
            name: [orjson.dumps(value).decode() for value in values]
            for name, values in lists.items()
            if values
        }
        if "errors" in encoded:
            encoded["errors"] = encoded["errors"][:MAX_REPORTED_ERRORS]
        return bool(
            self._restore(
                keys=[key, f"{key}:reported", channel_name(record["task_id"])],
                args=[
                    orjson.dumps({**record, "seq": restored_seq()}),
                    orjson.dumps(encoded) if encoded else "{}",
                    orjson.dumps(reported) if reported else "{}",
                    bulk_settings.CACHE_TIMEOUT,
                ],
            )
        )

    def add_errors(self, operation_id: str, errors: list[dict[str, Any]]) -> None:
        if not errors:
            return
        key = record_key(operation_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(f"{key}:errors", *[orjson.dumps(e) for e in errors[:MAX_REPORTED_ERRORS]])
        pipe.ltrim(f"{key}:errors", 0, MAX_REPORTED_ERRORS - 1)
        pipe.expire(f"{key}:errors", bulk_settings.CACHE_TIMEOUT)
        pipe.hincrby(key, "error_count", len(errors))
        pipe.hincrby(key, "processed", len(errors))
        pipe.execute()

    def errors(self, operation_id: str) -> list[Any]:
        key = f"{record_key(operation_id)}:errors"
        return [orjson.loads(raw) for raw in self.client.lrange(key, 0, MAX_REPORTED_ERRORS - 1)]

    def id_list(self, operation_id: str, name: str) -> list[Any]:
        return [
            orjson.loads(raw)
            for raw in self.client.lrange(f"{record_key(operation_id)}:{name}", 0, -1)
        ]

    def claim_key(self, key: str, value: dict[str, str], ttl: int) -> dict[str, str] | None:
        name = f"bulkdrf:idempotency:{key}"
        if self.client.set(name, orjson.dumps(value), nx=True, ex=ttl):
            return None
        held = self.client.get(name)
        return orjson.loads(held) if held else self.claim_key(key, value, ttl)

    def set_key(self, key: str, value: dict[str, str], ttl: int) -> None:
        self.client.set(f"bulkdrf:idempotency:{key}", orjson.dumps(value), ex=ttl)

    def release_key(self, key: str) -> None:
        self.client.delete(f"bulkdrf:idempotency:{key}")

    def skip_indexes(self, operation_id: str) -> set[int]:
        raw = self.client.smembers(f"{record_key(operation_id)}:skip")
        return {int(value) for value in raw}

    def set_skip_indexes(self, operation_id: str, indexes: list[int]) -> None:
        if not indexes:
            return
        key = f"{record_key(operation_id)}:skip"
        pipe = self.client.pipeline(transaction=True)
        pipe.sadd(key, *indexes)
        pipe.expire(key, bulk_settings.CACHE_TIMEOUT)
        pipe.execute()


# -- in process (embedded mode) -----------------------------------------------------------------


class LocalOperationStore(OperationStore):
    """The same record in this process's memory, for the embedded mode's in-process worker.

    ``listeners`` are called (from the worker's thread) with each published state, as Redis
    subscribers would receive it.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, str]] = {}
        self.payloads: dict[str, dict[int, bytes]] = {}
        self.lists: dict[tuple[str, str], list[Any]] = {}
        self.reported: dict[str, set[int]] = {}
        self.skipped: dict[str, set[int]] = {}
        self.listeners: list[Callable[[str, dict[str, str]], None]] = []
        self.keys: dict[str, tuple[float, dict[str, str]]] = {}

    def create(self, record: dict[str, str], chunks: list[bytes]) -> None:
        with self.lock:
            self.records[record["task_id"]] = dict(record)
            self.payloads[record["task_id"]] = dict(enumerate(chunks))

    def record(self, operation_id: str) -> dict[str, str] | None:
        with self.lock:
            record = self.records.get(operation_id)
            return dict(record) if record else None

    def load_chunk(self, operation_id: str, index: int) -> list[Any] | None:
        with self.lock:
            blob = self.payloads.get(operation_id, {}).get(index)
        return None if blob is None else orjson.loads(blob)

    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        with self.lock:
            record = self.records.get(operation_id)
            reported = self.reported.setdefault(operation_id, set())
            if record is None or index in reported:
                return False
            reported.add(index)
            self.payloads.get(operation_id, {}).pop(index, None)
            for name, amount in report.increments().items():
                record[name] = str(int(record[name]) + amount)
            for name, values in report.ids.items():
                self.lists.setdefault((operation_id, name), []).extend(values)
            self.lists.setdefault((operation_id, "results"), []).extend(report.results)
            errors = self.lists.setdefault((operation_id, "errors"), [])
            errors.extend(report.errors[: MAX_REPORTED_ERRORS - len(errors)])
            event = self._chunk_event(record)
            if event is not None:
                self._publish(operation_id, record, event)
            return True

    def _chunk_event(self, record: dict[str, str]) -> str | None:
        if record["status"] == "pending":
            record.update(status="running", state="PROGRESS", started_at=now_iso())
        if record["status"] != "running":
            return None  # counted, but the end of an operation is published once
        if int(record["chunks_done"]) < int(record["chunks_total"]):
            return "operation.progress"
        status = "cancelled" if record["cancel_requested"] == "1" else "completed"
        record.update(status=status, state=CELERY_STATES[status], finished_at=now_iso())
        return f"operation.{status}"

    def transition(self, operation_id: str, fields: dict[str, str], event: str) -> bool:
        with self.lock:
            record = self.records.get(operation_id)
            if record is None or record["status"] in TERMINAL_STATUSES:
                return False
            record.update(fields)
            self._publish(operation_id, record, event)
            return True

    def restore(
        self, record: dict[str, str], lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        operation_id = record["task_id"]
        with self.lock:
            if operation_id in self.records:
                return False
            self.records[operation_id] = {**record, "seq": restored_seq()}
            for name, values in lists.items():
                kept = values[:MAX_REPORTED_ERRORS] if name == "errors" else values
                self.lists[(operation_id, name)] = list(kept)
            self.reported[operation_id] = set(reported)
            state = self.records[operation_id]
            state = {**state, "type": f"operation.{state['status']}"}
            for listener in list(self.listeners):
                listener(operation_id, state)
            return True

    def _publish(self, operation_id: str, record: dict[str, str], event: str) -> None:
        record["seq"] = str(int(record["seq"]) + 1)
        state = {**record, "type": event}
        for listener in list(self.listeners):
            listener(operation_id, state)

    def add_errors(self, operation_id: str, errors: list[dict[str, Any]]) -> None:
        with self.lock:
            record = self.records[operation_id]
            kept = self.lists.setdefault((operation_id, "errors"), [])
            kept.extend(errors[: MAX_REPORTED_ERRORS - len(kept)])
            for counter in ("error_count", "processed"):
                record[counter] = str(int(record[counter]) + len(errors))

    def errors(self, operation_id: str) -> list[Any]:
        with self.lock:
            return list(self.lists.get((operation_id, "errors"), []))

    def id_list(self, operation_id: str, name: str) -> list[Any]:
        with self.lock:
            return list(self.lists.get((operation_id, name), []))

    def claim_key(self, key: str, value: dict[str, str], ttl: int) -> dict[str, str] | None:
        with self.lock:
            expires, held = self.keys.get(key, (0.0, {}))
            if expires > time.monotonic():
                return held
            self.keys[key] = (time.monotonic() + ttl, value)
            return None

    def set_key(self, key: str, value: dict[str, str], ttl: int) -> None:
        with self.lock:
            self.keys[key] = (time.monotonic() + ttl, value)

    def release_key(self, key: str) -> None:
        with self.lock:
            self.keys.pop(key, None)

    def skip_indexes(self, operation_id: str) -> set[int]:
        with self.lock:
            return set(self.skipped.get(operation_id, set()))

    def set_skip_indexes(self, operation_id: str, indexes: list[int]) -> None:
        with self.lock:
            self.skipped.setdefault(operation_id, set()).update(indexes)


_local_store = LocalOperationStore()


def uses_redis() -> bool:
    return caches["default"].__class__.__module__.startswith("django_redis")


_redis_stores: dict[int, RedisOperationStore] = {}


def get_operation_store() -> OperationStore:
    """Redis when the ``default`` cache is django-redis; otherwise this process's memory.

    A Redis store is kept per client, so its Lua scripts are registered once, not per call."""
    if not uses_redis():
        return _local_store
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    store = _redis_stores.get(id(client))
    if store is None or store.client is not client:
        store = _redis_stores[id(client)] = RedisOperationStore(client)
    return store
