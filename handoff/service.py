"""What happens to a conversation: the bot part, handoff, agents, timers.

:class:`Gateway` is the gateway without its sockets. :mod:`handoff.server`
parses frames and calls one method here per frame; every method

* changes live state with one atomic :class:`~handoff.live_state.QueueStore`
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

Redis restarting empty loses the live state, not the chats: every process
checks every ``live_state_check_s`` that it is still there
(:meth:`QueueStore.populated`), and one of them rebuilds it from the open
handoff stints in SQL (:meth:`Gateway.restore_live_state`): waiting chats go
back to their queues in their order, claimed ones to their agents.

Estimated wait: ``ceil(position x average handle time / max(1, agents
online))``, where the average handle time is the rolling mean of the last 50
chats (claim to close or hand-back), ``default_handle_s`` before any.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import secrets
import time
import uuid
from dataclasses import replace
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from . import countdown, emergency, escalation, paging
from .auth import AGENT as AGENT_TOKEN
from .auth import SHOPPER as SHOPPER_TOKEN
from .auth import TokenSigner, verify_password
from .bus import Bus
from .config import GatewayConfig
from .contract import QUEUES, Handoff, parse_handoff
from .frames import Frame, bot_message, iso, message_frame, message_json
from .hub import SEPARATOR, Hub
from .metrics import GatewayMetrics
from .ops import after_hours
from .ops.roles import stored_role
from .protocol import VERSION, Code, ProtocolError, dumps, internal_error_frame
from .live_state import AGENT, BOT, CLOSED, WAITING, LiveState, QueueEntry, QueueStore, positions
from .rasa_client import RasaActionsFailed, RasaUnavailable
from .rasa_pool import RasaPool
from .storage import AgentRecord, ConversationRecord, HandoffRecord, MessageRecord, Storage, utcnow
from .throttle import Limit, Throttle
from .turns import TurnQueue

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 200
#: after the bus was away: replay from this long before it went (frames in
#: flight), this long after it is back (see Gateway.replay_missed)
REPLAY_MARGIN_S = 5.0
REPLAY_DELAY_S = 1.0
REQUEST_HUMAN = "/request_human"
EMERGENCY_INTENT = "/provider_emergency"

UNAVAILABLE_TEXT = "Sorry, the assistant is unavailable right now. You can talk to a person instead."
#: when Rasa is up but answered nothing: its action server (order lookups...) failed
CANNOT_LOOK_UP_TEXT = "Sorry, I cannot look that up right now. You can talk to a person instead."
OFFLINE_TEXT = (
    "Nobody from our team is online right now. You can leave a message with your email "
    "address and we will reply by email."
)


def _queue_entry(record: HandoffRecord, line: str) -> QueueEntry:
    """The queue entry of a stored handoff stint (new, or rebuilt after a Redis loss)."""
    return QueueEntry(
        conversation_id=record.conversation_id,
        queue=record.queue,
        reason=record.reason,
        summary=record.summary,
        handoff_id=record.id,
        context=record.context,
        enqueued_at=record.enqueued_at.timestamp(),
        line=line,
    )


class Gateway:
    """The conversation service (see module docs)."""

    def __init__(
        self,
        config: GatewayConfig,
        storage: Storage,
        live: QueueStore,
        bus: Bus,
        rasa: RasaPool,
        signer: TokenSigner,
    ) -> None:
        self.config = config
        self.storage = storage
        #: the live state: queues, who owns what, presence (handoff.live_state)
        self.live = live
        self.rasa = rasa
        self.signer = signer
        self.process_id = uuid.uuid4().hex[:12]
        self.hub = Hub(bus, self._schedule_refresh, self.replay_missed)
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._timers: Set[asyncio.TimerHandle] = set()
        self._refresh_pending = False
        self._last_queue: Dict[str, Frame] = {}
        self._agents: Dict[int, AgentRecord] = {}
        self._absent_since: Dict[int, float] = {}
        #: the bot turns of each conversation, one at a time (see handoff.turns)
        self.turns = TurnQueue(self._spawn)
        self.metrics = GatewayMetrics()  # handoff/metrics.py (its own registry)
        self.throttle = Throttle(live)
        self.login_per_username = Limit("login-user", config.login_per_username, config.login_window_s)
        self.login_per_address = Limit("login-addr", config.login_per_address, config.login_window_s)
        self.new_chats = Limit("new-chats", config.new_chats_per_address, config.new_chats_window_s)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        await self.hub.start()
        await self._ensure_live_state()
        self._spawn(self._heartbeat())
        self._spawn(self._watch_live_state())
        self._spawn(escalation.watch(self))  # handoff/escalation.py: SLA breaches, quiet agents

    async def _watch_live_state(self) -> None:
        while True:
            await asyncio.sleep(self.config.live_state_check_s)
            try:
                await self._ensure_live_state()
            except Exception as exc:  # Redis is down right now: try again next round
                logger.warning("live state check failed: %s", type(exc).__name__)

    async def _ensure_live_state(self) -> None:
        """Rebuild the live state if it is gone (see module docs)."""
        if await self.live.populated():
            return
        for agent_id in self.hub.local_agents():  # every process re-announces its agents at once
            await self.live.agent_online(agent_id, self.process_id, self.config.presence_ttl_s)
        if not await self.live.once("restore", 30.0):
            return  # another process is rebuilding it
        restored = await self.restore_live_state()
        await self.live.mark_populated()
        if restored:
            logger.warning("live state was lost; restored %d open handoffs from the database", restored)
            await self.hub.queues_changed()

    def replay_missed(self, since: float) -> None:
        """The bus was away from ``since`` (a ``time.time()``) until now, so
        frames published meanwhile never reached this process's sockets.
        Every message among them is in the database: a moment from now (once
        live delivery surely runs again), each local shopper and agent socket
        gets its conversations' messages from a little before ``since`` on,
        with the current state, and the queues are sent again. Clients drop
        messages they have by ``id``, so twice is harmless; missed is not."""
        self._schedule_refresh()
        self._later(REPLAY_DELAY_S, lambda: self._replay(since - REPLAY_MARGIN_S))

    async def _replay(self, since_ts: float) -> None:
        since = dt.datetime.fromtimestamp(since_ts, dt.timezone.utc)

        async def missed(cid: str) -> List[MessageRecord]:
            return [m for m in await self.storage.history(cid, HISTORY_LIMIT) if m.created_at >= since]

        for cid in self.hub.local_conversations():
            live = await self.live.get(cid)
            state: Frame = {"type": "state", "state": live.state}
            if live.state == WAITING and live.queue:
                state["queue"] = live.queue
            elif live.state == AGENT and live.agent_name:
                state["agent"] = {"name": live.agent_name}
            texts = [message_json(m) for m in await missed(cid)] + [dumps(state)]
            self.hub.write_many(self.hub.shopper_sockets(cid), texts)
        for agent_id in self.hub.local_agents():
            for cid in await self.live.owned_by(agent_id):
                texts = [dumps(message_frame(m, conversation_id=True)) for m in await missed(cid)]
                if texts:
                    self.hub.write_many(self.hub.agent_sockets(agent_id), texts)
        self._schedule_refresh()

    async def restore_live_state(self) -> int:
        """Put every open handoff stint of the database back into the live
        state: waiting in its queue (oldest first), or owned by its agent when
        it was claimed. Conversations whose live state is known (changed since
        it was lost) are left alone. Returns how many were restored."""
        latest: Dict[str, HandoffRecord] = {}
        for record in await self.storage.open_handoffs():
            latest[record.conversation_id] = record  # the newest open stint of a conversation
        restored = 0
        for record in sorted(latest.values(), key=lambda r: (r.enqueued_at, r.id)):
            cid = record.conversation_id
            if (await self.live.get(cid)).state != BOT:
                continue
            conversation = await self.storage.conversation(cid)
            entry = _queue_entry(record, conversation.line if conversation else "chat")
            await self.live.enqueue(entry)
            if record.agent_id is not None and record.claimed_at is not None:
                agent = await self.storage.agent(record.agent_id)
                if agent is not None:
                    await self.live.claim(cid, agent.id, agent.name)
            restored += 1
        return restored

    async def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for agent_id in list(self._agents):
            try:
                await self.live.agent_offline(agent_id, self.process_id)
            except Exception:
                pass
        await self.hub.bus.close()
        await self.live.close()
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
            if handle is not None:
                self._timers.discard(handle)
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
                    await self.live.agent_online(agent_id, self.process_id, ttl)
                await self._sweep()
            except Exception:
                logger.exception("heartbeat failed")

    async def _sweep(self) -> None:
        now = time.monotonic()
        online = await self.live.online_agents()
        absent = (await self.live.owners()) - online
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
        average = await self.live.average_handle_time()
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
        snapshot = await self.live.snapshot()
        local = self.hub.local_conversations()
        agents = list(self.hub.agent_sockets())
        if agents:
            frame = {"type": "queues", "queues": self._queues_body(snapshot)}
            self.hub.write(agents, dumps(frame))
        if not local:
            return
        where = positions(snapshot)
        online = len(await self.live.online_agents())
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
        self, socket: Any, token: Optional[str], role: str, line: str, address: str = ""
    ) -> Tuple[ConversationRecord, List[Frame], bool]:
        """Open or resume a conversation for ``socket`` (from client ``address``).

        Returns the conversation, the frames to send to this socket, and
        whether it is new. A token that is forged, expired, of another kind,
        or names an unknown conversation raises ``unauthorized``; a new chat
        beyond the address's limit ``too_many_conversations`` (never on the
        emergency line: a provider in an emergency always gets through)."""
        if token is not None:
            claims = self.signer.verify(token, SHOPPER_TOKEN)
            conversation = await self.storage.conversation(claims.subject) if claims else None
            if conversation is None:
                raise ProtocolError(Code.UNAUTHORIZED, "This conversation token is not valid; start a new chat.")
            new = False
        else:
            if line != "emergency":
                await self._count_new_chat(address)
            conversation = await self.storage.create_conversation(uuid.uuid4().hex, role, line)
            new = True
        # a fresh token each time: the expiry slides while the shopper comes back
        token = self.signer.issue(SHOPPER_TOKEN, conversation.id, self.config.shopper_token_ttl_s)
        cid = conversation.id
        self.rasa.note_client(cid, getattr(socket, "remote_address", None))  # order-guessing lock-out
        await self.hub.add_shopper(cid, socket)  # subscribe before reading history: nothing falls between
        live = await self.live.get(cid)
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
            where = positions(await self.live.snapshot())
            if cid in where:
                online = len(await self.live.online_agents())
                estimate = self._wait_estimate(where[cid], online, await self._handle_s())
                frame = self._queue_frame(live.queue, where[cid], estimate)
                self._last_queue[cid] = frame
                frames.append(frame)
                if not online and live.queue != "emergency":
                    frames.append({"type": "offline"})
        elif live.state == AGENT and live.agent_name:
            welcome["agent"] = {"name": live.agent_name}
        elif live.state == CLOSED and live.rating_handoff is not None:
            frames.append({"type": "rating_request"})
        return conversation, frames, new

    async def _count_new_chat(self, address: str) -> None:
        wait = await self.throttle.take(self.new_chats, address)
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            raise ProtocolError(
                Code.TOO_MANY_CONVERSATIONS,
                f"Too many new chats from your network; please try again in {minutes} min"
                f"{'' if minutes == 1 else 's'}, or continue an earlier chat.",
                retry_after_ms=max(1, math.ceil(wait * 1000)),
            )

    async def shopper_left(self, conversation: ConversationRecord, socket: Any) -> None:
        await self.hub.remove_shopper(conversation.id, socket)
        if not self.hub.shopper_sockets(conversation.id):
            self._last_queue.pop(conversation.id, None)

    async def start_emergency(self, conversation: ConversationRecord) -> None:
        """A new emergency-line conversation opens with ``/provider_emergency``."""
        await self._ask_bot(conversation, EMERGENCY_INTENT)

    async def shopper_messages(
        self, conversation: ConversationRecord, messages: Sequence[Any]
    ) -> Tuple[int, Awaitable[None], bool]:
        """Take shopper messages (objects with ``text`` and ``client_id``) off
        a socket's queue, in order (see ``server.Pipeline``).

        Returns how many of ``messages`` it took, the rest of their work, and
        whether the next call may come before that work is done (the caller
        awaits the works in order). The live state is read once per call:

        * with an agent or waiting, all of them: stored in one group commit,
          then published in one bus round trip (each message serialised
          once: the echo to the shopper, and the same text plus
          ``conversation_id`` to the owning agent); the next burst may be
          taken (and queued for the next commit) meanwhile;
        * with the bot (or closed), the first one only: stored and
          acknowledged; the assistant answers it in a turn of its own
          (:mod:`handoff.turns`) that the next message does not wait for,
          whose turn comes after it.
        """
        cid = conversation.id
        live = await self.live.get(cid)
        if live.state in (AGENT, WAITING):
            now = utcnow()  # a burst read together shares its timestamp (one to format, not one each)
            stored = [
                self.storage.submit_message(
                    MessageRecord(
                        conversation_id=cid, sender="shopper", text=m.text, client_id=m.client_id, created_at=now
                    )
                )
                for m in messages
            ]
            relay = self._relay_messages(cid, stored, live.agent_id)
            if emergency.described(m.text for m in messages):  # Rasa is paused: the gateway screens (module docs)
                relay = _in_order(relay, self._medical_emergency(conversation, live))
            return len(stored), relay, True
        return 1, self._shopper_to_bot(conversation, live, messages[0]), False

    async def _medical_emergency(self, conversation: ConversationRecord, live: LiveState) -> None:
        """An emergency written while waiting or with an agent (handoff.emergency):
        the guidance at once; a chat waiting elsewhere to the emergency queue's front."""
        cid = conversation.id
        note = await self._system(cid, emergency.guidance())
        events = [Hub.to_shopper(cid, note)]
        if live.state == AGENT and live.agent_id is not None:
            events.append(Hub.to_agent(live.agent_id, dict(note, conversation_id=cid)))
        await self.hub.send(*events)
        old = live.entry
        if live.state != WAITING or old is None or old.queue == emergency.QUEUE:
            return
        context = dict(old.context, escalated_from=old.queue)
        record = await self.storage.open_handoff(
            cid, Handoff(queue=emergency.QUEUE, reason=emergency.REASON, summary=old.summary, context=context)
        )
        entry = _queue_entry(record, conversation.line)
        await self.live.enqueue(entry, front=True)
        await self.storage.end_handoff(old.handoff_id, "transferred")
        await self._announce_waiting(entry, emergency.MOVED_TEXT)

    async def _shopper_to_bot(self, conversation: ConversationRecord, live: LiveState, message: Any) -> None:
        """A shopper message while with the bot (or closed): stored,
        acknowledged, then answered by a turn (:mod:`handoff.turns`), so a
        message sent while the assistant is still answering the one before is
        acknowledged at once and answered after it.

        When no earlier turn is pending and the chat is with the bot, the text
        goes to Rasa while the message is being committed (a turn does not wait
        for a commit before the assistant starts); the echo (the
        acknowledgement) still waits for the commit and goes out with the
        bot's typing on. A message with a ``client_id`` is first looked up: a
        resend of a stored one is only acknowledged again, never sent to the
        assistant twice. If the commit fails, or the chat left ``bot``
        meanwhile, the assistant's answer is dropped (it may have read a
        message the shopper is told failed; the shopper's retry is then stored
        once)."""
        cid = conversation.id
        await self.turns.room(cid)  # a shopper far ahead of the assistant waits here
        text, client_id = message.text, message.client_id
        if client_id is not None:
            earlier = await self.storage.find_message(cid, client_id)
            if earlier is not None:  # a resend of a stored message: acknowledged again, nothing more
                await self.hub.send(Hub.to_shopper(cid, message_frame(earlier)))
                return
        stored = self.storage.submit_message(
            MessageRecord(conversation_id=cid, sender="shopper", text=text, client_id=client_id)
        )
        asking: "Optional[asyncio.Task[List[Dict[str, Any]]]]" = None
        if live.state == BOT and not self.turns.busy(cid):
            asking = asyncio.ensure_future(
                self.metrics.timed(  # handoff/metrics.py: the turn's latency, failures
                    self.rasa.send(cid, text, {"role": conversation.role, "line": conversation.line}))
            )
        try:
            record, new = await stored
        except BaseException:
            _drop(asking)
            raise
        echo = Hub.to_shopper(cid, message_frame(record))
        if not new:  # a resend stored meanwhile: acknowledged again, nothing more
            _drop(asking)
            await self.hub.send(echo)
            return
        if asking is not None:
            try:
                live = await self.live.get(cid)
            except BaseException:
                _drop(asking)
                await self.hub.send(echo)
                raise
            if live.state == BOT:
                await self.hub.send(echo, _typing(cid, True))
                self.turns.add(cid, lambda: self._answer(conversation, record, message.ref, asking))
                return
            _drop(asking)  # the chat left the bot while the message was committed
        await self.hub.send(echo)
        self.turns.add(cid, lambda: self._answer(conversation, record, message.ref, None))

    async def _answer(
        self,
        conversation: ConversationRecord,
        record: MessageRecord,
        ref: Optional[str],
        asking: "Optional[asyncio.Task[List[Dict[str, Any]]]]",
    ) -> None:
        """A stored shopper message's turn: the assistant's answer (``asking``:
        already asked, typing already shown), or, when the chat is no longer
        with the bot by now, the message goes to the agent who has it (a chat
        waiting for a person shows it in the transcript when claimed). A
        refusal or failure reaches the shopper as an ``error`` with the
        message's ``ref``."""
        cid = conversation.id
        try:
            if asking is None:
                live = await self.live.get(cid)
                if live.state == CLOSED:  # writing again after a closed chat: back to the bot
                    await self.live.set_state(cid, LiveState(state=BOT))
                    await self.hub.send(Hub.to_shopper(cid, {"type": "state", "state": BOT}))
                    await self._resume_rasa(cid)
                    live = LiveState(state=BOT)
                if live.state == AGENT and live.agent_id is not None:
                    await self.hub.send(
                        Hub.to_agent(live.agent_id, dict(message_frame(record), conversation_id=cid))
                    )
                if live.state != BOT:
                    return
            await self._ask_bot(conversation, record.text, asking=asking, typing_shown=asking is not None)
        except ProtocolError as error:
            if error.ref is None:
                error.ref = ref
            await self.hub.send(Hub.to_shopper(cid, error.frame()))
        except Exception:
            logger.exception("a bot turn failed")
            await self.hub.send(
                _typing(cid, False),
                Hub.to_shopper(cid, internal_error_frame(ref)),
            )
        finally:
            _drop(asking)  # (done by now, unless the gateway is closing)

    async def _relay_messages(
        self, cid: str, stored: "List[asyncio.Future[Tuple[MessageRecord, bool]]]", agent_id: Optional[int]
    ) -> None:
        """Once committed, publish messages to the conversation and (when
        owned) to its agent, in order, in one bus round trip: one payload per
        topic (see :meth:`Hub.publish`), each message serialised once."""
        texts = []
        for future in stored:
            record, _ = await future
            texts.append(message_json(record))
        events: List[Tuple[str, str]] = [(Hub.to_shopper(cid, {})[0], SEPARATOR.join(texts))]
        if agent_id is not None:
            # text[:-1] + tail == dumps(dict(frame, conversation_id=cid)), without a second dumps
            tail = ',"conversation_id":"' + cid + '"}'  # a conversation id is hex
            events.append((Hub.to_agent(agent_id, {})[0], SEPARATOR.join([text[:-1] + tail for text in texts])))
        await self.hub.publish(events)

    async def shopper_typing(self, conversation: ConversationRecord, on: bool) -> None:
        live = await self.live.get(conversation.id)
        if live.state == AGENT and live.agent_id is not None:
            frame = {"type": "typing", "conversation_id": conversation.id, "who": "shopper", "on": on}
            await self.hub.send(Hub.to_agent(live.agent_id, frame))

    async def rate(self, conversation: ConversationRecord, score: int, comment: Optional[str]) -> Frame:
        live = await self.live.get(conversation.id)
        if live.state != CLOSED or live.rating_handoff is None:
            raise ProtocolError(Code.BAD_STATE, "There is no chat to rate right now.")
        await self.storage.rate_handoff(live.rating_handoff, score, comment)
        await self.live.set_state(conversation.id, replace(live, rating_handoff=None))
        return {"type": "rating_saved", "score": score}

    async def leave_ticket(self, conversation: ConversationRecord, email: str, text: str) -> Frame:
        cid = conversation.id
        live = await self.live.get(cid)
        if live.state == AGENT:
            raise ProtocolError(Code.BAD_STATE, "A person is already with you in this chat.")
        handoff_id: Optional[int] = None
        left_queue = False
        if live.state == WAITING:
            entry = await self.live.dequeue(cid, BOT)
            if entry is not None:
                handoff_id = entry.handoff_id
                left_queue = True
                await self.storage.end_handoff(entry.handoff_id, "ticket")
        ticket_id = await self.storage.add_ticket(cid, handoff_id, email, text)
        from .desk.inbox import response_window  # the policy's general response window (policy.yml)

        note = await self._system(
            cid, f"Thank you. Your message was saved as ticket #{ticket_id}; "
            f"we will reply by email within {response_window()}."
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

    async def _ask_bot(
        self,
        conversation: ConversationRecord,
        text: str,
        *,
        asking: "Optional[Awaitable[List[Dict[str, Any]]]]" = None,
        typing_shown: bool = False,
    ) -> None:
        """Send ``text`` to Rasa (or await ``asking``, that request already
        under way), relay and store the replies, hand off if asked.
        ``typing_shown``: the bot's typing on was already sent."""
        cid = conversation.id
        typing_off = _typing(cid, False)
        if not typing_shown:
            await self.hub.send(_typing(cid, True))
        try:
            if asking is None:
                asking = self.metrics.timed(  # handoff/metrics.py: the turn's latency, failures
                    self.rasa.send(cid, text, {"role": conversation.role, "line": conversation.line}))
            replies = await asking
        except RasaUnavailable as exc:
            logger.warning("assistant unavailable: %s", exc)
            await self.hub.send(typing_off)
            await self._bot_unavailable(conversation, text, isinstance(exc, RasaActionsFailed))
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
        submitted = [self.storage.submit_message(r) for r in records]  # one group commit
        stored = [await future for future in submitted]
        await self.hub.send(typing_off, *(Hub.to_shopper(cid, message_frame(r)) for r, _ in stored))
        if handoff is not None:
            await self._start_handoff(conversation, handoff)

    async def _bot_unavailable(self, conversation: ConversationRecord, text: str, lookup: bool = False) -> None:
        """Offer a person (``lookup``: Rasa is up but its action server failed)."""
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
                text=CANNOT_LOOK_UP_TEXT if lookup else UNAVAILABLE_TEXT,
                extra={"buttons": [{"title": "Talk to a person", "payload": REQUEST_HUMAN}]},
            )
        )
        await self.hub.send(Hub.to_shopper(cid, message_frame(record)))
        raise ProtocolError(Code.UNAVAILABLE, "The assistant did not answer; your message is saved.")

    # -- handoff -----------------------------------------------------------

    async def _start_handoff(self, conversation: ConversationRecord, handoff: Handoff) -> None:
        """Queue the chat and tell everyone; pausing the Rasa conversation runs
        alongside (the gateway stops sending to Rasa once the chat is
        waiting, so nothing waits for the pause but the end of this call)."""
        cid = conversation.id
        if await after_hours.answered(self, conversation, handoff):  # handoff/ops/after_hours.py: nobody on duty
            return
        pausing = asyncio.ensure_future(self._pause_rasa(cid))
        try:
            await self._queue_handoff(conversation, handoff)
        finally:
            await pausing

    async def _pause_rasa(self, cid: str) -> None:
        try:
            await self.rasa.pause(cid)
        except RasaUnavailable as exc:
            logger.warning("could not pause the rasa conversation: %s", exc)

    async def _queue_handoff(self, conversation: ConversationRecord, handoff: Handoff) -> None:
        cid = conversation.id
        record = await self.storage.open_handoff(cid, handoff)
        entry = _queue_entry(record, conversation.line)
        await self.live.enqueue(entry)
        await self._announce_waiting(entry, f"You are now waiting for a person ({entry.queue} queue).")

    async def _announce_waiting(self, entry: QueueEntry, text: str) -> None:
        cid = entry.conversation_id
        note = await self._system(cid, text)
        events = [
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, {"type": "state", "state": WAITING, "queue": entry.queue}),
            Hub.to_agents({"type": "handoff", "entry": entry.frame()}),
        ]
        emergency = entry.queue == "emergency"
        online = bool(await self.live.online_agents())
        if not online and not emergency:
            offline = await self._system(cid, OFFLINE_TEXT)
            events += [Hub.to_shopper(cid, offline), Hub.to_shopper(cid, {"type": "offline"})]
        await self.hub.send(*events)
        await self.hub.queues_changed()
        if emergency:
            # An emergency is never offered a ticket: with nobody online the
            # on-call person is paged at once, otherwise after the claim window.
            delay = self.config.emergency_page_after if online else 0.0
            self._later(delay, lambda: self._page(entry))

    async def _page(self, entry: QueueEntry) -> None:
        cid = entry.conversation_id
        live = await self.live.get(cid)
        if live.state != WAITING or live.handoff_id != entry.handoff_id:
            return
        if not await self.live.mark_paged(entry.handoff_id):
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

    async def login(self, username: str, password: str, address: str = "") -> Optional[Frame]:
        """The token of an agent whose password is right, else None. Every
        attempt counts against the username and the client address
        (:mod:`handoff.throttle`), a successful one is given back; over
        either limit, :class:`~handoff.throttle.Throttled` without checking."""
        user_key = username.strip().lower()[:64]
        await self.throttle.take_all((self.login_per_username, user_key), (self.login_per_address, address))
        agent = await self.storage.agent_by_username(username)
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, verify_password, agent.password_hash if agent else None, password)
        if not ok or agent is None or not agent.active:
            return None
        await self.throttle.give_back(self.login_per_username, user_key)
        await self.throttle.give_back(self.login_per_address, address)
        token = self.signer.issue(AGENT_TOKEN, str(agent.id), self.config.agent_token_ttl_s)
        role = await stored_role(self.storage.engine, agent.id)  # the console's Reports link (handoff/ops/roles.py)
        return {"token": token, "agent": {"id": agent.id, "name": agent.name, "role": role}}

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
        await self.live.agent_online(agent.id, self.process_id, self.config.presence_ttl_s)
        chats = [await self._chat(cid) for cid in await self.live.owned_by(agent.id)]
        snapshot = await self.live.snapshot()
        await self.hub.queues_changed()  # estimated waits depend on who is online
        return {
            "type": "welcome",
            "v": VERSION,
            "agent": {"id": agent.id, "name": agent.name, "role": await stored_role(self.storage.engine, agent.id)},
            "queues": self._queues_body(snapshot),
            "chats": chats,
        }

    async def agent_disconnected(self, agent: AgentRecord, socket: Any) -> None:
        if await self.hub.remove_agent(agent.id, socket):
            return  # another socket of this agent is still here
        self._agents.pop(agent.id, None)
        await self.live.agent_offline(agent.id, self.process_id)
        await self.hub.queues_changed()
        if await self.live.owned_by(agent.id):
            self._later(self.config.grace_seconds, lambda: self._grace_over(agent))

    async def _grace_over(self, agent: AgentRecord) -> None:
        """The agent has been away for the grace period: requeue their chats
        (once, whichever process's timer or sweep gets here first)."""
        if agent.id in await self.live.online_agents():
            return
        if not await self.live.once(f"requeue:{agent.id}", max(1.0, self.config.grace_seconds)):
            return
        for cid in await self.live.owned_by(agent.id):
            live = await self.live.get(cid)
            if live.state != AGENT or live.agent_id != agent.id or live.entry is None:
                continue
            old = live.entry
            await self.storage.end_handoff(old.handoff_id, "requeued")
            record = await self.storage.open_handoff(
                cid, Handoff(queue=old.queue, reason=old.reason, summary=old.summary, context=old.context)
            )
            entry = replace(old, handoff_id=record.id, requeued=True)
            if not await self.live.requeue(cid, agent.id, entry, front=True):
                await self.storage.end_handoff(record.id, "abandoned")
                continue
            await self._announce_waiting(
                entry, "Your agent was disconnected. You are back at the front of the queue."
            )

    async def _chat(self, cid: str) -> Frame:
        live = await self.live.get(cid)
        entry = live.entry
        transcript = await self.storage.history(cid, HISTORY_LIMIT)
        conversation = await self.storage.conversation(cid)
        stint = await self.storage.handoff(live.handoff_id) if live.handoff_id is not None else None
        return {
            "conversation_id": cid,
            "role": conversation.role if conversation else None,
            "line": conversation.line if conversation else None,
            "claimed_at": iso(stint.claimed_at) if stint and stint.claimed_at else None,
            "sla_due": countdown.chat_due(entry, transcript),  # until a person answered (handoff/countdown.py)
            "handoff": {
                "queue": entry.queue if entry else None,
                "reason": entry.reason if entry else None,
                "summary": entry.summary if entry else "",
                "context": entry.context if entry else {},
            },
            "transcript": self._history(transcript),
        }

    async def _owned(self, agent: AgentRecord, cid: str) -> LiveState:
        live = await self.live.get(cid)
        if live.state != AGENT or live.agent_id is None:
            raise ProtocolError(Code.NOT_FOUND, "That conversation is not with an agent.")
        if live.agent_id != agent.id:
            raise ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")
        return live

    async def claim(self, agent: AgentRecord, cid: str, ref: Optional[str]) -> None:
        entry = await self.live.claim(cid, agent.id, agent.name)
        if entry is None:
            live = await self.live.get(cid)
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

    async def agent_messages(
        self, agent: AgentRecord, messages: Sequence[Any]
    ) -> Tuple[int, Awaitable[None], bool]:
        """Take agent messages (objects with ``conversation_id`` and ``text``)
        off a socket's queue, in order (see ``shopper_messages``): the leading
        ones for the same conversation, checked once (the agent must own it),
        stored in one group commit and published in one bus round trip."""
        cid = messages[0].conversation_id
        count = 1
        while count < len(messages) and messages[count].conversation_id == cid:
            count += 1
        await self._owned(agent, cid)
        now = utcnow()  # shared by the burst, as in shopper_messages
        stored = [
            self.storage.submit_message(
                MessageRecord(
                    conversation_id=cid, sender="agent", text=m.text, agent_id=agent.id, agent_name=agent.name,
                    created_at=now,
                )
            )
            for m in messages[:count]
        ]
        return count, self._relay_messages(cid, stored, agent.id), True

    async def agent_typing(self, agent: AgentRecord, cid: str, on: bool) -> None:
        await self._owned(agent, cid)
        await self.hub.send(Hub.to_shopper(cid, {"type": "typing", "who": "agent", "on": on, "name": agent.name}))

    def _ended(self, agent: AgentRecord, cid: str, why: str) -> Tuple[str, Mapping[str, Any]]:
        return Hub.to_agent(agent.id, {"type": "chat_ended", "conversation_id": cid, "why": why})

    async def _handle_time(self, handoff_id: Optional[int]) -> None:
        record = await self.storage.handoff(handoff_id) if handoff_id is not None else None
        if record is not None and record.claimed_at is not None:
            await self.live.record_handle_time((utcnow() - record.claimed_at).total_seconds())

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
        if not await self.live.requeue(cid, agent.id, entry, front=False):
            await self.storage.end_handoff(record.id, "abandoned")
            raise ProtocolError(Code.NOT_OWNER, "Another agent has this conversation.")
        await self.storage.end_handoff(old.handoff_id, "transferred")
        await self.hub.send(self._ended(agent, cid, "transferred"))
        await self._announce_waiting(entry, f"{agent.name} transferred your chat to the {queue} queue.")

    async def handback(self, agent: AgentRecord, cid: str) -> None:
        live = await self._owned(agent, cid)
        if not await self.live.release(cid, agent.id, BOT):
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
        if not await self.live.release(cid, agent.id, CLOSED, rating_handoff=live.handoff_id):
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


def _typing(cid: str, on: bool) -> Tuple[str, Mapping[str, Any]]:
    """The bot's typing indicator, for the shopper's sockets."""
    return Hub.to_shopper(cid, {"type": "typing", "who": "bot", "on": on})


async def _in_order(first: Awaitable[None], then: Awaitable[None]) -> None:
    await first
    await then


def _drop(task: "Optional[asyncio.Future[Any]]") -> None:
    """Give up on ``task`` (a request whose answer is not wanted any more)."""
    if task is not None:
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


def random_secret() -> str:
    return secrets.token_urlsafe(32)
