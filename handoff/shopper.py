"""The shopper side: hello and resume, typing, rating, ticket, and leaving.

PROTOCOL.md "Shopper endpoint". A ``hello`` opens a conversation (new, with
the per-address limit on new chats, never on the emergency line) or resumes
one by its token; the ``welcome`` carries the state and history, followed by
the frames the state implies (``queue`` and ``offline`` while waiting,
``rating_request`` when a closed chat is not rated yet). Shopper *messages*
are :mod:`handoff.ordering`'s business; a medical emergency written while the
assistant is paused is screened here (:meth:`ShopperSide.medical_emergency`).
"""
from __future__ import annotations

import math
import uuid
from dataclasses import replace
from typing import Any, List, Optional, Tuple

from . import emergency, frames
from .auth import SHOPPER as SHOPPER_TOKEN
from .bot import EMERGENCY_INTENT, BotTurns
from .contract import Handoff
from .core import HISTORY_LIMIT, GatewayCore
from .desk.inbox import response_window
from .frames import Frame
from .handoffs import Handoffs, queue_entry
from .hub import Hub
from .live_state import AGENT, BOT, CLOSED, WAITING, LiveState
from .presence import ShopperPresence
from .protocol import Code, ProtocolError
from .storage import ConversationRecord
from .throttle import Limit, Throttle
from .waits import Waits


class ShopperSide:
    """What a shopper's socket does besides writing messages."""

    def __init__(
        self, core: GatewayCore, waits: Waits, bot: BotTurns, handoffs: Handoffs, throttle: Throttle
    ) -> None:
        self.core = core
        self.waits = waits
        self.bot = bot
        self.handoffs = handoffs
        self.throttle = throttle
        self.presence = ShopperPresence(core)
        config = core.config
        self.new_chats = Limit("new-chats", config.new_chats_per_address, config.new_chats_window_s)

    async def hello(
        self, socket: Any, token: Optional[str], role: str, line: str, address: str = "",
        *, browser: Optional[str] = None,
    ) -> Tuple[ConversationRecord, List[Frame], bool]:
        """Open or resume a conversation for ``socket`` (from client ``address``).

        Returns the conversation, the frames to send to this socket, and
        whether it is new. A token that is forged, expired, of another kind,
        or names an unknown conversation raises ``unauthorized``; a new chat
        beyond the address's limit ``too_many_conversations`` (never on the
        emergency line: a provider in an emergency always gets through).
        ``browser``: the widget's browser id, kept with a new conversation."""
        core = self.core
        conversation, new = await self._open(token, role, line, address, browser)
        # a fresh token each time: the expiry slides while the shopper comes back
        token = core.signer.issue(SHOPPER_TOKEN, conversation.id, core.config.shopper_token_ttl_s)
        cid = conversation.id
        core.rasa.note_client(cid, getattr(socket, "remote_address", None))  # order-guessing lock-out
        await core.hub.add_shopper(cid, socket)  # subscribe before reading history: nothing falls between
        await self.presence.joined(cid)
        live = await core.live.get(cid)
        history = [] if new else await core.storage.history(cid, HISTORY_LIMIT)
        after = await self._resumed_in(cid, live)
        welcome = frames.shopper_welcome(
            cid, token, conversation.role, conversation.line, live.state, frames.messages(history),
            queue=live.queue if live.state == WAITING and live.queue else None,
            agent_name=live.agent_name if live.state == AGENT and live.agent_name else None,
        )
        return conversation, [welcome] + after, new

    async def _open(
        self, token: Optional[str], role: str, line: str, address: str, browser: Optional[str] = None
    ) -> Tuple[ConversationRecord, bool]:
        """The conversation a token names, or a new one (counted against the address)."""
        core = self.core
        if token is not None:
            claims = core.signer.verify(token, SHOPPER_TOKEN)
            conversation = await core.storage.conversation(claims.subject) if claims else None
            if conversation is None:
                raise ProtocolError(Code.UNAUTHORIZED, "This conversation token is not valid; start a new chat.")
            return conversation, False
        if line != "emergency":
            await self._count_new_chat(address)
        return await core.storage.create_conversation(uuid.uuid4().hex, role, line, browser=browser), True

    async def _resumed_in(self, cid: str, live: LiveState) -> List[Frame]:
        """The frames that follow the welcome in this state."""
        after: List[Frame] = []
        if live.state == WAITING and live.queue:
            found = await self.waits.queue_frame(cid, live.queue)
            if found is not None:
                frame, online = found
                after.append(frame)
                if not online and live.queue != "emergency":
                    after.append(frames.offline())
        elif live.state == CLOSED and live.rating_handoff is not None:
            after.append(frames.rating_request())
        return after

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

    async def left(self, conversation: ConversationRecord, socket: Any) -> None:
        await self.core.hub.remove_shopper(conversation.id, socket)
        await self.presence.left(conversation.id)  # the last socket anywhere: agents are told
        if not self.core.hub.shopper_sockets(conversation.id):
            self.waits.forget(conversation.id)

    async def start_emergency(self, conversation: ConversationRecord) -> None:
        """A new emergency-line conversation opens with ``/provider_emergency``."""
        await self.bot.ask(conversation, EMERGENCY_INTENT)

    async def typing(self, conversation: ConversationRecord, on: bool) -> None:
        live = await self.core.live.get(conversation.id)
        if live.state == AGENT and live.agent_id is not None:
            await self.core.hub.send(Hub.to_agent(live.agent_id, frames.shopper_typing(conversation.id, on)))

    async def rate(self, conversation: ConversationRecord, score: int, comment: Optional[str]) -> Frame:
        core = self.core
        live = await core.live.get(conversation.id)
        handoff_id = live.rating_handoff if live.state == CLOSED else None
        if live.state == BOT:  # wrote again after the close ("thanks!"): the rating asked still stands
            handoff_id = await core.storage.unrated_close(conversation.id)
        if handoff_id is None:
            raise ProtocolError(Code.BAD_STATE, "There is no chat to rate right now.")
        await core.storage.rate_handoff(handoff_id, score, comment)
        if live.state == CLOSED:
            await core.live.set_state(conversation.id, replace(live, rating_handoff=None))
        return frames.rating_saved(score)

    async def leave_ticket(self, conversation: ConversationRecord, email: str, text: str) -> Frame:
        core, cid = self.core, conversation.id
        live = await core.live.get(cid)
        if live.state == AGENT:
            raise ProtocolError(Code.BAD_STATE, "A person is already with you in this chat.")
        handoff_id: Optional[int] = None
        left_queue = False
        if live.state == WAITING:
            entry = await core.live.dequeue(cid, BOT)
            if entry is not None:
                handoff_id = entry.handoff_id
                left_queue = True
                await core.storage.end_handoff(entry.handoff_id, "ticket")
        ticket_id = await core.storage.add_ticket(cid, handoff_id, email, text)
        note = await core.system(
            cid, f"Thank you. Your message was saved as ticket #{ticket_id}; "
            f"we will reply by email within {response_window()}."  # the policy's general window
        )
        events = [Hub.to_shopper(cid, note)]
        if left_queue:
            events.append(Hub.to_shopper(cid, frames.state(BOT)))
        await core.hub.send(*events)
        if left_queue:
            await core.hub.queues_changed()
            await core.resume_rasa(cid)
        return frames.ticket_saved(ticket_id, response_window())

    async def medical_emergency(self, conversation: ConversationRecord, live: LiveState) -> None:
        """An emergency written while waiting or with an agent (handoff.emergency):
        the guidance at once; a chat waiting elsewhere to the emergency queue's front."""
        core, cid = self.core, conversation.id
        note = await core.system(cid, emergency.guidance())
        events = [Hub.to_shopper(cid, note)]
        if live.state == AGENT and live.agent_id is not None:
            events.append(Hub.to_agent(live.agent_id, frames.agent_copy(note, cid)))
        await core.hub.send(*events)
        old = live.entry
        if live.state != WAITING or old is None or old.queue == emergency.QUEUE:
            return
        context = dict(old.context, escalated_from=old.queue)
        record = await core.storage.open_handoff(
            cid, Handoff(queue=emergency.QUEUE, reason=emergency.REASON, summary=old.summary, context=context)
        )
        entry = queue_entry(record, conversation.line)
        await core.live.enqueue(entry, front=True)
        await core.storage.end_handoff(old.handoff_id, "transferred")
        await self.handoffs.announce(entry, emergency.MOVED_TEXT)
