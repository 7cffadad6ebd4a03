"""``RedisOperationStore``: operation records in Redis (the ``default`` cache, via django-redis).

Every change of a record is one Lua script that updates the counters, bumps the record's ``seq`` and
publishes the new record on the operation's pub/sub channel, so that events arrive in ``seq`` order
with consistent counts, and several workers reporting chunks at once add up exactly. The scripts
receive the state machine of ``store.py`` (``RULES``, the moves and the event of each status) as
arguments: no status is spelled in Lua.

The record is a Redis hash of strings (``encode_record`` / ``decode_record``); that encoding stays
in this module. A published message is the hash as a JSON object plus its event ``type``;
``decode_published`` turns it back into an ``OperationRecord`` for the progress hub.
"""

from __future__ import annotations

import asyncio
import typing
import weakref
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, ClassVar

import orjson
from django.conf import settings

from .. import exactjson
from ..settings import bulk_settings
from .leases import RedisChunkLeases
from .record import (
    ID_LISTS,
    MAX_REPORTED_ERRORS,
    ChunkReport,
    OperationRecord,
    Snapshot,
    Status,
    isoformat,
    now,
)
from .store import CANCEL, COMPLETE, START, Move, OperationStore, restored_seq

# -- the string encoding of a record ------------------------------------------------------------


def encode_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def decoder(hint: Any) -> Callable[[str], Any]:
    """How a field of this type is read back from its string."""
    if hint is bool:
        return lambda value: value == "1"
    if hint in (int, Status):
        return hint
    if hint == tuple[str, ...]:
        return lambda value: tuple(filter(None, value.split(",")))
    if hint == datetime | None or hint is datetime:
        return lambda value: datetime.fromisoformat(value) if value else None
    if hint == str | None:
        return lambda value: value or None
    return str


DECODERS = {name: decoder(hint) for name, hint in typing.get_type_hints(OperationRecord).items()}


def encode_record(record: OperationRecord) -> dict[str, str]:
    """The record as its Redis hash holds it."""
    return {f.name: encode_value(getattr(record, f.name)) for f in fields(record)}


def decode_record(raw: Mapping[Any, Any]) -> OperationRecord:
    """The record from its hash (bytes or str keys and values; other keys are ignored)."""
    text = {
        (key.decode() if isinstance(key, bytes) else key): (
            value.decode() if isinstance(value, bytes) else value
        )
        for key, value in raw.items()
    }
    return OperationRecord(**{name: decode(text[name]) for name, decode in DECODERS.items()})


def decode_published(message: bytes) -> OperationRecord:
    """The record a pub/sub message of an operation's channel carries."""
    return decode_record(orjson.loads(message))


def lua_move(move: Move) -> dict[str, Any]:
    encoded: dict[str, Any] = {"sources": {status.value: True for status in move.sources}}
    if move.target is not None:
        encoded["target"] = move.target.value
    if move.stamp is not None:
        encoded["stamp"] = move.stamp
    return encoded


#: The state machine, as the scripts receive it.
RULES = orjson.dumps(
    {
        "start": lua_move(START),
        "complete": lua_move(COMPLETE),
        "cancel": lua_move(CANCEL),
        "events": {status.value: status.event for status in Status},
        "terminal": {status.value: True for status in Status if status.is_terminal},
    }
)
#: Every list a snapshot of an ended operation may include (a record names its own).
ALL_LISTS = (*ID_LISTS, "results")

# -- Lua ----------------------------------------------------------------------------------------

# Shared by the scripts: a move of the state machine, and the publication of the record.
LUA_FUNCTIONS = """
local function apply(record, move, status, now)
  if not move.sources[status] then return status end
  if move.target then
    redis.call('HSET', record, 'status', move.target)
    status = move.target
  end
  if move.stamp then redis.call('HSET', record, move.stamp, now) end
  return status
end
local function publish(record, channel, events)
  local flat = redis.call('HGETALL', record)
  local state = {}
  for i = 1, #flat, 2 do state[flat[i]] = flat[i + 1] end
  state.type = events[state.status]
  redis.call('PUBLISH', channel, cjson.encode(state))
end
"""

REPORT_CHUNK = (
    LUA_FUNCTIONS
    + """
local record, reported, payload, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local chunk, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local rules = cjson.decode(ARGV[7])
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
redis.call('LTRIM', record .. ':errors', 0, tonumber(ARGV[6]) - 1)
local status = apply(record, rules.start, redis.call('HGET', record, 'status'), now)
if not rules.complete.sources[status] then
  -- Counted after the operation ended: the end is published once.
  redis.call('EXPIRE', record, ttl)
  return 1
end
local done = tonumber(redis.call('HGET', record, 'chunks_done'))
if done >= tonumber(redis.call('HGET', record, 'chunks_total')) then
  local ending = rules.complete
  if redis.call('HGET', record, 'cancel_requested') == '1' then ending = rules.cancel end
  apply(record, ending, status, now)
end
redis.call('HINCRBY', record, 'seq', 1)
redis.call('EXPIRE', record, ttl)
publish(record, channel, rules.events)
return 1
"""
)

MOVE = (
    LUA_FUNCTIONS
    + """
local record, channel = KEYS[1], KEYS[2]
local move, rules = cjson.decode(ARGV[1]), cjson.decode(ARGV[4])
local status = redis.call('HGET', record, 'status')
if not status or not move.sources[status] then return 0 end
for name, value in pairs(cjson.decode(ARGV[2])) do redis.call('HSET', record, name, value) end
apply(record, move, status, ARGV[3])
redis.call('HINCRBY', record, 'seq', 1)
publish(record, channel, rules.events)
return 1
"""
)

RESTORE = (
    LUA_FUNCTIONS
    + """
local record, reported, channel = KEYS[1], KEYS[2], KEYS[3]
local ttl, rules = tonumber(ARGV[4]), cjson.decode(ARGV[5])
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
publish(record, channel, rules.events)
return 1
"""
)

# Each item's keys in turn: the first item to claim a key keeps it; an item that finds one of its
# keys kept by another claims no more. ARGV: the first item's index, one byte per item (its number
# of keys), the keys end to end, the expiry, the length of a key.
CLAIM_KEYS = """
local first, counts, keys = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local size, at, refused = tonumber(ARGV[5]), 1, {}
for i = 1, #counts do
  local index = tostring(first + i - 1)
  local count = string.byte(counts, i)
  for position = 1, count do
    local key = string.sub(keys, at + (position - 1) * size, at + position * size - 1)
    if redis.call('HSETNX', KEYS[1], key, index) == 0 then
      local kept_by = redis.call('HGET', KEYS[1], key)
      if kept_by ~= index then
        table.insert(refused, first + i - 1)
        table.insert(refused, position - 1)
        table.insert(refused, tonumber(kept_by))
        break
      end
    end
  end
  at = at + count * size
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return refused
"""

SNAPSHOT = """
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return false end
local errors = redis.call('LRANGE', KEYS[1] .. ':errors', 0, tonumber(ARGV[1]) - 1)
local rules = cjson.decode(ARGV[2])
local status
for i = 1, #record, 2 do
  if record[i] == 'status' then status = record[i + 1] end
end
local lists = {}
if rules.terminal[status] then
  for _, name in ipairs(cjson.decode(ARGV[3])) do
    table.insert(lists, redis.call('LRANGE', KEYS[1] .. ':' .. name, 0, -1))
  end
end
return {record, errors, lists}
"""
SNAPSHOT_ARGS = (MAX_REPORTED_ERRORS, RULES, orjson.dumps(ALL_LISTS))


def snapshot_from(answer: Any) -> Snapshot | None:
    """A ``Snapshot`` from the ``SNAPSHOT`` script's answer (None: no such record)."""
    if not answer:
        return None
    flat, errors, lists = answer
    record = decode_record(dict(zip(flat[::2], flat[1::2], strict=True)))
    read = dict(zip(ALL_LISTS, lists, strict=True)) if lists else {}
    return Snapshot(
        record,
        [orjson.loads(raw) for raw in errors],
        {name: [orjson.loads(raw) for raw in read[name]] for name in record.result_lists if read},
    )


def encoded_lists(lists: dict[str, list[Any]]) -> bytes:
    """Lists of values as the scripts push them: each value as JSON, empty lists left out."""
    encoded = {
        name: [orjson.dumps(value).decode() for value in values]
        for name, values in lists.items()
        if values
    }
    return orjson.dumps(encoded) if encoded else b"{}"


ASYNC_MAX_CONNECTIONS = 50
_async_snapshots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
    weakref.WeakKeyDictionary()
)


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

    progress_events = "django_bulk_drf.progress.RedisOperationEvents"

    _by_client: ClassVar[dict[tuple[type, int], RedisOperationStore]] = {}

    @classmethod
    def for_process(cls) -> OperationStore:
        """One store per django-redis client, so its Lua scripts are registered once."""
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        store = cls._by_client.get((cls, id(client)))
        if store is None or store.client is not client:
            store = cls._by_client[(cls, id(client))] = cls(client)
        return store

    def __init__(self, client: Any) -> None:
        self.client = client
        self._report_chunk = client.register_script(REPORT_CHUNK)
        self._move = client.register_script(MOVE)
        self._restore = client.register_script(RESTORE)
        self._snapshot = client.register_script(SNAPSHOT)
        self._claim_keys = client.register_script(CLAIM_KEYS)
        self.leases = RedisChunkLeases(client, record_key)

    def create(self, record: OperationRecord, chunks: list[bytes]) -> None:
        key = record_key(record.task_id)
        ttl = bulk_settings.CACHE_TIMEOUT
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping=encode_record(record))
        pipe.expire(key, ttl)
        if chunks:
            pipe.hset(f"{key}:payload", mapping=dict(enumerate(chunks)))
            pipe.expire(f"{key}:payload", ttl)
        pipe.execute()

    def record(self, operation_id: str) -> OperationRecord | None:
        raw = self.client.hgetall(record_key(operation_id))
        return decode_record(raw) if raw else None

    def snapshot(self, operation_id: str) -> Snapshot | None:
        """The whole status in one round trip (one Lua script)."""
        return snapshot_from(self._snapshot(keys=[record_key(operation_id)], args=SNAPSHOT_ARGS))

    async def asnapshot(self, operation_id: str) -> Snapshot | None:
        """One round trip on the event loop itself (an asyncio client per loop), no thread."""
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
        return snapshot_from(await script(keys=[record_key(operation_id)], args=SNAPSHOT_ARGS))

    def stage_chunks(self, operation_id: str, chunks: dict[int, bytes]) -> None:
        key = f"{record_key(operation_id)}:payload"
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping=chunks)
        pipe.expire(key, bulk_settings.CACHE_TIMEOUT)
        pipe.execute()

    def claim_keys(
        self, operation_id: str, claims: list[tuple[int, list[bytes]]]
    ) -> list[tuple[int, int, int]]:
        if not claims:
            return []
        first = claims[0][0]
        counts = bytearray(claims[-1][0] - first + 1)
        for index, keys in claims:
            counts[index - first] = len(keys)
        size = len(claims[0][1][0])
        packed = b"".join(key for _, keys in claims for key in keys)
        refused = self._claim_keys(
            keys=[f"{record_key(operation_id)}:claims"],
            args=[first, bytes(counts), packed, bulk_settings.CACHE_TIMEOUT, size],
        )
        return [tuple(refused[at : at + 3]) for at in range(0, len(refused), 3)]

    def end_staging(self, operation_id: str, *, keep_payload: bool) -> None:
        key = record_key(operation_id)
        names = [f"{key}:claims"] if keep_payload else [f"{key}:claims", f"{key}:payload"]
        self.client.delete(*names)

    def load_chunk(self, operation_id: str, index: int) -> Any:
        blob = self.client.hget(f"{record_key(operation_id)}:payload", index)
        return None if blob is None else exactjson.loads(blob)

    def record_and_chunk(self, operation_id: str, index: int) -> tuple[OperationRecord | None, Any]:
        """One round trip."""
        key = record_key(operation_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(key)
        pipe.hget(f"{key}:payload", index)
        raw, blob = pipe.execute()
        return (decode_record(raw) if raw else None), (
            None if blob is None else exactjson.loads(blob)
        )

    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        key = record_key(operation_id)
        counted = self._report_chunk(
            keys=[key, f"{key}:reported", f"{key}:payload", channel_name(operation_id)],
            args=[
                index,
                isoformat(now()),
                bulk_settings.CACHE_TIMEOUT,
                orjson.dumps(dict(report.increments())),
                encoded_lists(report.lists()),
                MAX_REPORTED_ERRORS,
                RULES,
            ],
        )
        return bool(counted)

    def move(self, operation_id: str, move: Move, changes: dict[str, Any]) -> bool:
        encoded = {name: encode_value(value) for name, value in changes.items()}
        return bool(
            self._move(
                keys=[record_key(operation_id), channel_name(operation_id)],
                args=[orjson.dumps(lua_move(move)), orjson.dumps(encoded), isoformat(now()), RULES],
            )
        )

    def restore(
        self, record: OperationRecord, lists: dict[str, list[Any]], reported: list[int]
    ) -> bool:
        key = record_key(record.task_id)
        if "errors" in lists:
            lists = {**lists, "errors": lists["errors"][:MAX_REPORTED_ERRORS]}
        hash_ = encode_record(record) | {"seq": str(restored_seq())}
        return bool(
            self._restore(
                keys=[key, f"{key}:reported", channel_name(record.task_id)],
                args=[
                    orjson.dumps(hash_),
                    encoded_lists(lists),
                    orjson.dumps(reported) if reported else "{}",
                    bulk_settings.CACHE_TIMEOUT,
                    RULES,
                ],
            )
        )

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
