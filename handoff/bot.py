"""Bot turns: asking the assistant, relaying its answer, and when it does not answer.

While a chat is ``bot`` (PROTOCOL.md "The bot part") each stored shopper
message gets a turn (:mod:`handoff.ordering` runs them one at a time per
conversation): the shopper sees the bot's ``typing`` on, the text goes to
Rasa, then ``typing`` off and the bot's messages. Rasa is asked for a
streamed answer (:meth:`handoff.rasa_client.RasaClient.send`): each reply
is submitted to the group commit as soon as it arrives, while Rasa finishes
its turn, so the messages are stored (never shown before) by the time the
answer ends. A reply carrying the handoff payload is not shown: it starts a
handoff (:mod:`handoff.handoffs`). When Rasa does not answer, the shopper is
offered a person (a ``system`` message with a button, then ``unavailable``);
a ``/request_human`` it cannot answer is handed off by the gateway itself.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from . import frames
from .contract import Handoff, parse_handoff
from .core import GatewayCore
from .frames import Frame
from .handoffs import Handoffs
from .hub import Hub
from .live_state import AGENT, BOT, CLOSED, LiveState
from .protocol import Code, ProtocolError
from .rasa_client import RasaActionsFailed, RasaUnavailable
from .storage import ConversationRecord, MessageRecord

logger = logging.getLogger(__name__)

REQUEST_HUMAN = "/request_human"
EMERGENCY_INTENT = "/provider_emergency"
UNAVAILABLE_TEXT = "Sorry, the assistant is unavailable right now. You can talk to a person instead."
#: when Rasa is up but answered nothing: its action server (order lookups...) failed
CANNOT_LOOK_UP_TEXT = "Sorry, I cannot look that up right now. You can talk to a person instead."

Replies = List[Dict[str, Any]]


def typing(cid: str, on: bool) -> Tuple[str, Frame]:
    """The bot's typing indicator, for the shopper's sockets."""
    return Hub.to_shopper(cid, frames.bot_typing(on))


class Streamed:
    """The replies of an answer under way, as they arrive; stored once the
    turn wants them (:meth:`take`): an answer asked before its turn started
    may still be dropped (see :meth:`handoff.ordering.MessageFlow._to_bot`)."""

    __slots__ = ("replies", "_take")

    def __init__(self) -> None:
        self.replies: Replies = []
        self._take: Optional[Callable[[Dict[str, Any]], None]] = None

    def __call__(self, reply: Dict[str, Any]) -> None:
        self.replies.append(reply)
        if self._take is not None:
            self._take(reply)

    def take(self, each: Callable[[Dict[str, Any]], None]) -> None:
        """Hand ``each`` the replies that arrived, then every next one as it arrives."""
        self._take = each
        for reply in self.replies:
            each(reply)


def drop(task: "Optional[asyncio.Future[Any]]") -> None:
    """Give up on ``task`` (a request whose answer is not wanted any more)."""
    if task is not None:
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


class BotTurns:
    """The assistant's side of a conversation."""

    def __init__(self, core: GatewayCore, handoffs: Handoffs) -> None:
        self.core = core
        self.handoffs = handoffs

    def send(self, conversation: ConversationRecord, text: str, streamed: Streamed) -> Awaitable[Replies]:
        """Ask Rasa, its replies also to ``streamed`` as they arrive (timed:
        handoff/metrics.py counts the turn's latency and failures)."""
        context = {"role": conversation.role, "line": conversation.line}
        return self.core.metrics.timed(self.core.rasa.send(conversation.id, text, context, streamed))

    async def answer(
        self,
        conversation: ConversationRecord,
        record: MessageRecord,
        ref: Optional[str],
        asking: "Optional[asyncio.Task[Replies]]",
        streamed: Optional[Streamed] = None,
    ) -> None:
        """A stored shopper message's turn: the assistant's answer (``asking``:
        already asked, its replies arriving in ``streamed``, typing already
        shown), or, when the chat is no longer
        with the bot by now, the message goes to the agent who has it (a chat
        waiting for a person shows it in the transcript when claimed). A
        refusal or failure reaches the shopper as an ``error`` with the
        message's ``ref``."""
        core, cid = self.core, conversation.id
        try:
            if asking is None and not await self._still_bot(cid, record):
                return
            await self.ask(conversation, record.text, asking=asking, streamed=streamed,
                           typing_shown=asking is not None)
        except ProtocolError as error:
            if error.ref is None:
                error.ref = ref
            await core.hub.send(Hub.to_shopper(cid, error.frame()))
        except Exception:
            logger.exception("a bot turn failed")
            await core.hub.send(typing(cid, False), Hub.to_shopper(cid, frames.internal_error(ref)))
        finally:
            drop(asking)  # (done by now, unless the gateway is closing)

    async def _still_bot(self, cid: str, record: MessageRecord) -> bool:
        """Whether the message of a turn that waited is for the assistant: a
        closed chat is back with the bot; an agent's chat sends it to the agent."""
        core = self.core
        live = await core.live.get(cid)
        if live.state == CLOSED:  # writing again after a closed chat: back to the bot
            await core.live.set_state(cid, LiveState(state=BOT))
            await core.hub.send(Hub.to_shopper(cid, frames.state(BOT)))
            await core.resume_rasa(cid)
            live = LiveState(state=BOT)
        if live.state == AGENT and live.agent_id is not None:
            await core.hub.send(Hub.to_agent(live.agent_id, frames.message_frame(record, conversation_id=True)))
        return live.state == BOT

    async def ask(
        self,
        conversation: ConversationRecord,
        text: str,
        *,
        asking: "Optional[Awaitable[Replies]]" = None,
        streamed: Optional[Streamed] = None,
        typing_shown: bool = False,
    ) -> None:
        """Send ``text`` to Rasa (or await ``asking``, that request already
        under way, its replies arriving in ``streamed``), store the replies as
        they arrive, show them once the answer is complete and stored (typing
        off, then the messages), hand off if asked. ``typing_shown``: the
        bot's typing on was already sent. Should the answer break off, what
        arrived is shown, then the assistant is unavailable."""
        core, cid = self.core, conversation.id
        typing_off = typing(cid, False)
        if not typing_shown:
            await core.hub.send(typing(cid, True))
        if asking is None:
            streamed = Streamed()
            asking = self.send(conversation, text, streamed)
        assert streamed is not None, "an answer already asked for comes with its Streamed"
        writes: List["asyncio.Future[List[Tuple[MessageRecord, bool]]]"] = []
        handoffs: List[Handoff] = []

        def store(reply: Dict[str, Any]) -> None:
            record, handoff = _shown(cid, reply)
            if handoff is not None:
                handoffs.append(handoff)
            if record is not None:
                writes.append(core.storage.submit_messages([record]))

        streamed.take(store)
        try:
            await asking
        except RasaUnavailable as exc:
            logger.warning("assistant unavailable: %s", exc)
            await self._show(cid, typing_off, writes)
            await self.unavailable(conversation, text, isinstance(exc, RasaActionsFailed))
            return
        await self._show(cid, typing_off, writes)
        if handoffs:
            await self.handoffs.start(conversation, handoffs[0])

    async def _show(self, cid: str, typing_off: Tuple[str, Frame],
                    writes: "List[asyncio.Future[List[Tuple[MessageRecord, bool]]]]") -> None:
        """The bot's typing off and its messages, once every one is stored."""
        stored = [record for batch in await asyncio.gather(*writes) for record, _ in batch]
        await self.core.hub.send(typing_off, *(Hub.to_shopper(cid, frames.message_frame(r)) for r in stored))

    async def unavailable(self, conversation: ConversationRecord, text: str, lookup: bool = False) -> None:
        """Offer a person (``lookup``: Rasa is up but its action server failed)."""
        cid = conversation.id
        if text.startswith(REQUEST_HUMAN) or text == EMERGENCY_INTENT:
            # The shopper asked for a person: the gateway hands off by itself.
            queue = "emergency" if conversation.line == "emergency" else "general"
            await self.handoffs.start(
                conversation,
                Handoff(
                    queue=queue,
                    reason="assistant_unavailable",
                    summary="The assistant did not answer; the shopper asked for a person.",
                    context={"role": conversation.role, "line": conversation.line},
                ),
            )
            return
        record, _ = await self.core.storage.add_message(
            MessageRecord(
                conversation_id=cid,
                sender="system",
                text=CANNOT_LOOK_UP_TEXT if lookup else UNAVAILABLE_TEXT,
                extra={"buttons": [{"title": "Talk to a person", "payload": REQUEST_HUMAN}]},
            )
        )
        await self.core.hub.send(Hub.to_shopper(cid, frames.message_frame(record)))
        raise ProtocolError(Code.UNAVAILABLE, "The assistant did not answer; your message is saved.")


def _shown(cid: str, reply: Dict[str, Any]) -> Tuple[Optional[MessageRecord], Optional[Handoff]]:
    """The bot message of a reply to store and show (None if it shows
    nothing), and the handoff it asks for (its payload is not shown)."""
    handoff = parse_handoff(reply.get("custom"))
    if handoff is not None:
        reply = {k: v for k, v in reply.items() if k != "custom"}
    return bot_record(cid, reply), handoff


def bot_record(conversation_id: str, reply: Dict[str, Any]) -> Optional[MessageRecord]:
    """A Rasa reply as the bot message to store, None if it shows nothing."""
    text = reply.get("text")
    extra: Dict[str, Any] = {}
    buttons = reply.get("buttons")
    if isinstance(buttons, list):
        extra["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons
            if isinstance(b, dict)
        ]
    if isinstance(reply.get("image"), str):
        extra["image"] = reply["image"]
    if reply.get("custom") is not None:
        extra["custom"] = reply["custom"]
    if not isinstance(text, str):
        text = ""
    if not text and not extra:
        return None
    return MessageRecord(conversation_id=conversation_id, sender="bot", text=text, extra=extra or None)
