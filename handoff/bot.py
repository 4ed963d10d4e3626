"""Bot turns: asking the assistant, relaying its answer, and when it does not answer.

While a chat is ``bot`` (PROTOCOL.md "The bot part") each stored shopper
message gets a turn (:mod:`handoff.ordering` runs them one at a time per
conversation): the shopper sees the bot's ``typing`` on, the text goes to
Rasa, then ``typing`` off and the bot's messages (stored in one group
commit). A reply carrying the handoff payload is not shown: it starts a
handoff (:mod:`handoff.handoffs`). When Rasa does not answer, the shopper is
offered a person (a ``system`` message with a button, then ``unavailable``);
a ``/request_human`` it cannot answer is handed off by the gateway itself.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Dict, List, Optional, Tuple

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

    def send(self, conversation: ConversationRecord, text: str) -> Awaitable[Replies]:
        """Ask Rasa (timed: handoff/metrics.py counts the turn's latency and failures)."""
        context = {"role": conversation.role, "line": conversation.line}
        return self.core.metrics.timed(self.core.rasa.send(conversation.id, text, context))

    async def answer(
        self,
        conversation: ConversationRecord,
        record: MessageRecord,
        ref: Optional[str],
        asking: "Optional[asyncio.Task[Replies]]",
    ) -> None:
        """A stored shopper message's turn: the assistant's answer (``asking``:
        already asked, typing already shown), or, when the chat is no longer
        with the bot by now, the message goes to the agent who has it (a chat
        waiting for a person shows it in the transcript when claimed). A
        refusal or failure reaches the shopper as an ``error`` with the
        message's ``ref``."""
        core, cid = self.core, conversation.id
        try:
            if asking is None and not await self._still_bot(cid, record):
                return
            await self.ask(conversation, record.text, asking=asking, typing_shown=asking is not None)
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
        typing_shown: bool = False,
    ) -> None:
        """Send ``text`` to Rasa (or await ``asking``, that request already
        under way), relay and store the replies, hand off if asked.
        ``typing_shown``: the bot's typing on was already sent."""
        core, cid = self.core, conversation.id
        typing_off = typing(cid, False)
        if not typing_shown:
            await core.hub.send(typing(cid, True))
        try:
            replies = await (asking if asking is not None else self.send(conversation, text))
        except RasaUnavailable as exc:
            logger.warning("assistant unavailable: %s", exc)
            await core.hub.send(typing_off)
            await self.unavailable(conversation, text, isinstance(exc, RasaActionsFailed))
            return
        records, handoff = _shown(cid, replies)
        stored = await core.storage.submit_messages(records)  # one group commit
        await core.hub.send(typing_off, *(Hub.to_shopper(cid, frames.message_frame(r)) for r, _ in stored))
        if handoff is not None:
            await self.handoffs.start(conversation, handoff)

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


def _shown(cid: str, replies: Replies) -> Tuple[List[MessageRecord], Optional[Handoff]]:
    """The bot messages to store and show, and the first handoff asked for (not shown)."""
    handoff: Optional[Handoff] = None
    records: List[MessageRecord] = []
    for reply in replies:
        found = parse_handoff(reply.get("custom"))
        if found is not None:
            handoff = handoff or found
            reply = {k: v for k, v in reply.items() if k != "custom"}
        record = bot_record(cid, reply)
        if record is not None:
            records.append(record)
    return records, handoff


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
