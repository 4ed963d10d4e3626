"""What happens to a conversation: the bot part, handoff, agents, timers.

:class:`Gateway` is the gateway without its sockets. :mod:`handoff.server`
parses frames and calls one method here per frame; every method

* changes live state with one atomic :class:`~handoff.queue.QueueStore`
  operation (which decides races: claim, transfer, close...),
* stores what must be kept in :class:`~handoff.storage.Storage` (every
  message, every handoff stint, tickets, pages, ratings),
* then publishes frames through the :class:`~handoff.hub.Hub`, so shoppers
  and agents see the change whichever gateway process they are connected to.

A refused request raises :class:`~handoff.protocol.ProtocolError`; the server
turns it into an ``error`` frame.

Timers (agent grace period, emergency paging) are ``loop.call_later`` handles
in the process where the event happened; when they fire they re-check live
state, so a timer that is no longer relevant does nothing. A process that dies
takes its timers along: every process's heartbeat (a third of the presence
TTL) also sweeps for chats owned by agents who are absent everywhere, and
requeues them once they have been absent for the grace period.

Estimated wait: ``ceil(position x average handle time / max(1, agents
online))``, where the average handle time is the rolling mean of the last 50
chats (claim to close or hand-back), ``default_handle_s`` before any.
"""
from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
import uuid
from dataclasses import replace
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

from . import paging
from .auth import AGENT as AGENT_TOKEN
from .auth import SHOPPER as SHOPPER_TOKEN
from .auth import TokenSigner, verify_password
from .bus import Bus
from .config import GatewayConfig
from .contract import QUEUES, Handoff, parse_handoff
from .frames import Frame, bot_message, iso, message_frame
from .hub import Hub
from .protocol import VERSION, Code, ProtocolError, dumps
from .queue import AGENT, BOT, CLOSED, WAITING, LiveState, QueueEntry, QueueStore, positions
from .rasa_client import RasaClient, RasaUnavailable
from .storage import AgentRecord, ConversationRecord, MessageRecord, Storage, utcnow

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 200
REQUEST_HUMAN = "/request_human"
EMERGENCY_INTENT = "/provider_emergency"

UNAVAILABLE_TEXT = "Sorry, the assistant is unavailable right now. You can talk to a person instead."
OFFLINE_TEXT = (
    "Nobody from our team is online right now. You can leave a message with your email "
    "address and we will reply by email."
)


class Gateway:
    """The conversation service (see module docs)."""

    def __init__(
        self,
        config: GatewayConfig,
        storage: Storage,
        store: QueueStore,
        bus: Bus,
        rasa: RasaClient,
        signer: TokenSigner,
    ) -> None:
        self.config = config
        self.storage = storage
        self.store = store
        self.rasa = rasa
        self.signer = signer
        self.process_id = uuid.uuid4().hex[:12]
        self.hub = Hub(bus, self._schedule_refresh)
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._timers: Set[asyncio.TimerHandle] = set()
        self._refresh_pending = False
        self._last_queue: Dict[str, Frame] = {}
        self._agents: Dict[int, AgentRecord] = {}
        self._absent_since: Dict[int, float] = {}

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        await self.hub.start()
        self._spawn(self._heartbeat())

    async def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for agent_id in list(self._agents):
            try:
                await self.store.agent_offline(agent_id, self.process_id)
            except Exception:
                pass
        await self.hub.bus.close()
        await self.store.close()
        await self.rasa.close()
        await self.storage.close()

    def _spawn(self, coro: Awaitable[Any]) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background job failed", exc_info=task.exception())

    def _later(self, delay: float, job: Callable[[], Awaitable[Any]]) -> None:
        loop = asyncio.get_running_loop()
        handle: Optional[asyncio.TimerHandle] = None

        def fire() -> None:
            self._timers.discard(handle)  # type: ignore[arg-type]
            self._spawn(job())

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    async def _heartbeat(self) -> None:
        """Every third of the presence TTL: renew this process's agents, and
        sweep for chats whose agent is gone without a grace timer anywhere
        (their gateway process died)."""
        ttl = self.config.presence_ttl_s
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                for agent_id in self.hub.local_agents():
                    await self.store.agent_online(agent_id, self.process_id, ttl)
                await self._sweep()
            except Exception:
                logger.exception("heartbeat failed")

    async def _sweep(self) -> None:
        now = time.monotonic()
        online = await self.store.online_agents()
        absent = (await self.store.owners()) - online
        for agent_id in list(self._absent_since):
            if agent_id not in absent:
                del self._absent_since[agent_id]
        for agent_id in absent:
            since = self._absent_since.setdefault(agent_id, now)
            if now - since < self.config.grace_seconds:
                continue
            del self._absent_since[agent_id]
            agent = await self.storage.agent(agent_id)
            if agent is not None:
                await self._grace_over(agent)

    # -- helpers -----------------------------------------------------------

    async def _system(self, conversation_id: str, text: str) -> Frame:
        record, _ = await self.storage.add_message(
            MessageRecord(conversation_id=conversation_id, sender="system", text=text)
        )
        return message_frame(record)

    def _history(self, messages: List[MessageRecord], conversation_id: bool = False) -> List[Frame]:
        return [message_frame(m, conversation_id) for m in messages]

    async def _handle_s(self) -> float:
        average = await self.store.average_handle_time()
        return self.config.default_handle_s if average is None else average

    @staticmethod
    def _wait_estimate(position: int, online: int, handle_s: float) -> int:
        return int(math.ceil(position * handle_s / max(1, online)))

    def _queue_frame(self, queue: str, position: int, estimate: int) -> Frame:
        return {"type": "queue", "queue": queue, "position": position, "estimated_wait_s": estimate}

    async def _conversation(self, conversation_id: str) -> ConversationRecord:
        record = await self.storage.conversation(conversation_id)
        if record is None:
            raise ProtocolError(Code.NOT_FOUND, "No such conversation.")
        return record

    # -- queue refresh (positions to shoppers, lists to agents) -------------

    def _schedule_refresh(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            self._spawn(self._refresh())

    async def _refresh(self) -> None:
        await asyncio.sleep(0)  # coalesce a burst of changes into one refresh
        self._refresh_pending = False
        snapshot = await self.store.snapshot()
        local = self.hub.local_conversations()
        agents = list(self.hub.agent_sockets())
        if agents:
            frame = {"type": "queues", "queues": self._queues_body(snapshot)}
            self.hub.write(agents, dumps(frame))
        if not local:
            return
        where = positions(snapshot)
        online = len(await self.store.online_agents())
        handle_s = await self._handle_s()
        queue_of = {e.conversation_id: q for q, entries in snapshot.items() for e in entries}
        for cid in local:
            position = where.get(cid)
            if position is None:
                self._last_queue.pop(cid, None)
                continue
            frame = self._queue_frame(queue_of[cid], position, self._wait_estimate(position, online, handle_s))
            if self._last_queue.get(cid) != frame:
                self._last_queue[cid] = frame
                self.hub.write(self.hub.shopper_sockets(cid), dumps(frame))

    @staticmethod
    def _queues_body(snapshot: Dict[str, List[QueueEntry]]) -> Dict[str, List[Frame]]:
        now = time.time()
        return {queue: [entry.frame(now) for entry in snapshot.get(queue, [])] for queue in QUEUES}

    # == shoppers ==========================================================

    async def shopper_hello(
        self, socket: Any, token: Optional[str], role: str, line: str
    ) -> Tuple[ConversationRecord, List[Frame], bool]:
        """Open or resume a conversation for ``socket``.

        Returns the conversation, the frames to send to this socket, and
        whether it is new. A token that is forged, expired, of another kind,
        or names an unknown conversation raises ``unauthorized``."""
        if token is not None:
            claims = self.signer.verify(token, SHOPPER_TOKEN)
            conversation = await self.storage.conversation(claims.subject) if claims else None
            if conversation is None:
                raise ProtocolError(Code.UNAUTHORIZED, "This conversation token is not valid; start a new chat.")
            new = False
        else:
            conversation = await self.storage.create_conversation(uuid.uuid4().hex, role, line)
            new = True
        # a fresh token each time: the expiry slides while the shopper comes back
        token = self.signer.issue(SHOPPER_TOKEN, conversation.id, self.config.shopper_token_ttl_s)
        cid = conversation.id
        await self.hub.add_shopper(cid, socket)  # subscribe before reading history: nothing falls between
        live = await self.store.get(cid)
        history = [] if new else await self.storage.history(cid, HISTORY_LIMIT)
        welcome: Frame = {
            "type": "welcome",
            "v": VERSION,
            "conversation_id": cid,
            "token": token,
            "role": conversation.role,
            "line": conversation.line,
            "state": live.state,
            "history": self._history(history),
        }
        frames = [welcome]
        if live.state == WAITING and live.queue:
            welcome["queue"] = live.queue
            where = positions(await self.store.snapshot())
            if cid in where:
                online = len(await self.store.online_agents())
                estimate = self._wait_estimate(where[cid], online, await self._handle_s())
                frame = self._queue_frame(live.queue, where[cid], estimate)
                self._last_queue[cid] = frame
                frames.append(frame)
                if not online:
                    frames.append({"type": "offline"})
        elif live.state == AGENT and live.agent_name:
            welcome["agent"] = {"name": live.agent_name}
        elif live.state == CLOSED and live.rating_handoff is not None:
            frames.append({"type": "rating_request"})
        return conversation, frames, new

    async def shopper_left(self, conversation: ConversationRecord, socket: Any) -> None:
        await self.hub.remove_shopper(conversation.id, socket)
        if not self.hub.shopper_sockets(conversation.id):
            self._last_queue.pop(conversation.id, None)

    async def start_emergency(self, conversation: ConversationRecord) -> None:
        """A new emergency-line conversation opens with ``/provider_emergency``."""
        await self._ask_bot(conversation, EMERGENCY_INTENT)

    async def shopper_message(
        self, conversation: ConversationRecord, text: str, client_id: Optional[str]
    ) -> Optional[Awaitable[None]]:
        """Store and relay a shopper message.

        With an agent or waiting, returns the rest of the work (publish once
        stored) for the caller to await in order, so a socket can send the
        next message before this one is committed (see ``server.Pipeline``).
        With the bot it does everything (the bot answers in turn) and returns
        None."""
        cid = conversation.id
        live = await self.store.get(cid)
        stored = self.storage.submit_message(
            MessageRecord(conversation_id=cid, sender="shopper", text=text, client_id=client_id)
        )
        if live.state in (AGENT, WAITING):
            return self._relay_shopper_message(cid, stored, live.agent_id)
        record, new = await stored
        await self._relay_shopper_message(cid, stored, None)
        if not new:  # a resend of a stored message: acknowledged again, nothing more
            return None
        live = await self.store.get(cid)
        if live.state == CLOSED:  # writing again after a closed chat: back to the bot
            await self.store.set_state(cid, LiveState(state=BOT))
            await self.hub.send(Hub.to_shopper(cid, {"type": "state", "state": BOT}))
            await self._resume_rasa(cid)
            live = LiveState(state=BOT)
        if live.state == BOT:
            await self._ask_bot(conversation, text)
        elif live.state == AGENT and live.agent_id is not None:  # an agent claimed it meanwhile
            await self.hub.send(Hub.to_agent(live.agent_id, dict(message_frame(record), conversation_id=cid)))
        return None

    async def _relay_shopper_message(
        self, cid: str, stored: "asyncio.Future[Tuple[MessageRecord, bool]]", agent_id: Optional[int]
    ) -> None:
        record, _ = await stored
        frame = message_frame(record)
        events = [Hub.to_shopper(cid, frame)]
        if agent_id is not None:
            events.append(Hub.to_agent(agent_id, dict(frame, conversation_id=cid)))
        await self.hub.send(*events)

    async def shopper_typing(self, conversation: ConversationRecord, on: bool) -> None:
        live = await self.store.get(conversation.id)
        if live.state == AGENT and live.agent_id is not None:
            frame = {"type": "typing", "conversation_id": conversation.id, "who": "shopper", "on": on}
            await self.hub.send(Hub.to_agent(live.agent_id, frame))

    async def rate(self, conversation: ConversationRecord, score: int, comment: Optional[str]) -> Frame:
        live = await self.store.get(conversation.id)
        if live.state != CLOSED or live.rating_handoff is None:
            raise ProtocolError(Code.BAD_STATE, "There is no chat to rate right now.")
        await self.storage.rate_handoff(live.rating_handoff, score, comment)
        await self.store.set_state(conversation.id, replace(live, rating_handoff=None))
        return {"type": "rating_saved", "score": score}

    async def leave_ticket(self, conversation: ConversationRecord, email: str, text: str) -> Frame:
        cid = conversation.id
        live = await self.store.get(cid)
        if live.state == AGENT:
            raise ProtocolError(Code.BAD_STATE, "A person is already with you in this chat.")
        handoff_id: Optional[int] = None
        left_queue = False
        if live.state == WAITING:
            entry = await self.store.dequeue(cid, BOT)
            if entry is not None:
                handoff_id = entry.handoff_id
                left_queue = True
                await self.storage.end_handoff(entry.handoff_id, "ticket")
        ticket_id = await self.storage.add_ticket(cid, handoff_id, email, text)
        note = await self._system(
            cid, f"Thank you. Your message was saved as ticket #{ticket_id}; we will reply by email."
        )
        events = [Hub.to_shopper(cid, note)]
        if left_queue:
            events.append(Hub.to_shopper(cid, {"type": "state", "state": BOT}))
        await self.hub.send(*events)
        if left_queue:
            await self.hub.queues_changed()
            await self._resume_rasa(cid)
        return {"type": "ticket_saved", "ticket_id": ticket_id}

    # -- the bot part ------------------------------------------------------

    async def _resume_rasa(self, cid: str) -> None:
        try:
            await self.rasa.resume(cid)
        except RasaUnavailable as exc:
            logger.warning("could not resume the rasa conversation: %s", exc)

    async def _ask_bot(self, conversation: ConversationRecord, text: str) -> None:
        """Send ``text`` to Rasa, relay and store the replies, hand off if asked."""
        cid = conversation.id
        typing_on = Hub.to_shopper(cid, {"type": "typing", "who": "bot", "on": True})
        typing_off = Hub.to_shopper(cid, {"type": "typing", "who": "bot", "on": False})
        await self.hub.send(typing_on)
        try:
            replies = await self.rasa.send(cid, text, {"role": conversation.role, "line": conversation.line})
        except RasaUnavailable as exc:
            logger.warning("assistant unavailable: %s", exc)
            await self.hub.send(typing_off)
            await self._bot_unavailable(conversation, text)
            return
        handoff: Optional[Handoff] = None
        records: List[MessageRecord] = []
        for reply in replies:
            found = parse_handoff(reply.get("custom"))
            if found is not None:
                handoff = handoff or found
                reply = {k: v for k, v in reply.items() if k != "custom"}
            record = bot_message(cid, reply)
            if record is not None:
                records.append(record)
        stored = await asyncio.gather(*(self.storage.add_message(r) for r in records))
        await self.hub.send(typing_off, *(Hub.to_shopper(cid, message_frame(r)) for r, _ in stored))
        if handoff is not None:
            await self._start_handoff(conversation, handoff)

    async def _bot_unavailable(self, conversation: ConversationRecord, text: str) -> None:
        cid = conversation.id
        if text.startswith(REQUEST_HUMAN) or text == EMERGENCY_INTENT:
            # The shopper asked for a person: the gateway hands off by itself.
            queue = "emergency" if conversation.line == "emergency" else "general"
            await self._start_handoff(
                conversation,
                Handoff(
                    queue=queue,
                    reason="assistant_unavailable",
                    summary="The assistant did not answer; the shopper asked for a person.",
                    context={"role": conversation.role, "line": conversation.line},
                ),
            )
            return
        record, _ = await self.storage.add_message(
            MessageRecord(
                conversation_id=cid,
                sender="system",
                text=UNAVAILABLE_TEXT,
                extra={"buttons": [{"title": "Talk to a person", "payload": REQUEST_HUMAN}]},
            )
        )
        await self.hub.send(Hub.to_shopper(cid, message_frame(record)))
        raise ProtocolError(Code.UNAVAILABLE, "The assistant did not answer; your message is saved.")

    # -- handoff -----------------------------------------------------------

    async def _start_handoff(self, conversation: ConversationRecord, handoff: Handoff) -> None:
        cid = conversation.id
        try:
            await self.rasa.pause(cid)
        except RasaUnavailable as exc:
            logger.warning("could not pause the rasa conversation: %s", exc)
        record = await self.storage.open_handoff(cid, handoff)
        entry = QueueEntry(
            conversation_id=cid,
            queue=handoff.queue,
            reason=handoff.reason,
            summary=handoff.summary,
            handoff_id=record.id,
            context=handoff.context,
            enqueued_at=record.enqueued_at.timestamp(),
            line=conversation.line,
        )
        await self.store.enqueue(entry)
        await self._announce_waiting(entry, f"You are now waiting for a person ({entry.queue} queue).")

    async def _announce_waiting(self, entry: QueueEntry, text: str) -> None:
        cid = entry.conversation_id
        note = await self._system(cid, text)
        events = [
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, {"type": "state", "state": WAITING, "queue": entry.queue}),
            Hub.to_agents({"type": "handoff", "entry": entry.frame()}),
        ]
        if not await self.store.online_agents():
            offline = await self._system(cid, OFFLINE_TEXT)
            events += [Hub.to_shopper(cid, offline), Hub.to_shopper(cid, {"type": "offline"})]
        await self.hub.send(*events)
        await self.hub.queues_changed()
        if entry.queue == "emergency":
            self._later(self.config.emergency_page_after, lambda: self._page(entry))

    async def _page(self, entry: QueueEntry) -> None:
        cid = entry.conversation_id
        live = await self.store.get(cid)
        if live.state != WAITING or live.handoff_id != entry.handoff_id:
            return
        if not await self.store.mark_paged(entry.handoff_id):
            return
        page = {
            "type": "page",
            "conversation_id": cid,
            "handoff_id": entry.handoff_id,
            "queue": entry.queue,
            "reason": entry.reason,
            "summary": entry.summary,
            "waited_s": int(time.time() - entry.enqueued_at),
        }
        status, detail = await paging.post_page(self.config.page_webhook, page)
        await self.storage.add_page(cid, entry.handoff_id, self.config.page_webhook, status, detail)
        if status == paging.SENT:
            note = await self._system(cid, "We have paged the on-call person; they will join you as soon as possible.")
            await self.hub.send(Hub.to_shopper(cid, note), Hub.to_shopper(cid, {"type": "paged"}))
        else:
            logger.error("emergency page not delivered: %s (%s)", status, detail)
            note = await self._system(
                cid, "We could not reach the on-call person automatically; the first free agent will take your chat."
            )
            await self.hub.send(Hub.to_shopper(cid, note))

    # == agents ============================================================

    async def login(self, username: str, password: str) -> Optional[Frame]:
        agent = await self.storage.agent_by_username(username)
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, verify_password, agent.password_hash if agent else None, password)
        if not ok or agent is None or not agent.active:
            return None
        token = self.signer.issue(AGENT_TOKEN, str(agent.id), self.config.agent_token_ttl_s)
        return {"token": token, "agent": {"id": agent.id, "name": agent.name}}

    async def agent_from_token(self, token: str) -> AgentRecord:
        claims = self.signer.verify(token, AGENT_TOKEN)
        agent = None
        if claims is not None and claims.subject.isdigit():
            agent = await self.storage.agent(int(claims.subject))
        if agent is None or not agent.active:
            raise ProtocolError(Code.UNAUTHORIZED, "Log in again: this token is not valid.")
        return agent

    async def agent_connected(self, agent: AgentRecord, socket: Any) -> Frame:
        self._agents[agent.id] = agent
        await self.hub.add_agent(agent.id, socket)
        await self.store.agent_online(agent.id, self.process_id, self.config.presence_ttl_s)
        chats = [await self._chat(cid) for cid in await self.store.owned_by(agent.id)]
        snapshot = await self.store.snapshot()
        await self.hub.queues_changed()  # estimated waits depend on who is online
        return {
            "type": "welcome",
            "v": VERSION,
            "agent": {"id": agent.id, "name": agent.name},
            "queues": self._queues_body(snapshot),
            "chats": chats,
        }

    async def agent_disconnected(self, agent: AgentRecord, socket: Any) -> None:
        if await self.hub.remove_agent(agent.id, socket):
            return  # another socket of this agent is still here
        self._agents.pop(agent.id, None)
        await self.store.agent_offline(agent.id, self.process_id)
        await self.hub.queues_changed()
        if await self.store.owned_by(agent.id):
            self._later(self.config.grace_seconds, lambda: self._grace_over(agent))

    async def _grace_over(self, agent: AgentRecord) -> None:
        """The agent has been away for the grace period: requeue their chats
        (once, whichever process's timer or sweep gets here first)."""
        if agent.id in await self.store.online_agents():
            return
        if not await self.store.once(f"requeue:{agent.id}", max(1.0, self.config.grace_seconds)):
            return
        for cid in await self.store.owned_by(agent.id):
            live = await self.store.get(cid)
            if live.state != AGENT or live.agent_id != agent.id or live.entry is None:
                continue
            old = live.entry
            await self.storage.end_handoff(old.handoff_id, "requeued")
            record = await self.storage.open_handoff(
                cid, Handoff(queue=old.queue, reason=old.reason, summary=old.summary, context=old.context)
            )
            entry = replace(old, handoff_id=record.id, requeued=True)
            if not await self.store.requeue(cid, agent.id, entry, front=True):
                await self.storage.end_handoff(record.id, "abandoned")
                continue
            await self._announce_waiting(
                entry, "Your agent was disconnected. You are back at the front of the queue."
            )

    async def _chat(self, cid: str) -> Frame:
        live = await self.store.get(cid)
        entry = live.entry
        transcript = await self.storage.history(cid, HISTORY_LIMIT)
        conversation = await self.storage.conversation(cid)
        stint = await self.storage.handoff(live.handoff_id) if live.handoff_id is not None else None
        return {
            "conversation_id": cid,
            "role": conversation.role if conversation else None,
            "line": conversation.line if conversation else None,
            "claimed_at": iso(stint.claimed_at) if stint and stint.claimed_at else None,
            "handoff": {
                "queue": entry.queue if entry else None,
                "reason": entry.reason if entry else None,
                "summary": entry.summary if entry else "",
                "context": entry.context if entry else {},
            },
            "transcript": self._history(transcript),
        }

    async def _owned(self, agent: AgentRecord, cid: str) -> LiveState:
        live = await self.store.get(cid)
        if live.state != AGENT or live.agent_id is None:
            raise ProtocolError(Code.NOT_FOUND, "That conversation is not with an agent.")
        if live.agent_id != agent.id:
            raise ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")
        return live

    async def claim(self, agent: AgentRecord, cid: str, ref: Optional[str]) -> None:
        entry = await self.store.claim(cid, agent.id, agent.name)
        if entry is None:
            live = await self.store.get(cid)
            if live.state == AGENT:
                raise ProtocolError(Code.ALREADY_CLAIMED, "Another agent claimed this chat first.")
            raise ProtocolError(Code.NOT_FOUND, "That conversation is not waiting for an agent.")
        await self.storage.claim_handoff(entry.handoff_id, agent.id)
        note = await self._system(cid, f"{agent.name} joined the chat.")
        chat = await self._chat(cid)
        claimed: Frame = {"type": "claimed", "chat": chat}
        if ref is not None:
            claimed["ref"] = ref
        await self.hub.send(
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, {"type": "agent_joined", "agent": {"name": agent.name}}),
            Hub.to_shopper(cid, {"type": "state", "state": AGENT, "agent": {"name": agent.name}}),
            Hub.to_agent(agent.id, claimed),
        )
        await self.hub.queues_changed()

    async def agent_message(self, agent: AgentRecord, cid: str, text: str) -> Awaitable[None]:
        """Check and queue an agent message; returns the publish-once-stored
        step for the caller to await in order (see ``shopper_message``)."""
        await self._owned(agent, cid)
        stored = self.storage.submit_message(
            MessageRecord(conversation_id=cid, sender="agent", text=text, agent_id=agent.id, agent_name=agent.name)
        )
        return self._relay_agent_message(agent.id, cid, stored)

    async def _relay_agent_message(
        self, agent_id: int, cid: str, stored: "asyncio.Future[Tuple[MessageRecord, bool]]"
    ) -> None:
        record, _ = await stored
        frame = message_frame(record)
        await self.hub.send(Hub.to_shopper(cid, frame), Hub.to_agent(agent_id, dict(frame, conversation_id=cid)))

    async def agent_typing(self, agent: AgentRecord, cid: str, on: bool) -> None:
        await self._owned(agent, cid)
        await self.hub.send(Hub.to_shopper(cid, {"type": "typing", "who": "agent", "on": on, "name": agent.name}))

    def _ended(self, agent: AgentRecord, cid: str, why: str) -> Tuple[str, Frame]:
        return Hub.to_agent(agent.id, {"type": "chat_ended", "conversation_id": cid, "why": why})

    async def _handle_time(self, handoff_id: Optional[int]) -> None:
        record = await self.storage.handoff(handoff_id) if handoff_id is not None else None
        if record is not None and record.claimed_at is not None:
            await self.store.record_handle_time((utcnow() - record.claimed_at).total_seconds())

    async def transfer(self, agent: AgentRecord, cid: str, queue: str) -> None:
        live = await self._owned(agent, cid)
        old = live.entry
        if old is None:
            raise ProtocolError(Code.NOT_FOUND, "That conversation has no handoff to transfer.")
        context = dict(old.context, transferred_from=old.queue, transferred_by=agent.name)
        record = await self.storage.open_handoff(
            cid, Handoff(queue=queue, reason=old.reason, summary=old.summary, context=context)
        )
        entry = replace(
            old, queue=queue, handoff_id=record.id, context=context, enqueued_at=time.time(), requeued=False
        )
        if not await self.store.requeue(cid, agent.id, entry, front=False):
            await self.storage.end_handoff(record.id, "abandoned")
            raise ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")
        await self.storage.end_handoff(old.handoff_id, "transferred")
        await self.hub.send(self._ended(agent, cid, "transferred"))
        await self._announce_waiting(entry, f"{agent.name} transferred your chat to the {queue} queue.")

    async def handback(self, agent: AgentRecord, cid: str) -> None:
        live = await self._owned(agent, cid)
        if not await self.store.release(cid, agent.id, BOT):
            raise ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")
        await self.storage.end_handoff(live.handoff_id, "handed_back")  # type: ignore[arg-type]
        await self._handle_time(live.handoff_id)
        note = await self._system(cid, f"{agent.name} handed you back to the assistant.")
        await self.hub.send(
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, {"type": "state", "state": BOT}),
            self._ended(agent, cid, "handed_back"),
        )
        conversation = await self._conversation(cid)
        await self._resume_rasa(cid)
        try:
            await self._ask_bot(conversation, "/greet")
        except ProtocolError:
            pass  # the shopper was told the assistant is unavailable

    async def close_chat(self, agent: AgentRecord, cid: str) -> None:
        live = await self._owned(agent, cid)
        if not await self.store.release(cid, agent.id, CLOSED, rating_handoff=live.handoff_id):
            raise ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")
        await self.storage.end_handoff(live.handoff_id, "closed")  # type: ignore[arg-type]
        await self._handle_time(live.handoff_id)
        note = await self._system(cid, f"{agent.name} closed the chat. How did we do?")
        await self.hub.send(
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, {"type": "state", "state": CLOSED}),
            Hub.to_shopper(cid, {"type": "rating_request"}),
            self._ended(agent, cid, "closed"),
        )


def random_secret() -> str:
    return secrets.token_urlsafe(32)
