"""The Lua scripts of ``RedisOperationStore``, and what they receive from Python.

Each change of a record is one script, so that it is atomic: the counters, the ``seq``, the
lists and the publication of the new record change together. The state machine of ``states.py``
reaches the scripts as data (``RULES``): no status is spelled in Lua. The lists are kept as
``lists.py`` describes: list ``name`` of a record is a sorted set ``<record>:<name>`` of the
segments that hold values, and one Redis list ``<record>:<name>:<segment>`` per segment.
"""

from __future__ import annotations

from typing import Any

import orjson

from .lists import BY_INDEX, STATUS_LIST_LIMIT
from .record import ID_LISTS, Status
from .states import CANCEL, COMPLETE, START, Move


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
#: The lists whose segments are kept sorted by index, as the scripts receive them.
ORDERED = orjson.dumps({name: True for name in BY_INDEX})

# -- Lua ----------------------------------------------------------------------------------------

# Shared by the scripts: a move of the state machine, the publication of the record, and the
# segmented lists of ``lists.py``: list ``name`` of a record is a sorted set ``<record>:<name>`` of
# the segments that hold values, and one Redis list ``<record>:<name>:<segment>`` per segment.
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
local function by_index(kept, added)
  local keyed = {}
  for _, values in ipairs({kept, added}) do
    for _, raw in ipairs(values) do keyed[#keyed + 1] = {cjson.decode(raw).index, raw} end
  end
  table.sort(keyed, function(a, b) return a[1] < b[1] end)
  local merged = {}
  for i, pair in ipairs(keyed) do merged[i] = pair[2] end
  return merged
end
local function extend(record, name, segment, values, ttl, ordered)
  if #values == 0 then return end
  local index = record .. ':' .. name
  local key = index .. ':' .. segment
  if ordered and redis.call('EXISTS', key) == 1 then
    values = by_index(redis.call('LRANGE', key, 0, -1), values)
    redis.call('DEL', key)
  end
  for i = 1, #values, 500 do
    redis.call('RPUSH', key, unpack(values, i, math.min(i + 499, #values)))
  end
  redis.call('ZADD', index, segment, segment)
  redis.call('EXPIRE', key, ttl)
  redis.call('EXPIRE', index, ttl)
end
local function clear(record, name)
  local index = record .. ':' .. name
  for _, segment in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    redis.call('DEL', index .. ':' .. segment)
  end
  redis.call('DEL', index)
end
"""

# Up to ``limit`` values of list ``name`` from (``segment``, ``offset``) on, reading only the
# segments it returns, and where the next page starts (false: nothing left).
LUA_PAGE = """
local function page(record, name, segment, offset, limit)
  local index = record .. ':' .. name
  local values = {}
  local from = segment
  while true do
    local segments = redis.call('ZRANGEBYSCORE', index, from, '+inf', 'LIMIT', 0, 64)
    for _, found in ipairs(segments) do
      local current = tonumber(found)
      local start = 0
      if current == segment then start = offset end
      if #values == limit then return {values, {current, start}} end
      local key = index .. ':' .. found
      local taken = redis.call('LRANGE', key, start, start + limit - #values - 1)
      for _, value in ipairs(taken) do values[#values + 1] = value end
      if #values == limit and start + #taken < redis.call('LLEN', key) then
        return {values, {current, start + #taken}}
      end
    end
    if #segments < 64 then return {values, false} end
    from = '(' .. segments[#segments]
  end
end
"""

REPORT_CHUNK = (
    LUA_FUNCTIONS
    + """
local record, reported, payload, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local chunk, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local rules, ordered = cjson.decode(ARGV[6]), cjson.decode(ARGV[7])
if redis.call('EXISTS', record) == 0 then return 0 end
if redis.call('SADD', reported, chunk) == 0 then return 0 end
redis.call('EXPIRE', reported, ttl)
redis.call('HDEL', payload, chunk)
for name, amount in pairs(cjson.decode(ARGV[4])) do
  redis.call('HINCRBY', record, name, amount)
end
for name, values in pairs(cjson.decode(ARGV[5])) do
  extend(record, name, chunk, values, ttl, ordered[name])
end
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
for _, name in ipairs(cjson.decode(ARGV[6])) do clear(record, name) end
for name, values in pairs(cjson.decode(ARGV[2])) do extend(record, name, 0, values, ttl, false) end
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

SNAPSHOT = (
    LUA_PAGE
    + """
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return false end
local limit, rules = tonumber(ARGV[1]), cjson.decode(ARGV[2])
local status
for i = 1, #record, 2 do
  if record[i] == 'status' then status = record[i + 1] end
end
local lists = {}
if rules.terminal[status] then
  for _, name in ipairs(cjson.decode(ARGV[3])) do
    table.insert(lists, page(KEYS[1], name, 0, 0, limit))
  end
end
return {record, page(KEYS[1], 'errors', 0, 0, limit), lists}
"""
)
SNAPSHOT_ARGS = (STATUS_LIST_LIMIT, RULES, orjson.dumps(ALL_LISTS))

# ARGV: list name, segment, offset, limit, and whether the record comes with the page.
PAGE = (
    LUA_PAGE
    + """
local found = page(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
if ARGV[5] == '0' then return {{}, found} end
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return false end
return {record, found}
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
