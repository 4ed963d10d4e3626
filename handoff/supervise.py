"""Supervisors on the agent socket: every live chat, reading one without joining, reassigning.

* ``list_chats`` -> ``live_chats``: every waiting and claimed chat (with its
  owner and a pending transfer) and every agent online (status, chats,
  capacity).
* ``watch`` -> ``watching`` (the chat with its transcript), then the chat's
  messages live on that socket (:meth:`handoff.hub.Hub.watch`: the process
  listens on the conversation's topic; nothing is published for a watcher,
  so the shopper and the owner see nothing of it). ``unwatch`` stops.
* ``reassign``: a claimed chat to another agent (they get ``claimed`` at
  once, the owner ``chat_ended`` ``transferred``) or to a queue (a transfer
  made for the owner: they keep it until someone takes it); a waiting chat to
  an agent (claimed for them).

Roles are read at each frame (``agents.role``), as the desk's HTTP routes do;
an agent who is not a supervisor gets ``forbidden``. ``watch`` and
``reassign`` are written to the audit log (:mod:`handoff.desk.audit`:
``chat.watch``, ``chat.reassign``) in their own transaction.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from . import frames
from .assign import desk_agents
from .desk import audit
from .desk.web import Caller
from .frames import Frame
from .live_state import AGENT, WAITING
from .live_status import ONLINE
from .ops.roles import SUPERVISOR, stored_role
from .protocol import Code, ProtocolError
from .storage import AgentRecord

if TYPE_CHECKING:
    from .agents import AgentDesk
    from .core import GatewayCore


class Supervision:
    """The supervisors' frames (module docs)."""

    def __init__(self, core: "GatewayCore", desk: "AgentDesk") -> None:
        self.core = core
        self.desk = desk

    async def _supervisor(self, agent: AgentRecord) -> Caller:
        role = await stored_role(self.core.storage.engine, agent.id)
        if role != SUPERVISOR:
            raise ProtocolError(Code.FORBIDDEN, "Only supervisors can do that.")
        return Caller(agent.id, agent.username, agent.name, role)

    async def _audit(self, who: Caller, action: str, target: str, detail: Dict[str, Any]) -> None:
        async with self.core.storage.engine.begin() as connection:
            await connection.run_sync(lambda sync: audit.record(sync, who, action, target, detail))

    async def list_chats(self, agent: AgentRecord, ref: Optional[str]) -> Frame:
        await self._supervisor(agent)
        live = self.core.live
        chats: List[Frame] = []
        for entries in (await live.snapshot()).values():
            chats += [frames.live_chat(e, WAITING, None) for e in entries if e.kept_by is None]
        for owner in sorted(await live.owners()):
            for cid in await live.owned_by(owner):
                state = await live.get(cid)
                if state.state == AGENT and state.entry is not None:
                    chats.append(frames.live_chat(state.entry, AGENT, (owner, state.agent_name), state.pending))
        online = await live.online_agents()
        statuses = await live.statuses()
        agents = [
            frames.desk_agent(a, record.name, statuses.get(a, ONLINE), len(await live.owned_by(a)), capacity)
            for a, (record, capacity) in sorted((await desk_agents(self.core, online)).items())
        ]
        return frames.live_chats(chats, agents, ref)

    async def watch(self, agent: AgentRecord, socket: Any, cid: str, ref: Optional[str]) -> Frame:
        who = await self._supervisor(agent)
        state = await self.core.live.get(cid)
        if state.state not in (WAITING, AGENT):
            raise ProtocolError(Code.NOT_FOUND, "That conversation is not waiting nor with an agent.")
        await self.core.hub.watch(cid, socket)
        await self._audit(who, "chat.watch", cid, {"state": state.state, "agent_id": state.agent_id})
        return frames.watching(await self.desk.chat(cid), ref)

    async def unwatch(self, agent: AgentRecord, socket: Any, cid: str) -> None:
        await self.core.hub.unwatch(cid, socket)

    async def reassign(
        self, agent: AgentRecord, cid: str, to_agent: Optional[int], queue: Optional[str], ref: Optional[str]
    ) -> Frame:
        who = await self._supervisor(agent)
        if (to_agent is None) == (queue is None):
            raise ProtocolError(Code.MISSING_FIELD, "Give agent_id or queue.", field="agent_id")
        state = await self.core.live.get(cid)
        target = await self.desk.online_agent(to_agent) if to_agent is not None else None
        if state.state == WAITING and target is not None:
            await self.desk.claim(target, cid, None)
        elif state.state == AGENT and state.agent_id is not None and state.entry is not None:
            owner = await self.core.storage.agent(state.agent_id)
            if owner is None:
                raise ProtocolError(Code.NOT_FOUND, "No such agent.")
            await self.desk.transfer(owner, cid, queue or state.entry.queue, to_agent=to_agent, by=agent)
            if target is not None:
                await self.desk.claim(target, cid, None)
        elif state.state == WAITING:
            raise ProtocolError(Code.BAD_STATE, "A waiting chat can be given to an agent, not to another queue.")
        else:
            raise ProtocolError(Code.NOT_FOUND, "That conversation is not waiting nor with an agent.")
        detail = {"from": state.agent_id, "from_name": state.agent_name, "to_agent": to_agent,
                  "to_name": target.name if target else None, "queue": queue}
        await self._audit(who, "chat.reassign", cid, detail)
        return frames.reassigned(cid, to_agent, target.name if target else None, queue, ref)
