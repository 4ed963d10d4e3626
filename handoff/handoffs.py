"""Handoff and paging: a chat starts waiting for a person.

A handoff (the assistant's handoff payload, a ``/request_human`` it cannot
answer, a transfer, a requeue, a medical emergency) opens a handoff stint in
SQL, puts the chat in its queue (live state) and tells everyone: the shopper
gets a ``system`` message and ``state`` (plus ``offline`` when nobody is
online), agents get ``handoff``. Outside team hours with nobody online the
chat is not queued at all (:mod:`handoff.ops.after_hours`).

The emergency queue is never offered a ticket: with nobody online the on-call
person is paged at once, otherwise after ``emergency_page_after`` seconds
unless the chat was claimed by then (``page`` to the webhook, ``paged`` and a
system message to the provider).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Awaitable, Callable, Optional

from . import frames, paging
from .contract import Handoff
from .core import GatewayCore
from .hub import Hub
from .live_state import WAITING, QueueEntry
from .storage import ConversationRecord, HandoffRecord

logger = logging.getLogger(__name__)

OFFLINE_TEXT = (
    "Nobody from our team is online right now. You can leave a message with your email "
    "address and we will reply by email."
)
PAGED_TEXT = "We have paged the on-call person; they will join you as soon as possible."
NOT_PAGED_TEXT = "We could not reach the on-call person automatically; the first free agent will take your chat."

#: (conversation, handoff) -> True when answered out of hours instead of queued
AfterHours = Callable[[ConversationRecord, Handoff], Awaitable[bool]]


def queue_entry(record: HandoffRecord, line: str) -> QueueEntry:
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


class Handoffs:
    """Queue a chat for a person, announce it, page for emergencies."""

    def __init__(self, core: GatewayCore, after_hours: AfterHours) -> None:
        self.core = core
        self._after_hours = after_hours

    async def start(self, conversation: ConversationRecord, handoff: Handoff) -> None:
        """Queue the chat and tell everyone; pausing the Rasa conversation runs
        alongside (the gateway stops sending to Rasa once the chat is
        waiting, so nothing waits for the pause but the end of this call)."""
        if await self._after_hours(conversation, handoff):  # handoff/ops/after_hours.py: nobody on duty
            return
        pausing = asyncio.ensure_future(self.core.pause_rasa(conversation.id))
        try:
            record = await self.core.storage.open_handoff(conversation.id, handoff)
            entry = queue_entry(record, conversation.line)
            await self.core.live.enqueue(entry)
            await self.announce(entry, f"You are now waiting for a person ({entry.queue} queue).")
        finally:
            await pausing

    async def requeue(self, cid: str, agent_id: int, old: QueueEntry, why: str, text: str) -> Optional[QueueEntry]:
        """The chat goes back to the front of its queue from ``agent_id`` (lost,
        or quiet: handoff/escalation.py): the stint ends as ``why``, a new one
        opens, everyone is told ``text``, and the agent's sockets get
        ``chat_ended`` ``why`` (a console back from a lost connection may have
        been given the chat in its welcome). None if the agent let go meanwhile."""
        core = self.core
        record = await core.storage.open_handoff(
            cid, Handoff(queue=old.queue, reason=old.reason, summary=old.summary, context=old.context)
        )
        entry = replace(old, handoff_id=record.id, requeued=True, kept_by=None, kept_by_name=None,
                        offered_to=None, offered_to_name=None)
        pending = (await core.live.get(cid)).pending  # a transfer its agent made goes with them
        if not await core.live.requeue(cid, agent_id, entry, front=True):
            await core.storage.end_handoff(record.id, "abandoned")
            return None
        await core.storage.end_handoff(old.handoff_id, why)
        if pending is not None:
            await core.storage.end_handoff(pending.handoff_id, "abandoned")
        await self.announce(entry, text)
        await core.hub.send(Hub.to_agent(agent_id, frames.chat_ended(cid, why)))
        return entry

    async def announce(self, entry: QueueEntry, text: str) -> None:
        """The chat of ``entry`` is now waiting: ``text`` to the shopper, to every agent."""
        core, cid = self.core, entry.conversation_id
        note = await core.system(cid, text)
        events = [
            Hub.to_shopper(cid, note),
            Hub.to_shopper(cid, frames.state(WAITING, queue=entry.queue)),
            Hub.to_agents(frames.handoff(entry)),
        ]
        emergency = entry.queue == "emergency"
        online = bool(await core.live.online_agents())
        if not online and not emergency:
            offline = await core.system(cid, OFFLINE_TEXT)
            events += [Hub.to_shopper(cid, offline), Hub.to_shopper(cid, frames.offline())]
        await core.hub.send(*events)
        await core.hub.queues_changed()
        core.wake_assigner()  # handoff/assign.py
        if emergency:
            # An emergency is never offered a ticket: with nobody online the
            # on-call person is paged at once, otherwise after the claim window.
            delay = core.config.emergency_page_after if online else 0.0
            core.tasks.later(delay, lambda: self.page(entry))

    async def page(self, entry: QueueEntry) -> None:
        """Page the on-call person for an emergency still waiting (once, whichever process gets here first)."""
        core, cid = self.core, entry.conversation_id
        live = await core.live.get(cid)
        if live.state != WAITING or live.handoff_id != entry.handoff_id:
            return
        if not await core.live.mark_paged(entry.handoff_id):
            return
        webhook = core.config.page_webhook
        status, detail = await paging.post_page(webhook, frames.page(entry))
        await core.storage.add_page(cid, entry.handoff_id, webhook, status, detail)
        if status == paging.SENT:
            note = await core.system(cid, PAGED_TEXT)
            await core.hub.send(Hub.to_shopper(cid, note), Hub.to_shopper(cid, frames.paged()))
        else:
            logger.error("emergency page not delivered: %s (%s)", status, detail)
            note = await core.system(cid, NOT_PAGED_TEXT)
            await core.hub.send(Hub.to_shopper(cid, note))
