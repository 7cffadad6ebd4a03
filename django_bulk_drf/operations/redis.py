"""``RedisOperationStore``: operation records in Redis (the ``default`` cache, via django-redis).

Every change of a record is one Lua script (``lua.py``) that updates the counters and lists, bumps
the record's ``seq`` and publishes the new record on the operation's pub/sub channel, so that events
arrive in ``seq`` order with consistent counts, and several workers reporting chunks at once add up
exactly. The scripts receive the state machine of ``states.py`` as arguments: no status is spelled
in Lua. A status read and a page of a list are one script each: one round trip.

The record is a Redis hash of strings (``encode_record`` / ``decode_record``); that encoding stays
in this module. A published message is the hash as a JSON object plus its event ``type``;
``decode_published`` turns it back into an ``OperationRecord`` for the progress hub.
"""

from __future__ import annotations

import asyncio
import typing
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, ClassVar

import orjson
from django.conf import settings
from redis.exceptions import NoScriptError

from .. import exactjson
from ..settings import bulk_settings
from .leases import RedisChunkLeases
from .lists import BY_INDEX, FIRST, STATUS_LIST_LIMIT, Page, Position, by_index
from .lua import (
    ALL_LISTS,
    CLAIM_KEYS,
    MOVE,
    ORDERED,
    PAGE,
    REPORT_CHUNK,
    RESTORE,
    RULES,
    SNAPSHOT,
    SNAPSHOT_ARGS,
    lua_move,
)
from .record import (
    ChunkReport,
    OperationRecord,
    Snapshot,
    Status,
    isoformat,
    now,
    stored_name,
)
from .states import Move, restored_seq
from .store import OperationStore

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
    return {stored_name(f.name): encode_value(getattr(record, f.name)) for f in fields(record)}


def decode_record(raw: Mapping[Any, Any]) -> OperationRecord:
    """The record from its hash (bytes or str keys and values; other keys are ignored)."""
    text = {
        (key.decode() if isinstance(key, bytes) else key): (
            value.decode() if isinstance(value, bytes) else value
        )
        for key, value in raw.items()
    }
    return OperationRecord(
        **{name: decode(text[stored_name(name)]) for name, decode in DECODERS.items()}
    )


def decode_published(message: bytes) -> OperationRecord:
    """The record a pub/sub message of an operation's channel carries."""
    return decode_record(orjson.loads(message))


def page_from(answer: list[Any]) -> Page:
    """A ``Page`` from the ``page`` function's answer."""
    values, following = answer
    decoded = exactjson.loads(b"[" + b",".join(values) + b"]")  # one parse for the whole page
    return Page(decoded, Position(*following) if following else None)


def record_from(flat: list[Any]) -> OperationRecord:
    return decode_record(dict(zip(flat[::2], flat[1::2], strict=True)))


def snapshot_from(answer: Any) -> Snapshot | None:
    """A ``Snapshot`` from the ``SNAPSHOT`` script's answer (None: no such record)."""
    if not answer:
        return None
    flat, errors, lists = answer
    record = record_from(flat)
    read = dict(zip(ALL_LISTS, lists, strict=True)) if lists else {}
    return Snapshot(
        record,
        page_from(errors),
        {name: page_from(read[name]) for name in record.result_lists if read},
    )


def read_page_from(answer: Any) -> tuple[OperationRecord, Page] | None:
    """The record and page from the ``PAGE`` script's answer (None: no such record)."""
    return (record_from(answer[0]), page_from(answer[1])) if answer else None


def encoded_lists(lists: dict[str, list[Any]]) -> bytes:
    """Lists of values as the scripts push them: each value as JSON, empty lists left out."""
    encoded = {
        name: [exactjson.dumps(value).decode() for value in values]
        for name, values in lists.items()
        if values
    }
    return orjson.dumps(encoded) if encoded else b"{}"


ASYNC_MAX_CONNECTIONS = 50
_async_scripts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def async_scripts() -> dict[str, Any]:
    """The ``SNAPSHOT`` and ``PAGE`` scripts on an asyncio client of the running loop."""
    loop = asyncio.get_running_loop()
    scripts = _async_scripts.get(loop)
    if scripts is None:
        from redis import asyncio as aioredis

        # Many requests read at once: wait for a free connection rather than fail.
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url(), max_connections=ASYNC_MAX_CONNECTIONS, timeout=20
        )
        client = aioredis.Redis(connection_pool=pool)
        scripts = _async_scripts[loop] = {
            "snapshot": client.register_script(SNAPSHOT),
            "page": client.register_script(PAGE),
        }
    return scripts


def redis_url() -> str:
    """The Redis URL of the django-redis ``default`` cache, where the records live."""
    location = settings.CACHES["default"]["LOCATION"]
    first = location if isinstance(location, str) else next(iter(location))
    return first.split(",")[0]


def record_key(operation_id: str) -> str:
    return f"bulkdrf:op:{operation_id}"


def channel_name(operation_id: str) -> str:
    """The pub/sub channel on which an operation's events are published."""
    return f"bulkdrf:op:{operation_id}:events"


class RedisOperationStore(OperationStore):
    """Operation records in Redis, shared by every web process and worker."""

    progress_events = "django_bulk_drf.operations.redis_events.RedisOperationEvents"

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
        self._page = client.register_script(PAGE)
        self._claim_keys = client.register_script(CLAIM_KEYS)
        self.leases = RedisChunkLeases(client, record_key)

    def create(self, record: OperationRecord, chunks: list[bytes]) -> None:
        key = record_key(record.operation_id)
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
        script = async_scripts()["snapshot"]
        return snapshot_from(await script(keys=[record_key(operation_id)], args=SNAPSHOT_ARGS))

    def page(
        self, operation_id: str, name: str, start: Position = FIRST, limit: int = STATUS_LIST_LIMIT
    ) -> Page:
        args = [name, start.segment, start.offset, limit, 0]
        return page_from(self._page(keys=[record_key(operation_id)], args=args)[1])

    def read_page(
        self, operation_id: str, name: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        """The record and the page in one round trip."""
        args = [name, start.segment, start.offset, limit, 1]
        return read_page_from(self._page(keys=[record_key(operation_id)], args=args))

    async def aread_page(
        self, operation_id: str, name: str, start: Position, limit: int
    ) -> tuple[OperationRecord, Page] | None:
        """``read_page`` on the event loop itself, as ``asnapshot``."""
        args = [name, start.segment, start.offset, limit, 1]
        script = async_scripts()["page"]
        return read_page_from(await script(keys=[record_key(operation_id)], args=args))

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

    def record_and_chunks(
        self, operation_id: str, indexes: Sequence[int]
    ) -> tuple[OperationRecord | None, list[Any]]:
        """One round trip."""
        key = record_key(operation_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(key)
        pipe.hmget(f"{key}:payload", list(indexes))
        raw, blobs = pipe.execute()
        chunks = [None if blob is None else exactjson.loads(blob) for blob in blobs]
        return (decode_record(raw) if raw else None), chunks

    def load_chunk(self, operation_id: str, index: int) -> Any:
        blob = self.client.hget(f"{record_key(operation_id)}:payload", index)
        return None if blob is None else exactjson.loads(blob)

    def report_chunk(self, operation_id: str, index: int, report: ChunkReport) -> bool:
        keys = self._report_keys(operation_id)
        return bool(self._report_chunk(keys=keys, args=self._report_args(index, report)))

    def report_chunks(
        self, operation_id: str, reports: Sequence[tuple[int, ChunkReport]]
    ) -> list[bool]:
        """One round trip: the script of each chunk, sent together (each one still atomic and
        published on its own)."""
        if len(reports) < 2:
            return super().report_chunks(operation_id, reports)
        keys = self._report_keys(operation_id)
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for index, report in reports:
                args = self._report_args(index, report)
                pipe.evalsha(self._report_chunk.sha, len(keys), *keys, *args)
            try:
                return [bool(counted) for counted in pipe.execute()]
            except NoScriptError:  # the server lost its scripts (a restart): load and resend
                if attempt == 2:
                    raise
                self.client.script_load(REPORT_CHUNK)
        raise AssertionError("unreachable")

    @staticmethod
    def _report_keys(operation_id: str) -> list[str]:
        key = record_key(operation_id)
        return [key, f"{key}:reported", f"{key}:payload", channel_name(operation_id)]

    @staticmethod
    def _report_args(index: int, report: ChunkReport) -> list[Any]:
        return [
            index,
            isoformat(now()),
            bulk_settings.CACHE_TIMEOUT,
            orjson.dumps(dict(report.increments())),
            encoded_lists(report.lists()),
            RULES,
            ORDERED,
        ]

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
        key = record_key(record.operation_id)
        lists = {name: by_index(v) if name in BY_INDEX else v for name, v in lists.items()}
        hash_ = encode_record(record) | {"seq": str(restored_seq())}
        return bool(
            self._restore(
                keys=[key, f"{key}:reported", channel_name(record.operation_id)],
                args=[
                    orjson.dumps(hash_),
                    encoded_lists(lists),
                    orjson.dumps(reported) if reported else "{}",
                    bulk_settings.CACHE_TIMEOUT,
                    RULES,
                    orjson.dumps([*ALL_LISTS, "errors"]),
                ],
            )
        )

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
