"""Live-state recovery: Redis restarting empty, and the bus going away for a while.

Redis restarting empty loses the live state, not the chats: every process
checks every ``live_state_check_s`` that it is still there
(:meth:`QueueStore.populated`), and one of them rebuilds it from the open
handoff stints in SQL (:meth:`Recovery.restore_live_state`): waiting chats go
back to their queues in their order, claimed ones to their agents.

Redis pub/sub keeps nothing for a process whose subscriber connection is away:
once it is back, :meth:`Recovery.replay_missed` sends each local socket what
it may have missed, from the database (PROTOCOL.md "Conversation states").
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Dict, List

from . import frames
from .core import HISTORY_LIMIT, GatewayCore
from .handoffs import queue_entry
from .live_state import AGENT, BOT, WAITING
from .storage import HandoffRecord, MessageRecord
from .waits import Waits

logger = logging.getLogger(__name__)

#: after the bus was away: replay from this long before it went (frames in
#: flight), this long after it is back (see Recovery.replay_missed)
REPLAY_MARGIN_S = 5.0
REPLAY_DELAY_S = 1.0


class Recovery:
    """Rebuild the live state from SQL; replay what a bus loss dropped."""

    def __init__(self, core: GatewayCore, waits: Waits) -> None:
        self.core = core
        self.waits = waits

    async def watch(self) -> None:
        """Check the live state is there, every ``live_state_check_s``, for good."""
        while True:
            await asyncio.sleep(self.core.config.live_state_check_s)
            try:
                await self.ensure()
            except Exception as exc:  # Redis is down right now: try again next round
                logger.warning("live state check failed: %s", type(exc).__name__)

    async def ensure(self) -> None:
        """Rebuild the live state if it is gone (see module docs)."""
        core = self.core
        if await core.live.populated():
            return
        for agent_id in core.hub.local_agents():  # every process re-announces its agents at once
            await core.live.agent_online(agent_id, core.process_id, core.config.presence_ttl_s)
        if not await core.live.once("restore", 30.0):
            return  # another process is rebuilding it
        restored = await self.restore_live_state()
        await core.live.mark_populated()
        if restored:
            logger.warning("live state was lost; restored %d open handoffs from the database", restored)
            await core.hub.queues_changed()

    async def restore_live_state(self) -> int:
        """Put every open handoff stint of the database back into the live
        state: waiting in its queue (oldest first), or owned by its agent when
        it was claimed. Conversations whose live state is known (changed since
        it was lost) are left alone. Returns how many were restored."""
        core = self.core
        latest: Dict[str, HandoffRecord] = {}
        for record in await core.storage.open_handoffs():
            latest[record.conversation_id] = record  # the newest open stint of a conversation
        restored = 0
        for record in sorted(latest.values(), key=lambda r: (r.enqueued_at, r.id)):
            cid = record.conversation_id
            if (await core.live.get(cid)).state != BOT:
                continue
            conversation = await core.storage.conversation(cid)
            await core.live.enqueue(queue_entry(record, conversation.line if conversation else "chat"))
            if record.agent_id is not None and record.claimed_at is not None:
                agent = await core.storage.agent(record.agent_id)
                if agent is not None:
                    await core.live.claim(cid, agent.id, agent.name)
            restored += 1
        return restored

    def replay_missed(self, since: float) -> None:
        """The bus was away from ``since`` (a ``time.time()``) until now, so
        frames published meanwhile never reached this process's sockets.
        Every message among them is in the database: a moment from now (once
        live delivery surely runs again), each local shopper and agent socket
        gets its conversations' messages from a little before ``since`` on,
        with the current state, and the queues are sent again. Clients drop
        messages they have by ``id``, so twice is harmless; missed is not."""
        self.waits.schedule_refresh()
        self.core.tasks.later(REPLAY_DELAY_S, lambda: self._replay(since - REPLAY_MARGIN_S))

    async def _replay(self, since_ts: float) -> None:
        core, hub = self.core, self.core.hub
        since = dt.datetime.fromtimestamp(since_ts, dt.timezone.utc)

        async def missed(cid: str, notes: bool = False) -> List[MessageRecord]:  # notes: agents only
            return [m for m in await core.storage.history(cid, HISTORY_LIMIT, notes=notes) if m.created_at >= since]

        for cid in hub.local_conversations():
            live = await core.live.get(cid)
            state = frames.state(
                live.state,
                queue=live.queue if live.state == WAITING and live.queue else None,
                agent_name=live.agent_name if live.state == AGENT and live.agent_name else None,
            )
            texts = [frames.message_json(m) for m in await missed(cid)] + [frames.dumps(state)]
            hub.write_many(hub.shopper_sockets(cid), texts)
        for agent_id in hub.local_agents():
            for cid in await core.live.owned_by(agent_id):
                texts = [frames.dumps(frames.message_frame(m, conversation_id=True)) for m in await missed(cid, True)]
                if texts:
                    hub.write_many(hub.agent_sockets(agent_id), texts)
        self.waits.schedule_refresh()
