"""The honest answer when a shopper asks for a person outside team hours.

Called by the gateway where a handoff starts, before the chat is queued.
Outside a queue's hours (``ops.yml``; :func:`handoff.ops.hours.out_of_hours_text`)
and with no agent online, a queue would only make the shopper wait for
nobody. So the chat is not queued: the shopper is told when people are back
and gets the ticket form (the ``offline`` frame). The request is stored as a
stint closed at once with outcome ``out_of_hours``, so the reports count the
demand (never claimed: no wait; for the SLA it left before it was due). The
assistant is not paused: the shopper can keep talking to it.

Never for the emergency queue or the provider emergency line (always staffed
or paged), never while an agent is online (they may serve it). On by
default; ``KARA_GATEWAY_OUT_OF_HOURS_TICKET=0`` queues such chats anyway (a
team that serves its queue at night without marking it in ``ops.yml``). The
tests' gateways are staffed around the clock (``tests/ops-always.yml``)
unless a test gives its own hours.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Optional

from ..contract import Handoff
from .. import frames
from ..hub import Hub
from ..storage import ConversationRecord, MessageRecord
from .hours import out_of_hours_text
from .settings import Ops, load_ops

if TYPE_CHECKING:
    from ..service import Gateway

OUTCOME = "out_of_hours"


async def answered(gateway: "Gateway", conversation: ConversationRecord, handoff: Handoff,
                   ops: Optional[Ops] = None, now: Optional[dt.datetime] = None) -> bool:
    """True when the request was answered out of hours (and must not be queued)."""
    if not getattr(gateway.config, "out_of_hours_ticket", False):
        return False
    if handoff.queue == "emergency" or conversation.line == "emergency":
        return False
    text = out_of_hours_text(ops or load_ops(), handoff.queue, now or dt.datetime.now(dt.timezone.utc))
    if text is None or await gateway.live.online_agents():
        return False
    cid = conversation.id
    stint = await gateway.storage.open_handoff(cid, handoff)
    await gateway.storage.end_handoff(stint.id, OUTCOME, at=stint.enqueued_at)
    note, _ = await gateway.storage.add_message(MessageRecord(conversation_id=cid, sender="system", text=text))
    await gateway.hub.send(Hub.to_shopper(cid, frames.message_frame(note)), Hub.to_shopper(cid, frames.offline()))
    return True
