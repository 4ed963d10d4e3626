"""Wait estimates, and the queues shown whenever they change.

A shopper waiting in a queue gets a ``queue`` frame (position, estimated wait)
whenever either changes; every agent gets ``queues`` whenever the queues
change or agents come and go (PROTOCOL.md, both endpoints). Changes are
announced on the bus (:meth:`Hub.queues_changed`), and each process refreshes
its own sockets once per burst of changes (:meth:`Waits.schedule_refresh`).

Estimated wait: ``ceil(position x average handle time / max(1, agents
online))``, where the average handle time is the rolling mean of the last 50
chats (claim to close or hand-back), ``default_handle_s`` before any.
"""
from __future__ import annotations

import asyncio
import math
from typing import Dict, Optional, Tuple

from . import frames
from .core import GatewayCore
from .frames import Frame
from .live_state import positions


def wait_estimate(position: int, online: int, handle_s: float) -> int:
    return int(math.ceil(position * handle_s / max(1, online)))


class Waits:
    """Positions and estimates to waiting shoppers, queue lists to agents."""

    def __init__(self, core: GatewayCore) -> None:
        self.core = core
        self._refresh_pending = False
        #: the last ``queue`` frame each local conversation got (sent again only when it changes)
        self._last_queue: Dict[str, Frame] = {}

    async def handle_s(self) -> float:
        average = await self.core.live.average_handle_time()
        return self.core.config.default_handle_s if average is None else average

    async def queue_frame(self, cid: str, queue: str) -> Optional[Tuple[Frame, int]]:
        """The ``queue`` frame of a chat waiting in ``queue`` (remembered as
        sent) and how many agents are online; None if it is not in the queues
        after all."""
        live = self.core.live
        where = positions(await live.snapshot())
        if cid not in where:
            return None
        online = len(await live.online_agents())
        frame = frames.queue(queue, where[cid], wait_estimate(where[cid], online, await self.handle_s()))
        self._last_queue[cid] = frame
        return frame, online

    def forget(self, cid: str) -> None:
        """The conversation has no socket here any more."""
        self._last_queue.pop(cid, None)

    def schedule_refresh(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            self.core.tasks.spawn(self._refresh())

    async def _refresh(self) -> None:
        await asyncio.sleep(0)  # coalesce a burst of changes into one refresh
        self._refresh_pending = False
        core = self.core
        snapshot = await core.live.snapshot()
        local = core.hub.local_conversations()
        agents = list(core.hub.agent_sockets())
        if agents:
            core.hub.write(agents, frames.dumps(frames.queues(snapshot)))
        if not local:
            return
        where = positions(snapshot)
        online = len(await core.live.online_agents())
        handle_s = await self.handle_s()
        queue_of = {e.conversation_id: q for q, entries in snapshot.items() for e in entries}
        for cid in local:
            position = where.get(cid)
            if position is None:
                self._last_queue.pop(cid, None)
                continue
            frame = frames.queue(queue_of[cid], position, wait_estimate(position, online, handle_s))
            if self._last_queue.get(cid) != frame:
                self._last_queue[cid] = frame
                core.hub.write(core.hub.shopper_sockets(cid), frames.dumps(frame))
