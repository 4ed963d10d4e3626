"""The agent desk: login, connect and disconnect, claim, transfer, hand back, close.

PROTOCOL.md "Agent endpoint". Every change of a chat's owner is one atomic
live-state operation (:class:`~handoff.live_state.QueueStore`: of agents
claiming the same chat at once exactly one wins), stored as a handoff stint
in SQL, then published through the hub so both sides see it whichever
process they are on.

When an agent's last socket on a process closes, their chats stay theirs for
the grace period; then :meth:`AgentDesk.grace_over` puts each back at the front
of its queue (once, whichever process's timer or heartbeat sweep,
:mod:`handoff.lifecycle`, gets there first).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, Optional

from . import countdown, frames
from .assign import desk_agents
from .auth import AGENT as AGENT_TOKEN
from .auth import verify_password
from .bot import BotTurns
from .contract import Handoff
from .core import HISTORY_LIMIT, GatewayCore
from .frames import Frame
from .handoffs import Handoffs
from .hub import Hub
from .live_status import OFFLINE, ONLINE
from .live_state import AGENT, BOT, CLOSED, WAITING, LiveState, QueueEntry
from .ops.roles import stored_role
from .presence import ShopperPresence
from .protocol import Code, ProtocolError
from .storage import NOTE, AgentRecord, MessageRecord, utcnow
from .throttle import Limit, Throttle

REQUEUED_TEXT = "Your agent was disconnected. You are back at the front of the queue."


class AgentDesk:
    """What agents do, one method per agent frame (and login)."""

    def __init__(self, core: GatewayCore, handoffs: Handoffs, bot: BotTurns, throttle: Throttle) -> None:
        self.core = core
        self.handoffs = handoffs
        self.bot = bot
        self.throttle = throttle
        self.presence = ShopperPresence(core)
        config = core.config
        self.login_per_username = Limit("login-user", config.login_per_username, config.login_window_s)
        self.login_per_address = Limit("login-addr", config.login_per_address, config.login_window_s)

    async def login(self, username: str, password: str, address: str = "") -> Optional[Frame]:
        """The token of an agent whose password is right, else None. Every
        attempt counts against the username and the client address
        (:mod:`handoff.throttle`), a successful one is given back; over
        either limit, :class:`~handoff.throttle.Throttled` without checking."""
        core = self.core
        user_key = username.strip().lower()[:64]
        await self.throttle.take_all((self.login_per_username, user_key), (self.login_per_address, address))
        agent = await core.storage.agent_by_username(username)
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, verify_password, agent.password_hash if agent else None, password)
        if not ok or agent is None or not agent.active:
            return None
        await self.throttle.give_back(self.login_per_username, user_key)
        await self.throttle.give_back(self.login_per_address, address)
        token = core.signer.issue(AGENT_TOKEN, str(agent.id), core.config.agent_token_ttl_s)
        return frames.login_answer(token, agent.id, agent.name, await stored_role(core.storage.engine, agent.id))

    async def agent_from_token(self, token: str) -> AgentRecord:
        claims = self.core.signer.verify(token, AGENT_TOKEN)
        agent = None
        if claims is not None and claims.subject.isdigit():
            agent = await self.core.storage.agent(int(claims.subject))
        if agent is None or not agent.active:
            raise ProtocolError(Code.UNAUTHORIZED, "Log in again: this token is not valid.")
        return agent

    # -- presence ----------------------------------------------------------

    async def connected(self, agent: AgentRecord, socket: Any) -> Frame:
        """An agent's socket said hello: their ``welcome``."""
        core = self.core
        core.agents[agent.id] = agent
        await core.hub.add_agent(agent.id, socket)
        await core.live.agent_online(agent.id, core.process_id, core.config.presence_ttl_s)
        chats = [await self.chat(cid) for cid in await core.live.owned_by(agent.id)]
        snapshot = await core.live.snapshot()
        await core.hub.queues_changed()  # estimated waits depend on who is online
        role = await stored_role(core.storage.engine, agent.id)
        statuses = await core.live.statuses()
        status = statuses.get(agent.id, ONLINE)
        await core.hub.send(Hub.to_agents(frames.agent_status(agent.id, agent.name, status)))
        core.wake_assigner()
        roster = [frames.roster_agent(a, record.name, statuses.get(a, ONLINE))
                  for a, (record, _) in sorted((await desk_agents(core, await core.live.online_agents())).items())]
        # a console connecting now learns who already left (later changes come as `presence`)
        present = {e.conversation_id: await self.presence.present(e.conversation_id)
                   for entries in snapshot.values() for e in entries}
        return frames.agent_welcome(agent.id, agent.name, role, snapshot, chats, present, status, roster)

    async def disconnected(self, agent: AgentRecord, socket: Any) -> None:
        core = self.core
        await core.hub.unwatch_all(socket)  # a supervisor's read-only views (handoff/supervise.py)
        if await core.hub.remove_agent(agent.id, socket):
            return  # another socket of this agent is still here
        core.agents.pop(agent.id, None)
        await core.live.agent_offline(agent.id, core.process_id)
        if agent.id not in await core.live.online_agents():  # not on another process either
            await core.hub.send(Hub.to_agents(frames.agent_status(agent.id, agent.name, OFFLINE)))
        await core.hub.queues_changed()
        if await core.live.owned_by(agent.id):
            core.tasks.later(core.config.grace_seconds, lambda: self.grace_over(agent))

    async def grace_over(self, agent: AgentRecord) -> None:
        """The agent has been away for the grace period: requeue their chats
        (once, whichever process's timer or sweep gets here first)."""
        core = self.core
        if agent.id in await core.live.online_agents():
            return
        if not await core.live.once(f"requeue:{agent.id}", max(1.0, core.config.grace_seconds)):
            return
        for cid in await core.live.owned_by(agent.id):
            live = await core.live.get(cid)
            if live.state != AGENT or live.agent_id != agent.id or live.entry is None:
                continue
            await self.handoffs.requeue(cid, agent.id, live.entry, "requeued", REQUEUED_TEXT)

    # -- chats -------------------------------------------------------------

    async def chat(self, cid: str) -> Frame:
        """A chat as the agent who owns it sees it (whole transcript)."""
        storage = self.core.storage
        live = await self.core.live.get(cid)
        transcript = await storage.history(cid, HISTORY_LIMIT, notes=True)  # agents see private notes
        conversation = await storage.conversation(cid)
        stint = await storage.handoff(live.handoff_id) if live.handoff_id is not None else None
        return frames.chat(
            cid,
            conversation.role if conversation else None,
            conversation.line if conversation else None,
            stint.claimed_at if stint else None,
            live.entry,
            transcript,
            countdown.chat_due(live.entry, transcript),
            await self.presence.present(cid),
            live.pending,
        )

    async def owned(self, agent: AgentRecord, cid: str) -> LiveState:
        """The chat's live state, if ``agent`` owns it; else refused."""
        live = await self.core.live.get(cid)
        if live.state != AGENT or live.agent_id is None:
            raise ProtocolError(Code.NOT_FOUND, "That conversation is not with an agent.")
        if live.agent_id != agent.id:
            raise ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")
        return live

    async def _lost(self, agent: AgentRecord, cid: str) -> ProtocolError:
        """The chat changed between :meth:`owned` and the atomic step that
        needed it (e.g. the agent's other socket closed it): the error for
        what it is now."""
        try:
            await self.owned(agent, cid)
        except ProtocolError as error:
            return error
        return ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")

    async def claim(self, agent: AgentRecord, cid: str, ref: Optional[str], capacity: Optional[int] = None) -> bool:
        """Take a waiting chat, or one transferred by its owner (who gets
        ``chat_ended`` ``transferred`` now). An agent's own ``claim`` is
        refused with an error, or answered ``claimed`` when the chat is
        already theirs; automatic assignment (:mod:`handoff.assign`, with the
        agent's ``capacity``) gets False when the chat is gone."""
        core = self.core
        before = await core.live.get(cid)
        entry = await core.live.claim(cid, agent.id, agent.name, capacity=capacity)
        if entry is None:
            if capacity is not None:
                return False
            now = await core.live.get(cid)
            if now.state == AGENT and now.agent_id == agent.id and now.pending is None:
                # e.g. assigned to them while their click was on its way: the claim holds
                await core.hub.send(Hub.to_agent(agent.id, frames.claimed(await self.chat(cid), ref)))
                return True
            raise self._not_claimed(agent, now)
        await core.storage.claim_handoff(entry.handoff_id, agent.id)
        # a transfer is taken (the chat was with its agent): the old owner's stint ends
        taken_from = before.agent_id if before.state == AGENT else entry.kept_by
        if taken_from is not None:
            await self._ended(before.handoff_id, "transferred")
        note = await core.system(cid, f"{agent.name} joined the chat.")
        chat = await self.chat(cid)
        events = [
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, frames.agent_joined(agent.name)),
            Hub.to_shopper(cid, frames.state(AGENT, agent_name=agent.name)),
            Hub.to_agent(agent.id, frames.claimed(chat, ref)),
        ]
        if taken_from is not None:
            events.append(Hub.to_agent(taken_from, frames.chat_ended(cid, "transferred")))
        await core.hub.send(*events)
        await core.hub.queues_changed()
        if taken_from is not None:
            core.wake_assigner()  # the old owner has a free slot
        return True

    def _not_claimed(self, agent: AgentRecord, live: LiveState) -> ProtocolError:
        pending = live.pending
        if pending is not None and live.agent_id == agent.id:
            return ProtocolError(Code.BAD_STATE, "You transferred this chat; you keep it until someone takes it.")
        if pending is not None and pending.offered_to not in (None, agent.id):
            return ProtocolError(Code.NOT_OWNER, f"This chat is offered to {pending.offered_to_name}.")
        if live.state == AGENT:
            return ProtocolError(Code.ALREADY_CLAIMED, "Another agent claimed this chat first.")
        return ProtocolError(Code.NOT_FOUND, "That conversation is not waiting for an agent.")

    async def _ended(self, handoff_id: Optional[int], outcome: str) -> None:
        if handoff_id is not None:
            await self.core.storage.end_handoff(handoff_id, outcome)

    async def seen(self, agent: AgentRecord, cid: str, up_to: str) -> None:
        """The owner read the chat up to ``up_to``: relayed to the shopper's
        sockets, not stored (a read receipt is advisory; the console sends it
        again when the shopper comes back, :mod:`handoff.presence`)."""
        await self.owned(agent, cid)
        await self.core.hub.send(Hub.to_shopper(cid, frames.seen(up_to)))

    async def typing(self, agent: AgentRecord, cid: str, on: bool) -> None:
        await self.owned(agent, cid)
        await self.core.hub.send(Hub.to_shopper(cid, frames.agent_typing(on, agent.name)))

    async def _handle_time(self, handoff_id: Optional[int]) -> None:
        """Count a finished chat's claim-to-end time in the average (handoff.waits)."""
        record = await self.core.storage.handoff(handoff_id) if handoff_id is not None else None
        if record is not None and record.claimed_at is not None:
            await self.core.live.record_handle_time((utcnow() - record.claimed_at).total_seconds())

    async def add_note(self, agent: AgentRecord, cid: str, text: str) -> None:
        """A private note by the chat's owner: stored (sender ``note``) and
        echoed to the owner's sockets only; no shopper topic ever gets one."""
        await self.owned(agent, cid)
        await self._store_note(agent, cid, text)

    async def _store_note(self, agent: AgentRecord, cid: str, text: str) -> None:
        record, _ = await self.core.storage.add_message(
            MessageRecord(conversation_id=cid, sender=NOTE, text=text, agent_id=agent.id, agent_name=agent.name)
        )
        await self.core.hub.send(Hub.to_agent(agent.id, frames.message_frame(record, conversation_id=True)))

    async def transfer(
        self, agent: AgentRecord, cid: str, queue: str, note: Optional[str] = None, *,
        to_agent: Optional[int] = None, by: Optional[AgentRecord] = None,
    ) -> QueueEntry:
        """To another queue, or offered to the named agent ``to_agent`` (in
        ``queue``); ``note`` is kept as a private note the next agent reads on
        claim. The owner keeps the chat until someone takes it (``claim``);
        ``by``: the supervisor who reassigns it (handoff/supervise.py)."""
        core = self.core
        live = await self.owned(agent, cid)
        old = live.entry
        if old is None:
            raise ProtocolError(Code.NOT_FOUND, "That conversation has no handoff to transfer.")
        target = await self._transfer_target(agent, to_agent)
        if note is not None and note.strip():
            await self._store_note(by or agent, cid, note)
        context = dict(old.context, transferred_from=old.queue, transferred_by=(by or agent).name)
        record = await core.storage.open_handoff(
            cid, Handoff(queue=queue, reason=old.reason, summary=old.summary, context=context)
        )
        entry = replace(
            old, queue=queue, handoff_id=record.id, context=context, enqueued_at=time.time(), requeued=False,
            kept_by=agent.id, kept_by_name=agent.name,
            offered_to=target.id if target else None, offered_to_name=target.name if target else None,
        )
        if not await core.live.offer(cid, agent.id, entry):
            await core.storage.end_handoff(record.id, "abandoned")
            raise await self._lost(agent, cid)
        await self._ended(live.pending.handoff_id if live.pending else None, "abandoned")  # an earlier transfer
        whom = target.name if target else f"the {queue} queue"
        shown = await core.system(cid, f"{(by or agent).name} transferred your chat to {whom}.")
        await core.hub.send(
            Hub.to_shopper(cid, shown),
            Hub.to_shopper(cid, frames.state(WAITING, queue=queue)),
            Hub.to_agents(frames.handoff(entry)),
            Hub.to_agent(agent.id, frames.transfer_pending(entry)),
        )
        await core.hub.queues_changed()
        if target is not None:
            core.tasks.later(core.config.transfer_offer_s, lambda: self.offer_lapsed(entry))
        core.wake_assigner()
        return entry

    async def _transfer_target(self, agent: AgentRecord, to_agent: Optional[int]) -> Optional[AgentRecord]:
        """The named agent of a transfer: active and online, not the owner."""
        if to_agent is None:
            return None
        if to_agent == agent.id:
            raise ProtocolError(Code.BAD_VALUE, "That agent has this chat already.", field="agent_id")
        return await self.online_agent(to_agent)

    async def online_agent(self, agent_id: int) -> AgentRecord:
        """An active agent who is online (any status), else refused."""
        target = await self.core.storage.agent(agent_id)
        if target is None or not target.active:
            raise ProtocolError(Code.NOT_FOUND, "No such agent.", field="agent_id")
        if agent_id not in await self.core.live.online_agents():
            raise ProtocolError(Code.UNAVAILABLE, f"{target.name} is not online; transfer to a queue instead.")
        return target

    async def offer_lapsed(self, entry: QueueEntry) -> None:
        """The named agent did not take the chat in ``transfer_offer_s``: it
        is open to anyone in its queue (the owner still keeps it)."""
        core, cid = self.core, entry.conversation_id
        live = await core.live.get(cid)
        if live.pending is None or live.pending.handoff_id != entry.handoff_id or live.agent_id is None:
            return
        opened = replace(live.pending, offered_to=None, offered_to_name=None)
        if not await core.live.offer(cid, live.agent_id, opened, replaces=entry.handoff_id):
            return
        await core.hub.send(
            Hub.to_agents(frames.handoff(opened)), Hub.to_agent(live.agent_id, frames.transfer_pending(opened))
        )
        await core.hub.queues_changed()
        core.wake_assigner()

    async def _freed(self, live: LiveState) -> None:
        """The owner let go (close, handback): a pending transfer is withdrawn
        with the chat, and the owner has a free slot."""
        if live.pending is not None:
            await self._ended(live.pending.handoff_id, "abandoned")
            await self.core.hub.queues_changed()
        self.core.wake_assigner()

    async def handback(self, agent: AgentRecord, cid: str) -> None:
        core = self.core
        live = await self.owned(agent, cid)
        if not await core.live.release(cid, agent.id, BOT):
            raise await self._lost(agent, cid)
        await core.storage.end_handoff(live.handoff_id, "handed_back")  # type: ignore[arg-type]
        await self._handle_time(live.handoff_id)
        await self._freed(live)
        note = await core.system(cid, f"{agent.name} handed you back to the assistant.")
        await core.hub.send(
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, frames.state(BOT)),
            Hub.to_agent(agent.id, frames.chat_ended(cid, "handed_back")),
        )
        conversation = await core.conversation(cid)
        await core.resume_rasa(cid)
        try:
            await self.bot.ask(conversation, "/greet")
        except ProtocolError:
            pass  # the shopper was told the assistant is unavailable

    async def close_chat(self, agent: AgentRecord, cid: str) -> None:
        core = self.core
        live = await self.owned(agent, cid)
        if not await core.live.release(cid, agent.id, CLOSED, rating_handoff=live.handoff_id):
            raise await self._lost(agent, cid)
        await core.storage.end_handoff(live.handoff_id, "closed")  # type: ignore[arg-type]
        await self._handle_time(live.handoff_id)
        await self._freed(live)
        note = await core.system(cid, f"{agent.name} closed the chat. How did we do?")
        await core.hub.send(
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, frames.state(CLOSED)),
            Hub.to_shopper(cid, frames.rating_request()),
            Hub.to_agent(agent.id, frames.chat_ended(cid, "closed")),
        )
