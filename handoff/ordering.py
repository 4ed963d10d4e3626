"""Message ordering: accept, store, acknowledge, relay, in order. The one place for it.

What a client is promised (PROTOCOL.md): every message comes back as a
``message`` frame once it is stored (the echo is the acknowledgement), the
messages of one socket are stored, acknowledged and relayed in the order they
were sent, and the assistant answers a conversation's messages one at a time,
in order. How, step by step:

1. **Accept** (:class:`Pipeline`, one per socket): the reader checks each
   ``message`` frame, queues it and reads on; any other frame of the socket
   first waits for the queue to be worked off (:meth:`Pipeline.drain`), so it
   is handled after the messages sent before it. At most
   :attr:`Pipeline.LIMIT` wait (then the reader waits: back-pressure on that
   socket only).
2. **Store**: the pipeline's one consumer task hands what waits to
   :meth:`MessageFlow.shopper_messages` / :meth:`MessageFlow.agent_messages`,
   which take those that belong together and submit them to the storage's
   group commit (:meth:`Storage.submit_message`: submissions keep their
   order, so ids and timestamps follow the order they were sent). With a
   person (``waiting``/``agent``), a whole burst is taken: one commit; the
   next burst may already be submitted while this one commits (at most one
   ahead): once the socket's queue fills, it is taken without waiting for
   the commit (:meth:`Pipeline._settle`). With the bot (or ``closed``), one
   message at a time.
3. **Acknowledge and relay** (:meth:`MessageFlow.relay`): once a burst is
   committed, the echo to the conversation's sockets and the copy to the
   owning agent go out in one bus round trip, in order. The pipeline awaits
   the bursts' relays in the order they were taken, so acknowledgements never
   overtake each other. Nothing is acknowledged that was not stored; a failed
   commit answers each of its messages' ``ref`` with ``internal_error``.
4. **Bot turns** (:class:`TurnQueue`): a message for the assistant is stored
   and acknowledged (with the bot's ``typing`` on), then answered by a *turn*
   (:meth:`handoff.bot.BotTurns.answer`) that runs in the background, after
   every earlier turn of the conversation (which may have handed the chat to a
   person: then the message goes to the person). So a second message is
   acknowledged at once and answered after the first. At most
   :attr:`TurnQueue.ahead` turns wait per conversation; beyond that, the
   next message waits for one (a shopper far ahead of the assistant slows
   down their own socket only).

Across sockets (the shopper's and the agent's, or two tabs) there is no
order but the order their commits end: each socket's messages stay in order,
and their interleaving is the order they reached the storage. Under load a
shopper's burst may still be committing while the agent's reply, sent later,
is already relayed (tests/faults/test_faults.py waits for the shopper's own
acknowledgement before it counts a message as accepted). Ordering across
sockets would need one queue per conversation shared by every socket and
process; no client needs it, since each de-duplicates and sorts by ``id``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from . import emergency, frames
from .bot import BotTurns, Streamed, drop, typing
from .core import GatewayCore
from .hub import SEPARATOR, Hub
from .live_state import AGENT, BOT, WAITING, LiveState
from .protocol import ProtocolError
from .storage import AgentRecord, ConversationRecord, MessageRecord, chat_message, utcnow

if TYPE_CHECKING:
    from .agents import AgentDesk
    from .shopper import ShopperSide

logger = logging.getLogger(__name__)

#: (how many messages a call took, the rest of their work, whether the next
#: call may start before that work is done); see :class:`Pipeline`
Taken = Tuple[int, Awaitable[None], bool]
#: ``Gateway.shopper_messages`` or ``Gateway.agent_messages``, unbound: (gateway, subject, messages) -> Taken
Take = Callable[[Any, Any, List[Any]], Awaitable[Taken]]
_Item = Tuple[Any, Optional[str]]
_Step = Tuple[Awaitable[None], List[_Item]]
#: a burst submitted to the group commit: resolves to (the stored message, whether it is new) each
Stored = asyncio.Future[List[Tuple[MessageRecord, bool]]]


class Pipeline:
    """A socket's chat messages, stored and relayed in order without holding up reading (steps 1-3)."""

    # Every socket has one, idle or not: slots only (no closure, no list until
    # a message comes; ``take`` is the gateway's function, shared by all).
    __slots__ = ("socket", "gateway", "take", "subject", "items", "task", "room", "full")
    LIMIT = 256

    def __init__(self, socket: ServerConnection, gateway: Any, take: Take) -> None:
        self.socket = socket
        self.gateway = gateway
        self.take = take
        #: the conversation or the agent, once the socket said hello
        self.subject: Any = None
        self.items: Optional[List[_Item]] = None
        self.task: "Optional[asyncio.Task[None]]" = None
        self.room: "Optional[asyncio.Future[None]]" = None
        #: set while the worker waits for a step, woken early should the queue fill (see _settle)
        self.full: "Optional[asyncio.Future[None]]" = None

    async def add(self, message: Any, ref: Optional[str]) -> None:
        if self.items is None:
            self.items = []
        self.items.append((message, ref))
        if self.task is None:
            self.task = asyncio.ensure_future(self._work())
        elif len(self.items) >= self.LIMIT:
            _resolve(self.full)
            self.room = asyncio.get_running_loop().create_future()
            await self.room

    async def _work(self) -> None:
        ahead: Optional[_Step] = None  # a relayed burst whose work is still to be awaited
        try:
            while self.items:
                batch, self.items = self.items, None
                self._wake()
                ahead = await self._take_all(batch, ahead)
                if not self.items and ahead is not None:
                    ahead = await self._settle(ahead)
        finally:
            self.task = None
            self._wake()

    async def _settle(self, step: _Step) -> Optional[_Step]:
        """Finish ``step`` (returns None), unless the queue fills first: then
        returns it still running, and the next burst is taken (submitted to
        the group commit) before it is finished. The storage then writes that
        burst while this one is relayed, instead of both waiting in turn."""
        work, items = step
        task = asyncio.ensure_future(work)
        if not task.done():
            full = self.full = asyncio.get_running_loop().create_future()
            task.add_done_callback(lambda _: _resolve(full))
            try:
                await full
            except BaseException:
                task.cancel()
                raise
            finally:
                self.full = None
            if not task.done():
                return task, items
        await self._finish((task, items))
        return None

    async def _take_all(self, batch: List[_Item], ahead: Optional[_Step]) -> Optional[_Step]:
        """Hand ``batch`` to :attr:`take` until all is taken; returns the step still running."""
        while batch:
            try:
                taken, work, chained = await self.take(self.gateway, self.subject, [m for m, _ in batch])
            except Exception as exc:  # refers to the first message
                if ahead is not None:
                    step, ahead = ahead, None
                    await self._finish(step)
                await self._failed(exc, batch[:1])
                batch = batch[1:]
                continue
            step = (work, batch[:taken])
            batch = batch[taken:]
            if ahead is not None:
                previous, ahead = ahead, None
                await self._finish(previous)
            if chained:
                ahead = step
            else:
                await self._finish(step)
        return ahead

    def _wake(self) -> None:
        room, self.room = self.room, None
        if room is not None and not room.done():
            room.set_result(None)

    async def _finish(self, step: _Step) -> None:
        work, items = step
        try:
            await work
        except Exception as exc:
            await self._failed(exc, items)

    async def _failed(self, exc: Exception, items: List[_Item]) -> None:
        """Answer a failure: a refusal refers to the first message, anything
        else (storage down...) to all of ``items``."""
        if isinstance(exc, ProtocolError):
            if exc.ref is None:
                exc.ref = items[0][1]
            await send(self.socket, exc.frame())
            return
        logger.error("relaying a message failed", exc_info=exc)
        for _, ref in items:
            await send(self.socket, frames.internal_error(ref))

    async def drain(self) -> None:
        while self.task is not None:
            await self.task


def _resolve(future: "Optional[asyncio.Future[None]]") -> None:
    if future is not None and not future.done():
        future.set_result(None)


async def send(socket: ServerConnection, frame: frames.Frame) -> None:
    """One frame straight to one socket (answers to that socket's own frames)."""
    try:
        await socket.send(frames.dumps(frame))
    except ConnectionClosed:
        pass


class TurnQueue:
    """Per conversation, the bot turns not yet done, oldest first (step 4)."""

    def __init__(self, spawn: Callable[[Awaitable[Any]], "asyncio.Task[Any]"], ahead: int = 4) -> None:
        #: starts a task the gateway tracks (and cancels when it closes)
        self._spawn = spawn
        self.ahead = ahead
        self._turns: Dict[str, List["asyncio.Task[Any]"]] = {}

    def busy(self, conversation_id: str) -> bool:
        """Whether a turn of this conversation is still running or waiting."""
        return any(not task.done() for task in self._turns.get(conversation_id, ()))

    async def room(self, conversation_id: str) -> None:
        """Wait until fewer than :attr:`ahead` turns of the conversation are pending."""
        while True:
            pending = [task for task in self._turns.get(conversation_id, ()) if not task.done()]
            if len(pending) < self.ahead:
                return
            await asyncio.wait({pending[0]})

    def add(self, conversation_id: str, turn: Callable[[], Awaitable[None]]) -> "asyncio.Task[Any]":
        """Run ``turn()`` once every earlier turn of the conversation is done
        (whether it succeeded, failed or was cancelled)."""
        turns = self._turns.setdefault(conversation_id, [])
        before = turns[-1] if turns else None

        async def run() -> None:
            if before is not None:
                await asyncio.wait({before})  # (not ``await before``: its failure is not ours)
            await turn()

        task = self._spawn(run())
        turns.append(task)
        task.add_done_callback(lambda done: self._done(conversation_id, done))
        return task

    def _done(self, conversation_id: str, task: "asyncio.Task[Any]") -> None:
        turns = self._turns.get(conversation_id)
        if turns is None:
            return
        try:
            turns.remove(task)
        except ValueError:
            pass
        if not turns:
            del self._turns[conversation_id]

    def __len__(self) -> int:
        """Conversations with a turn pending (for tests and stats)."""
        return len(self._turns)


class MessageFlow:
    """Steps 2-4 for both endpoints: what a :class:`Pipeline` hands over."""

    def __init__(self, core: GatewayCore, bot: BotTurns, shopper: "ShopperSide", desk: "AgentDesk") -> None:
        self.core = core
        self.bot = bot
        self.shopper = shopper
        self.desk = desk
        #: the bot turns of each conversation, one at a time
        self.turns = TurnQueue(core.tasks.spawn)

    async def shopper_messages(self, conversation: ConversationRecord, messages: Sequence[Any]) -> Taken:
        """Take shopper messages (objects with ``text`` and ``client_id``):
        with a person, all of them (one commit, then one relay, both sockets
        of the chat and its agent: each message serialised once); with the
        bot (or closed), the first one only (:meth:`_to_bot`). The live state
        is read once per call."""
        cid = conversation.id
        live = await self.core.live.get(cid)
        if live.state in (AGENT, WAITING):
            now = utcnow()  # a burst read together shares its timestamp (one to format, not one each)
            stored = self.core.storage.submit_messages(
                [chat_message(cid, "shopper", m.text, now, client_id=m.client_id) for m in messages]
            )
            relay = self.relay(cid, stored, live.agent_id)
            if emergency.described(m.text for m in messages):  # Rasa is paused: the gateway screens
                relay = _in_order(relay, self.shopper.medical_emergency(conversation, live))
            return len(messages), relay, True
        return 1, self._to_bot(conversation, live, messages[0]), False

    async def agent_messages(self, agent: AgentRecord, messages: Sequence[Any]) -> Taken:
        """Take agent messages (objects with ``conversation_id`` and ``text``):
        the leading ones for the same conversation, checked once (the agent
        must own it), one commit, one relay."""
        cid = messages[0].conversation_id
        count = 1
        while count < len(messages) and messages[count].conversation_id == cid:
            count += 1
        await self.desk.owned(agent, cid)
        now = utcnow()  # shared by the burst, as in shopper_messages
        stored = self.core.storage.submit_messages(
            [chat_message(cid, "agent", m.text, now, agent_id=agent.id, agent_name=agent.name)
             for m in messages[:count]]
        )
        return count, self.relay(cid, stored, agent.id), True

    async def attachment_recipient(self, cid: str, agent: Optional[AgentRecord]) -> Optional[int]:
        """The agent whose console gets a file sent to ``cid``: the sender, who
        must own the chat (else refused), or for a shopper's file the chat's agent."""
        if agent is not None:
            await self.desk.owned(agent, cid)
            return agent.id
        live = await self.core.live.get(cid)
        return live.agent_id if live.state == AGENT else None

    async def attachment(self, message: MessageRecord, agent_id: Optional[int]) -> MessageRecord:
        """A sent file's message (handoff/attachments/): stored, then relayed
        like any message; never to the assistant (it reads text only)."""
        stored = self.core.storage.submit_messages([message])
        await self.relay(message.conversation_id, stored, agent_id)
        return (await stored)[0][0]

    async def relay(self, cid: str, stored: Stored, agent_id: Optional[int]) -> None:
        """Once committed, publish messages to the conversation and (when
        owned) to its agent, in order, in one bus round trip: one payload per
        topic (see :meth:`Hub.publish`), each message serialised once."""
        texts = [frames.message_json(record) for record, _ in await stored]
        events: List[Tuple[str, str]] = [(Hub.shopper_topic(cid), SEPARATOR.join(texts))]
        if agent_id is not None:
            events.append((Hub.agent_topic(agent_id), SEPARATOR.join([frames.for_agent(t, cid) for t in texts])))
        await self.core.hub.publish(events)

    async def _to_bot(self, conversation: ConversationRecord, live: LiveState, message: Any) -> None:
        """A shopper message while with the bot (or closed): stored,
        acknowledged, then answered by a turn. When no earlier turn is pending
        and the chat is with the bot, the text goes to Rasa while the message
        is being committed; the echo still waits for the commit and goes out
        with the bot's typing on. A resend of a stored ``client_id`` is only
        acknowledged again, never sent to the assistant twice: it is looked
        for before the assistant is asked, unless the client says the message
        is sent for the first time (``first``: no earlier attempt can have
        been stored; the commit still stores it once). If the commit
        fails, or the chat left ``bot`` meanwhile, the assistant's answer is
        dropped (it may have read a message the shopper is told failed; the
        retry is then stored once)."""
        core, cid = self.core, conversation.id
        await self.turns.room(cid)  # a shopper far ahead of the assistant waits here
        if message.client_id is not None and not message.first:
            earlier = await core.storage.find_message(cid, message.client_id)
            if earlier is not None:  # a resend of a stored message: acknowledged again, nothing more
                await core.hub.send(Hub.to_shopper(cid, frames.message_frame(earlier)))
                return
        asking: "Optional[asyncio.Task[List[Dict[str, Any]]]]" = None
        streamed = Streamed()  # its replies, stored only once the turn runs (BotTurns.ask)
        if live.state == BOT and not self.turns.busy(cid):
            # started first: its request is written before the commit's (Rasa's turn is the longer wait)
            asking = asyncio.ensure_future(self.bot.send(conversation, message.text, streamed))
        try:
            record, new = await core.storage.submit_message(
                MessageRecord(conversation_id=cid, sender="shopper", text=message.text, client_id=message.client_id)
            )
        except BaseException:
            drop(asking)
            raise
        echo = Hub.to_shopper(cid, frames.message_frame(record))
        if not new:  # a resend stored meanwhile: acknowledged again, nothing more
            drop(asking)
            await core.hub.send(echo)
            return
        if asking is not None and await self._still_bot(cid, asking, echo):
            await core.hub.send(echo, typing(cid, True))
            self.turns.add(cid, lambda: self.bot.answer(conversation, record, message.ref, asking, streamed))
            return
        await core.hub.send(echo)
        self.turns.add(cid, lambda: self.bot.answer(conversation, record, message.ref, None))

    async def _still_bot(self, cid: str, asking: "asyncio.Task[Any]", echo: Tuple[str, frames.Frame]) -> bool:
        """After the commit: is the chat still with the bot (else the early answer is dropped)?"""
        try:
            live = await self.core.live.get(cid)
        except BaseException:
            drop(asking)
            await self.core.hub.send(echo)
            raise
        if live.state == BOT:
            return True
        drop(asking)  # the chat left the bot while the message was committed
        return False


async def _in_order(first: Awaitable[None], then: Awaitable[None]) -> None:
    await first
    await then
