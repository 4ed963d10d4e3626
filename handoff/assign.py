"""Automatic assignment of waiting chats, and agent status.

An agent is ``online``, ``away`` or ``busy`` (the ``status`` frame, kept in
the live state: :mod:`handoff.live_status`). With ``auto_assign`` on (the
default), whenever a chat starts waiting (new, transferred, requeued), an
agent connects or returns to ``online``, or an agent frees a slot (close,
hand back, a transfer taken), the gateway gives waiting chats to online
agents: the first chat in serving order (emergency, security, disputes,
general; oldest first within a queue; a chat offered to a named agent is
left to them) goes to the ``online`` agent with the fewest chats below
their capacity (``agents.capacity``), the one idle longest (last claim
longest ago) on a tie; never back to the agent who is transferring it.

Assigning *is* claiming on the agent's behalf (:meth:`AgentDesk.claim`):
the agent gets ``claimed``, the shopper "X joined the chat", exactly as for
a manual ``claim``. The live-state claim checks the capacity in the same
atomic step (a Lua script on Redis), so two gateway processes assigning at
once never give a chat twice nor an agent more than their capacity; the
loser of a race just picks again. Manual claiming works as before (and is
not limited by capacity: an agent may always take a chat on purpose).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from sqlalchemy import select

from . import frames, models
from .contract import QUEUES
from .hub import Hub
from .live_state import QueueEntry, Snapshot
from .live_status import ONLINE
from .storage import AgentRecord

if TYPE_CHECKING:
    from .agents import AgentDesk
    from .core import GatewayCore

logger = logging.getLogger(__name__)

agents_t = models.table_of(models.Agent)
#: picks per run at most (each one a claim): a run never spins for ever
MAX_PICKS = 200


class Assigner:
    """Status changes and the assignment runs of one gateway process."""

    def __init__(self, core: "GatewayCore", desk: "AgentDesk") -> None:
        self.core = core
        self.desk = desk
        self._running: Optional["asyncio.Task[None]"] = None
        self._again = False

    async def set_status(self, agent: AgentRecord, status: str) -> None:
        """The agent's own ``status`` frame: kept, shown to every agent."""
        await self.core.live.set_status(agent.id, status)
        await self.core.hub.send(Hub.to_agents(frames.agent_status(agent.id, agent.name, status)))
        if status == ONLINE:
            self.wake()

    def wake(self) -> None:
        """Run soon, in the background; a wake during a run makes it run again."""
        if not self.core.config.auto_assign:
            return
        if self._running is not None and not self._running.done():
            self._again = True
            return
        self._running = self.core.tasks.spawn(self._runs())

    async def _runs(self) -> None:
        while True:
            self._again = False
            try:
                await self.run()
            except Exception:
                logger.exception("automatic assignment failed")
            if not self._again:
                return

    async def run(self) -> int:
        """Assign until no waiting chat fits an online agent; how many were assigned."""
        assigned = 0
        lost: Set[Tuple[int, str]] = set()  # claims that failed this run: not tried again
        known: Dict[int, Tuple[AgentRecord, int]] = {}  # agents' rows, read once a run
        for _ in range(MAX_PICKS):
            pick = await self._pick(lost, known)
            if pick is None:
                break
            agent, capacity, cid = pick
            if await self.desk.claim(agent, cid, None, capacity=capacity):
                assigned += 1
            else:
                lost.add((agent.id, cid))
        return assigned

    async def _pick(self, lost: Set[Tuple[int, str]],
                    known: Dict[int, Tuple[AgentRecord, int]]) -> Optional[Tuple[AgentRecord, int, str]]:
        """The next (agent, their capacity, chat) of the module docs, or None. ``known``
        keeps the agents' rows between the picks of one run (one SQL query, not one a pick)."""
        live = self.core.live
        statuses = await live.statuses()
        ready = {a for a in await live.online_agents() if statuses.get(a, ONLINE) == ONLINE}
        if not ready:
            return None
        snapshot = await live.snapshot()
        entries = _open_entries(snapshot)
        if not entries:
            return None
        known.update(await desk_agents(self.core, ready - set(known)))
        agents = {a: known[a] for a in ready if a in known}
        loads = {agent_id: len(await live.owned_by(agent_id)) for agent_id in agents}
        idle = await live.claim_times()
        for entry in entries:
            free = [a for a, (_, capacity) in agents.items()
                    if loads[a] < capacity and a != entry.kept_by and (a, entry.conversation_id) not in lost]
            if free:
                best = min(free, key=lambda a: (loads[a], idle.get(a, 0.0), a))
                record, capacity = agents[best]
                return record, capacity, entry.conversation_id
        return None


async def desk_agents(core: "GatewayCore", ids: Set[int]) -> Dict[int, Tuple[AgentRecord, int]]:
    """Active agents among ``ids`` with their capacity (``agents.capacity``)."""
    if not ids:
        return {}
    async with core.storage.engine.connect() as connection:
        rows = await connection.execute(
            select(agents_t.c.id, agents_t.c.username, agents_t.c.name, agents_t.c.password_hash,
                   agents_t.c.capacity)
            .where(agents_t.c.id.in_(sorted(ids)), agents_t.c.active.is_(True))
        )
        return {
            int(row.id): (AgentRecord(int(row.id), row.username, row.name, row.password_hash, True),
                          int(row.capacity))
            for row in rows
        }


def _open_entries(snapshot: Snapshot) -> List[QueueEntry]:
    """Waiting chats anyone may take, in serving order (not those offered to a named agent)."""
    return [entry for queue in QUEUES for entry in snapshot.get(queue, []) if entry.offered_to is None]
