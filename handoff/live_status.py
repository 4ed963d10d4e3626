"""Agent status in the live state: ``online``, ``away``, ``busy`` (handoff/assign.py).

An agent sets it with the ``status`` frame; every gateway process reads the
same value (a Redis hash, or a dict for one process). It is kept across
reconnects (an agent who went ``away`` and reloads the console is still
away); an agent never set is ``online``. Only ``online`` agents get chats
assigned automatically; ``away`` and ``busy`` still count as logged in
(presence, grace period and estimated waits do not change).

Also here: when each agent last claimed a chat, the tie-break of automatic
assignment (the agent idle longest goes first).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict

if TYPE_CHECKING:  # the protocol module imports the statuses; it needs no Redis client
    import redis.asyncio as aioredis

ONLINE, AWAY, BUSY = "online", "away", "busy"
STATUSES = (ONLINE, AWAY, BUSY)
#: not a status one sets: ``agent_status`` says so when an agent's last socket (any process) closed
OFFLINE = "offline"


class MemoryAgentStatus:
    """The status part of :class:`~handoff.live_state.MemoryQueueStore`."""

    def __init__(self) -> None:
        self._status: Dict[int, str] = {}
        self._claimed_at: Dict[int, float] = {}

    async def set_status(self, agent_id: int, status: str) -> None:
        self._status[agent_id] = status

    async def statuses(self) -> Dict[int, str]:
        return dict(self._status)

    async def claim_times(self) -> Dict[int, float]:
        return dict(self._claimed_at)


class RedisAgentStatus:
    """The status part of :class:`~handoff.live_state_redis.RedisQueueStore`
    (keys ``P:status`` and ``P:claimed_at``, hashes by agent id)."""

    prefix: str
    redis: "aioredis.Redis"

    async def set_status(self, agent_id: int, status: str) -> None:
        await self.redis.hset(f"{self.prefix}:status", str(agent_id), status)

    async def statuses(self) -> Dict[int, str]:
        found = await self.redis.hgetall(f"{self.prefix}:status")
        return {int(k): str(v) for k, v in found.items()}

    async def claim_times(self) -> Dict[int, float]:
        found = await self.redis.hgetall(f"{self.prefix}:claimed_at")
        return {int(k): float(v) for k, v in found.items()}
