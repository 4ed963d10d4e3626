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

Every change is one Lua script (:mod:`handoff.live_state_lua`), so it is
atomic across processes.
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
from . import live_state_lua as lua
from .live_status import RedisAgentStatus
from .live_state import AGENT, BOT, CLOSED, CLOSED_KEPT_S, HANDLE_TIMES_KEPT, WAITING, LiveState, QueueEntry, Snapshot

CONVERSATION_TTL_S = 30 * 24 * 3600
#: an escalation marker outlives any chat it is about
ESCALATED_KEPT_S = 7 * 24 * 3600

_FIELDS = ("state", "queue", "handoff_id", "agent_id", "agent_name", "entry", "rating_handoff", "pending")


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
        self._enqueue = self.redis.register_script(lua.ENQUEUE)
        self._claim = self.redis.register_script(lua.CLAIM)
        self._offer = self.redis.register_script(lua.OFFER)
        self._release = self.redis.register_script(lua.RELEASE)
        self._dequeue = self.redis.register_script(lua.DEQUEUE)
        self._set_state = self.redis.register_script(lua.SET_STATE)
        self._count = self.redis.register_script(lua.COUNT)

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
