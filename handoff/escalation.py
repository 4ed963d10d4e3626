"""SLA escalation: chats nobody answers in time, agents who go quiet.

:func:`watch` runs in every gateway process (started by ``Lifecycle.start``, handoff/lifecycle.py);
every ``sla_check_s`` one process (``QueueStore.once``) looks at the live
state and the transcript:

* **breach**: a chat waiting, or claimed without a word from a person, past
  its first-response deadline (:mod:`handoff.countdown`, ``ops.yml``) is
  escalated once: an ``sla_alert`` (kind ``breach``) to every supervisor
  online, one count in ``kara_sla_breaches_total``, and an emergency chat
  pages the on-call person again (:mod:`handoff.paging`, recorded in
  ``pages`` like the first page);
* **silent agent**: a claimed chat whose agent owes the shopper an answer
  (from the claim, or from the first shopper message after the agent's last
  one) for ``agent_silence.flag_after_s`` is flagged once per silence:
  ``sla_alert`` kind ``silent`` to the agent and the supervisors;
* **requeue**: after ``agent_silence.requeue_after_s`` (unless ``off``) the
  chat goes back to the front of its queue, as when an agent's connection is
  lost (a ``requeued`` stint, a new one in the same queue, the shopper told,
  the agent gets ``chat_ended`` with ``why: requeued``, the supervisors an
  ``sla_alert`` kind ``requeued``; an emergency chat pages the on-call person
  again, ``escalation: requeued``).

"Once" holds across processes: each escalation sets a marker in the live
state first (``QueueStore.mark_escalated``, a SET NX in Redis), so two
processes that both see a breach escalate it once. A breach is keyed by the
chat and the moment its clock started, so a requeued chat (same clock) is
not escalated twice.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable, List, Optional, Set

from sqlalchemy import and_, func, select

from . import countdown, frames, models, paging
from .frames import Frame
from .hub import Hub
from .live_state import AGENT, WAITING, LiveState, QueueEntry
from .ops.roles import SUPERVISOR
from .ops.settings import Ops, load_ops
from .records import aware

if TYPE_CHECKING:
    from .core import GatewayCore
    from .handoffs import Handoffs

logger = logging.getLogger(__name__)

BREACH, SILENT, REQUEUED = "breach", "silent", "requeued"
REQUEUED_TEXT = "Sorry for the wait: your agent has not answered. You are back at the front of the queue."

messages_t = models.table_of(models.Message)
handoffs_t = models.table_of(models.Handoff)
agents_t = models.table_of(models.Agent)


@dataclass(frozen=True)
class Claimed:
    """A chat with an agent, and what the transcript says about its replies."""

    live: LiveState
    entry: QueueEntry
    agent_id: int
    claimed_at: Optional[dt.datetime] = None
    last_agent: Optional[dt.datetime] = None  # the agent side's last message (any stint)
    shopper_after: Optional[dt.datetime] = None  # the first shopper message after it (None without it)

    @property
    def answered(self) -> bool:
        since = dt.datetime.fromtimestamp(self.entry.enqueued_at, dt.timezone.utc)
        return self.last_agent is not None and self.last_agent >= since

    @property
    def owed_since(self) -> Optional[dt.datetime]:
        """Since when the agent owes the shopper an answer; None: they do not."""
        if self.claimed_at is None:
            return None
        if self.last_agent is None or self.last_agent < self.claimed_at:
            return self.claimed_at  # not a word since the claim
        return self.shopper_after


async def watch(gateway: "GatewayCore", handoffs: "Handoffs") -> None:
    """The watcher's loop (see module docs); a failed round is logged and retried."""
    every = float(getattr(gateway.config, "sla_check_s", 5.0))
    watcher = Watcher(gateway, handoffs)
    while True:
        await asyncio.sleep(every)
        try:
            if await gateway.live.once("sla-round", every * 0.8):  # one process per round
                await watcher.round()
        except Exception as exc:  # Redis or the database is away: next round
            logger.warning("SLA round failed: %s", type(exc).__name__)


class Watcher:
    """One gateway's escalations (see module docs)."""

    def __init__(self, gateway: "GatewayCore", handoffs: "Handoffs", ops: Optional[Ops] = None) -> None:
        self.gateway = gateway
        self.handoffs = handoffs  # requeues a quiet agent's chat as a lost agent's is
        self._ops = ops

    @property
    def ops(self) -> Ops:
        return self._ops or load_ops()

    async def round(self, now: Optional[float] = None) -> None:
        now = time.time() if now is None else now
        ops = self.ops
        for entries in (await self.gateway.live.snapshot()).values():
            for entry in entries:
                if self._overdue(entry, now, ops):
                    await self._breach(entry, WAITING, None)
        for chat in await self._claimed():
            if not chat.answered and self._overdue(chat.entry, now, ops):
                await self._breach(chat.entry, AGENT, chat)
            owed = chat.owed_since
            if owed is None:
                continue
            silent_s = now - owed.timestamp()
            if silent_s >= ops.silence_flag_s:
                await self._silent(chat, owed, silent_s)
            if ops.silence_requeue_s is not None and silent_s >= ops.silence_requeue_s:
                await self._requeue(chat, silent_s)

    @staticmethod
    def _overdue(entry: QueueEntry, now: float, ops: Ops) -> bool:
        due = countdown.deadline(entry.queue, entry.enqueued_at, ops)
        return due is not None and due.timestamp() < now

    # -- reading -----------------------------------------------------------

    async def _claimed(self) -> List[Claimed]:
        """Every chat with an agent (any process), with its reply times from SQL."""
        live = self.gateway.live
        found: List[Claimed] = []
        for agent_id in await live.owners():
            for cid in await live.owned_by(agent_id):
                state = await live.get(cid)
                if state.state == AGENT and state.agent_id == agent_id and state.entry is not None:
                    found.append(Claimed(state, state.entry, agent_id))
        if not found:
            return found
        cids = [c.entry.conversation_id for c in found]
        async with self.gateway.storage.engine.connect() as connection:
            claimed = dict((await connection.execute(
                select(handoffs_t.c.id, handoffs_t.c.claimed_at).where(
                    handoffs_t.c.id.in_([c.entry.handoff_id for c in found]))
            )).all())
            # per chat: the agent side's last message and the first shopper message
            # after it, in one statement (a join: a subquery per shopper row was
            # quadratic in a chat's length, and a 100,000-message chat kept PostgreSQL busy)
            last = (
                select(messages_t.c.conversation_id, func.max(messages_t.c.created_at).label("at"))
                .where(messages_t.c.conversation_id.in_(cids), messages_t.c.sender == "agent")
                .group_by(messages_t.c.conversation_id)
                .subquery()
            )
            replies = (await connection.execute(
                select(last.c.conversation_id, last.c.at, func.min(messages_t.c.created_at))
                .select_from(last.outerjoin(messages_t, and_(
                    messages_t.c.conversation_id == last.c.conversation_id,
                    messages_t.c.sender == "shopper", messages_t.c.created_at > last.c.at)))
                .group_by(last.c.conversation_id, last.c.at)
            )).all()
            last_agent = {cid: at for cid, at, _ in replies}
            shopper_after = {cid: after for cid, _, after in replies}
        return [replace(c, claimed_at=aware(claimed.get(c.entry.handoff_id)),
                        last_agent=aware(last_agent.get(c.entry.conversation_id)),
                        shopper_after=aware(shopper_after.get(c.entry.conversation_id))) for c in found]

    async def supervisors_online(self) -> Set[int]:
        online = await self.gateway.live.online_agents()
        if not online:
            return set()
        async with self.gateway.storage.engine.connect() as connection:
            rows = await connection.execute(select(agents_t.c.id).where(
                agents_t.c.id.in_(sorted(online)), agents_t.c.role == SUPERVISOR, agents_t.c.active.is_(True)))
            return {int(row[0]) for row in rows}

    # -- acting ------------------------------------------------------------

    def _alert(self, kind: str, entry: QueueEntry, chat: Optional[Claimed], **extra: int) -> Frame:
        return frames.sla_alert(
            kind, entry, WAITING if chat is None or kind == REQUEUED else AGENT,
            (chat.agent_id, chat.live.agent_name) if chat is not None else None,
            countdown.due_iso(entry.queue, entry.enqueued_at, self.ops), **extra)

    async def _tell(self, frame: Frame, also: Iterable[int] = ()) -> None:
        """``frame`` to every supervisor online and to ``also`` (each once)."""
        to = await self.supervisors_online() | set(also)
        if to:
            await self.gateway.hub.send(*(Hub.to_agent(agent_id, frame) for agent_id in sorted(to)))

    async def _breach(self, entry: QueueEntry, state: str, chat: Optional[Claimed]) -> None:
        key = f"{BREACH}:{entry.conversation_id}:{int(entry.enqueued_at * 1000)}"
        if not await self.gateway.live.mark_escalated(key):
            return
        logger.warning("SLA breach: %s chat %s (%s) not answered in time", entry.queue, entry.conversation_id, state)
        self.gateway.metrics.sla_breaches.labels(entry.queue).inc()
        await self._tell(self._alert(BREACH, entry, chat, overdue_s=self._overdue_s(entry)))
        if entry.queue == "emergency":
            await self._page_again(entry)

    def _overdue_s(self, entry: QueueEntry) -> int:
        due = countdown.deadline(entry.queue, entry.enqueued_at, self.ops)
        return 0 if due is None else max(0, int(time.time() - due.timestamp()))

    async def _page_again(self, entry: QueueEntry, why: str = "sla_breach") -> None:
        """Page the on-call person again (the first page: ``Handoffs.page``, handoff/handoffs.py)."""
        config, cid = self.gateway.config, entry.conversation_id
        status, detail = await paging.post_page(config.page_webhook, frames.page(entry, escalation=why))
        await self.gateway.storage.add_page(cid, entry.handoff_id, config.page_webhook, status, detail)
        if status != paging.SENT:
            logger.error("emergency escalation page not delivered: %s (%s)", status, detail)

    async def _silent(self, chat: Claimed, owed: dt.datetime, silent_s: float) -> None:
        key = f"{SILENT}:{chat.entry.handoff_id}:{int(owed.timestamp() * 1000)}"
        if await self.gateway.live.mark_escalated(key):
            await self._tell(self._alert(SILENT, chat.entry, chat, silent_s=int(silent_s)), also=[chat.agent_id])

    async def _requeue(self, chat: Claimed, silent_s: float) -> None:
        """Back to the front of its queue, as when its agent's connection is lost."""
        old, cid = chat.entry, chat.entry.conversation_id
        if not await self.gateway.live.mark_escalated(f"{REQUEUED}:{old.handoff_id}"):
            return
        entry = await self.handoffs.requeue(cid, chat.agent_id, old, REQUEUED, REQUEUED_TEXT)
        if entry is None:
            return  # the agent let go meanwhile
        await self._tell(self._alert(REQUEUED, entry, chat, silent_s=int(silent_s)), also=[chat.agent_id])
        if entry.queue == "emergency":  # an emergency left without an answer: the on-call person too
            await self._page_again(entry, REQUEUED)
