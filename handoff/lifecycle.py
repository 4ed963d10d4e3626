"""Lifecycle: start and close, the heartbeat, and the sweep for agents whose process died.

A process that dies takes its timers along (:class:`~handoff.core.Tasks`):
every process's heartbeat (a third of the presence TTL) renews its own agents'
presence and sweeps for chats owned by agents who are absent everywhere,
requeuing them once they have been absent for the grace period
(:meth:`~handoff.agents.AgentDesk.grace_over`, which runs once across
processes).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Dict

from . import escalation
from .agents import AgentDesk
from .core import GatewayCore
from .recovery import Recovery

logger = logging.getLogger(__name__)


class Lifecycle:
    """Start the gateway's background jobs, keep its presence fresh, close it."""

    def __init__(self, core: GatewayCore, recovery: Recovery, desk: AgentDesk) -> None:
        self.core = core
        self.recovery = recovery
        self.desk = desk
        #: agents owning chats yet online nowhere, since when (time.monotonic())
        self._absent_since: Dict[int, float] = {}

    async def start(self) -> None:
        await self.core.hub.start()
        await self.recovery.ensure()
        self.core.tasks.spawn(self._heartbeat())
        # SLA breaches and quiet agents (handoff/escalation.py)
        self.core.tasks.spawn(escalation.watch(self.core, self.desk.handoffs))
        self.core.tasks.spawn(self.recovery.watch())

    async def close(self) -> None:
        core = self.core
        await core.tasks.cancel_all()
        for agent_id in list(core.agents):
            try:
                await core.live.agent_offline(agent_id, core.process_id)
            except Exception:
                pass
        await core.hub.bus.close()
        await core.live.close()
        await core.rasa.close()
        await core.storage.close()

    async def _heartbeat(self) -> None:
        """Every third of the presence TTL: renew this process's agents, and
        sweep for chats whose agent is gone without a grace timer anywhere
        (their gateway process died)."""
        core = self.core
        ttl = core.config.presence_ttl_s
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                for agent_id in core.hub.local_agents():
                    await core.live.agent_online(agent_id, core.process_id, ttl)
                await self.sweep()
            except Exception:
                logger.exception("heartbeat failed")

    async def sweep(self) -> None:
        core = self.core
        now = time.monotonic()
        online = await core.live.online_agents()
        absent = (await core.live.owners()) - online
        for agent_id in list(self._absent_since):
            if agent_id not in absent:
                del self._absent_since[agent_id]
        for agent_id in absent:
            since = self._absent_since.setdefault(agent_id, now)
            if now - since < core.config.grace_seconds:
                continue
            del self._absent_since[agent_id]
            agent = await core.storage.agent(agent_id)
            if agent is not None:
                await self.desk.grace_over(agent)
