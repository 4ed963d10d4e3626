"""The :class:`~handoff.live_state.QueueStore` on Redis, shared by gateway processes.

Keys (``P`` is the prefix, ``kara`` by default; tests use their own):

* ``P:conv:<id>``: hash ``state, queue, handoff_id, agent_id, agent_name,
  entry (JSON), rating_handoff``; deleted when the chat is back with the bot,
  expires :data:`~handoff.live_state.CLOSED_KEPT_S` after it closed, and after 30
  days without change otherwise (what is kept: :mod:`handoff.live_state`).
* ``P:q:<queue>``: sorted set of waiting conversation ids; the score is a
  sequence number (``P:seq``), a chat sent to the front gets the lowest
  score minus one.
* ``P:owned:<agent id>``: set of conversation ids the agent owns.
* ``P:presence``: sorted set ``<agent id>|<process id>`` scored by expiry.
* ``P:aht``: list of the last handle times (seconds).
* ``P:paged:<handoff id>``: set once when an emergency handoff is paged.
* ``P:escalated:<key>``: set once when an SLA escalation happened
  (``mark_escalated``, :mod:`handoff.escalation`), kept a week.
* ``P:populated``: set once the live state was built; missing after Redis
  restarted empty, which makes the gateway rebuild it from SQL.
* ``P:once:<job>``: a job one process runs for all (``once``), with a TTL.
* ``P:count:<key>``: a throttle counter (``count``), expiring with its window.
* ``P:status``, ``P:claimed_at``: hashes agent id -> status, last claim time
  (:mod:`handoff.live_status`).

A chat whose owner transferred it (:mod:`handoff.assign`) stays ``agent``
with its ``pending`` entry (JSON) in the hash and its id in the target
queue's sorted set, until someone claims it.

Every change is one Lua script, so it is atomic across processes.
"""
from __future__ import annotations

import time
from typing import Any, List, Optional, Set, Tuple

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .contract import QUEUES
from .live_status import RedisAgentStatus
from .live_state import AGENT, BOT, CLOSED, CLOSED_KEPT_S, HANDLE_TIMES_KEPT, WAITING, LiveState, QueueEntry, Snapshot

CONVERSATION_TTL_S = 30 * 24 * 3600
#: an escalation marker outlives any chat it is about
ESCALATED_KEPT_S = 7 * 24 * 3600

_FIELDS = ("state", "queue", "handoff_id", "agent_id", "agent_name", "entry", "rating_handoff", "pending")

# KEYS: conv, target queue, seq, owned set of the current owner (or a dummy), all queues
# ARGV: conv id, queue, handoff id, entry json, front ("1"/"0"), ttl, required owner ("" = none)
_ENQUEUE = """
if ARGV[7] ~= '' then
  local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id')
  if cur[1] ~= 'agent' or cur[2] ~= ARGV[7] then return 0 end
  redis.call('SREM', KEYS[4], ARGV[1])
end
for i = 5, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
local score
if ARGV[5] == '1' then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if first[2] then score = tonumber(first[2]) - 1 else score = redis.call('INCR', KEYS[3]) end
else
  score = redis.call('INCR', KEYS[3])
end
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'waiting', 'queue', ARGV[2], 'handoff_id', ARGV[3],
           'entry', ARGV[4], 'agent_id', '', 'agent_name', '', 'rating_handoff', '', 'pending', '')
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

# A waiting chat, or one whose owner transferred it (its ``pending`` entry):
# the claimer takes it unless it is offered to someone else, is their own, or
# (ARGV[5] set) they already own that many chats.
# KEYS: conv, owned set of the claimer, claim times, all queues
# ARGV: conv id, agent id, agent name, ttl, capacity ('' = none), now, key prefix
_CLAIM = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id', 'entry', 'pending')
local entry
if cur[1] == 'waiting' then entry = cur[3]
elseif cur[1] == 'agent' and cur[4] and cur[4] ~= '' and cur[2] ~= ARGV[2] then entry = cur[4]
else return false end
if ARGV[5] ~= '' and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[5]) then return false end
local e = cjson.decode(entry)
if e.offered_to ~= nil and e.offered_to ~= cjson.null and tostring(e.offered_to) ~= ARGV[2] then return false end
for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
if cur[1] == 'agent' then redis.call('SREM', ARGV[7] .. ':owned:' .. cur[2], ARGV[1]) end
redis.call('HSET', KEYS[1], 'state', 'agent', 'agent_id', ARGV[2], 'agent_name', ARGV[3], 'entry', entry,
           'pending', '', 'queue', e.queue, 'handoff_id', string.format('%d', e.handoff_id))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[6])
return entry
"""

# The owner transfers the chat and keeps it meanwhile: ``pending`` set, its id
# in the target queue (left where it is when already there).
# KEYS: conv, target queue, seq, all queues; ARGV: conv id, owner, entry json,
# handoff id the pending entry must have ('' = any)
_OFFER = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id', 'pending')
if cur[1] ~= 'agent' or cur[2] ~= ARGV[2] then return 0 end
if ARGV[4] ~= '' then
  if not cur[3] or cur[3] == '' then return 0 end
  if string.format('%d', cjson.decode(cur[3]).handoff_id) ~= ARGV[4] then return 0 end
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
redis.call('HSET', KEYS[1], 'pending', ARGV[3])
return 1
"""

# A chat leaving the queue or an agent goes to ``bot`` (the hash is deleted:
# with the bot, nothing is kept) or ``closed`` (kept without its entry).
# KEYS: conv, owned set, all queues (a pending transfer is withdrawn);
# ARGV: conv id, agent id, new state, rating handoff, ttl
_RELEASE = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id')
if cur[1] ~= 'agent' or cur[2] ~= ARGV[2] then return 0 end
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
if ARGV[3] == 'bot' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'queue', '', 'agent_id', '', 'agent_name', '',
             'entry', '', 'rating_handoff', ARGV[4], 'pending', '')
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: conv, all queues; ARGV: conv id, new state, ttl
_DEQUEUE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'waiting' then return false end
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
local entry = redis.call('HGET', KEYS[1], 'entry')
if ARGV[2] == 'bot' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'queue', '', 'entry', '')
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return entry
"""

# KEYS: conv, all queues; ARGV: conv id, ttl, then field/value pairs (none: forget it)
# KEYS: counter; ARGV: add, window ms. Returns {count, ms left in the window}.
_COUNT = """
local add = tonumber(ARGV[1])
if add < 0 and redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local n = redis.call('INCRBY', KEYS[1], add)
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  left = tonumber(ARGV[2])
end
return {n, left}
"""

_SET_STATE = """
local cur = redis.call('HGET', KEYS[1], 'agent_id')
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('DEL', KEYS[1])
if #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return cur
"""


def _ttl(state: str) -> int:
    return CLOSED_KEPT_S if state == CLOSED else CONVERSATION_TTL_S


def connect(url: str) -> "aioredis.Redis":
    """A Redis client that retries a command (twice, after 50-500 ms) when its
    connection fails: after Redis restarted, every pooled connection is stale
    and the first command on each would otherwise fail."""
    return aioredis.from_url(
        url,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def connect_once(url: str) -> "aioredis.Redis":
    """A Redis client whose commands fail at once when the connection does
    (no retry): for the bus's subscriber (see handoff.bus)."""
    return aioredis.from_url(url, decode_responses=True, retry=Retry(NoBackoff(), 0))


def _int(value: Any) -> Optional[int]:
    return int(value) if value not in (None, "", b"") else None


def _str(value: Any) -> Optional[str]:
    return value if value not in (None, "") else None


class RedisQueueStore(RedisAgentStatus):
    """Live state in Redis (see module docs)."""

    def __init__(self, url: str, *, prefix: str = "kara") -> None:
        self.prefix = prefix
        self.redis = connect(url)
        self._enqueue = self.redis.register_script(_ENQUEUE)
        self._claim = self.redis.register_script(_CLAIM)
        self._offer = self.redis.register_script(_OFFER)
        self._release = self.redis.register_script(_RELEASE)
        self._dequeue = self.redis.register_script(_DEQUEUE)
        self._set_state = self.redis.register_script(_SET_STATE)
        self._count = self.redis.register_script(_COUNT)

    # key helpers
    def _conv(self, cid: str) -> str:
        return f"{self.prefix}:conv:{cid}"

    def _queue(self, queue: str) -> str:
        return f"{self.prefix}:q:{queue}"

    def _owned(self, agent_id: Any) -> str:
        return f"{self.prefix}:owned:{agent_id}"

    @property
    def _queues(self) -> List[str]:
        return [self._queue(queue) for queue in QUEUES]

    async def get(self, conversation_id: str) -> LiveState:
        values = await self.redis.hmget(self._conv(conversation_id), _FIELDS)
        state, queue, handoff_id, agent_id, agent_name, entry, rating_handoff, pending = values
        if not state:
            return LiveState()
        return LiveState(
            state=str(state),
            queue=_str(queue),
            handoff_id=_int(handoff_id),
            agent_id=_int(agent_id),
            agent_name=_str(agent_name),
            entry=QueueEntry.from_json(str(entry)) if entry else None,
            rating_handoff=_int(rating_handoff),
            pending=QueueEntry.from_json(str(pending)) if pending else None,
        )

    async def set_state(self, conversation_id: str, state: LiveState) -> None:
        pairs: List[Any] = [] if state.state == BOT else [
            "state", state.state,
            "queue", state.queue or "",
            "handoff_id", "" if state.handoff_id is None else state.handoff_id,
            "agent_id", "",
            "agent_name", "",
            "entry", state.entry.to_json() if state.entry else "",
            "rating_handoff", "" if state.rating_handoff is None else state.rating_handoff,
        ]
        previous_owner = await self._set_state(
            keys=[self._conv(conversation_id), *self._queues],
            args=[conversation_id, _ttl(state.state), *pairs],
        )
        if previous_owner:
            await self.redis.srem(self._owned(previous_owner), conversation_id)

    async def _put(self, entry: QueueEntry, front: bool, owner: Optional[int]) -> bool:
        done = await self._enqueue(
            keys=[
                self._conv(entry.conversation_id),
                self._queue(entry.queue),
                f"{self.prefix}:seq",
                self._owned(owner if owner is not None else "-"),
                *self._queues,
            ],
            args=[
                entry.conversation_id,
                entry.queue,
                entry.handoff_id,
                entry.to_json(),
                "1" if front else "0",
                CONVERSATION_TTL_S,
                "" if owner is None else str(owner),
            ],
        )
        return bool(done)

    async def enqueue(self, entry: QueueEntry, *, front: bool = False) -> None:
        await self._put(entry, front, None)

    async def claim(
        self, conversation_id: str, agent_id: int, agent_name: str, *, capacity: Optional[int] = None
    ) -> Optional[QueueEntry]:
        entry = await self._claim(
            keys=[self._conv(conversation_id), self._owned(agent_id), f"{self.prefix}:claimed_at", *self._queues],
            args=[conversation_id, agent_id, agent_name, CONVERSATION_TTL_S, "" if capacity is None else capacity,
                  repr(time.time()), self.prefix],
        )
        return QueueEntry.from_json(entry) if entry else None

    async def offer(
        self, conversation_id: str, agent_id: int, entry: QueueEntry, *, replaces: Optional[int] = None
    ) -> bool:
        done = await self._offer(
            keys=[self._conv(conversation_id), self._queue(entry.queue), f"{self.prefix}:seq", *self._queues],
            args=[conversation_id, agent_id, entry.to_json(), "" if replaces is None else replaces],
        )
        return bool(done)

    async def release(
        self, conversation_id: str, agent_id: int, state: str, *, rating_handoff: Optional[int] = None
    ) -> bool:
        done = await self._release(
            keys=[self._conv(conversation_id), self._owned(agent_id), *self._queues],
            args=[conversation_id, agent_id, state, "" if rating_handoff is None else rating_handoff,
                  _ttl(state)],
        )
        return bool(done)

    async def requeue(self, conversation_id: str, agent_id: int, entry: QueueEntry, *, front: bool) -> bool:
        assert entry.conversation_id == conversation_id
        return await self._put(entry, front, agent_id)

    async def dequeue(self, conversation_id: str, state: str) -> Optional[QueueEntry]:
        entry = await self._dequeue(
            keys=[self._conv(conversation_id), *self._queues], args=[conversation_id, state, _ttl(state)]
        )
        return QueueEntry.from_json(entry) if entry else None

    async def snapshot(self) -> Snapshot:
        pipe = self.redis.pipeline(transaction=True)
        for key in self._queues:
            pipe.zrange(key, 0, -1)
        id_lists = await pipe.execute()
        all_ids = [cid for ids in id_lists for cid in ids]
        entries = {}
        if all_ids:
            pipe = self.redis.pipeline(transaction=False)
            for cid in all_ids:
                pipe.hmget(self._conv(cid), "state", "entry", "pending")
            for cid, (state, entry, pending) in zip(all_ids, await pipe.execute()):
                if state == WAITING and entry:
                    entries[cid] = QueueEntry.from_json(entry)
                elif state == AGENT and pending:
                    entries[cid] = QueueEntry.from_json(pending)
        return {queue: [entries[cid] for cid in ids if cid in entries] for queue, ids in zip(QUEUES, id_lists)}

    async def owned_by(self, agent_id: int) -> List[str]:
        members = await self.redis.smembers(self._owned(agent_id))
        if not members:
            return []
        # Trust the conversation hash over the set (the set is an index).
        ids = sorted(str(member) for member in members)
        pipe = self.redis.pipeline(transaction=False)
        for cid in ids:
            pipe.hmget(self._conv(cid), "state", "agent_id")
        return [
            cid
            for cid, (state, owner) in zip(ids, await pipe.execute())
            if state == AGENT and owner == str(agent_id)
        ]

    async def agent_online(self, agent_id: int, process_id: str, ttl_s: float) -> None:
        await self.redis.zadd(f"{self.prefix}:presence", {f"{agent_id}|{process_id}": time.time() + ttl_s})

    async def agent_offline(self, agent_id: int, process_id: str) -> None:
        await self.redis.zrem(f"{self.prefix}:presence", f"{agent_id}|{process_id}")

    async def online_agents(self) -> Set[int]:
        key = f"{self.prefix}:presence"
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zrangebyscore(key, now, "+inf")
        _, members = await pipe.execute()
        return {int(member.split("|", 1)[0]) for member in members}

    async def record_handle_time(self, seconds: float) -> None:
        key = f"{self.prefix}:aht"
        pipe = self.redis.pipeline(transaction=True)
        pipe.lpush(key, f"{seconds:.3f}")
        pipe.ltrim(key, 0, HANDLE_TIMES_KEPT - 1)
        await pipe.execute()

    async def average_handle_time(self) -> Optional[float]:
        values = await self.redis.lrange(f"{self.prefix}:aht", 0, -1)
        if not values:
            return None
        return sum(float(v) for v in values) / len(values)

    async def mark_paged(self, handoff_id: int) -> bool:
        return bool(await self.redis.set(f"{self.prefix}:paged:{handoff_id}", "1", nx=True, ex=7 * 24 * 3600))

    async def mark_escalated(self, key: str) -> bool:
        return bool(await self.redis.set(f"{self.prefix}:escalated:{key}", "1", nx=True, ex=ESCALATED_KEPT_S))

    async def owners(self) -> Set[int]:
        found: Set[int] = set()
        cut = len(self._owned(""))
        async for key in self.redis.scan_iter(match=self._owned("*"), count=500):
            suffix = key[cut:]
            if suffix.isdigit() and await self.redis.scard(key):
                found.add(int(suffix))
        return found

    async def once(self, key: str, ttl_s: float) -> bool:
        ttl_ms = max(1, int(ttl_s * 1000))
        return bool(await self.redis.set(f"{self.prefix}:once:{key}", "1", nx=True, px=ttl_ms))

    async def count(self, key: str, window_s: float, add: int = 1) -> Tuple[int, float]:
        window_ms = max(1, int(window_s * 1000))
        hits, left_ms = await self._count(keys=[f"{self.prefix}:count:{key}"], args=[add, window_ms])
        return max(0, int(hits)), int(left_ms) / 1000

    async def populated(self) -> bool:
        return bool(await self.redis.exists(f"{self.prefix}:populated"))

    async def mark_populated(self) -> None:
        await self.redis.set(f"{self.prefix}:populated", "1")

    async def close(self) -> None:
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()
