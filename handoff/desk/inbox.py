"""The ticket inbox in SQL: tickets by status, their replies, and the agents' ratings.

A ticket (``tickets``, left with ``Gateway.leave_ticket``) is ``open`` until
a reply to it was sent (``answered``: ``answered_at`` / ``answered_by`` are
those of its first sent reply, what :mod:`handoff.ops.reports` reads), and
``closed`` when an agent closes it. Every reply is stored before it is mailed
(``ticket_replies.sent_at`` stays None, with ``error``, when the mail server
did not take it): a failed send loses no words. Async, on the gateway's own
engine (``gateway.storage.engine``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from .. import models
from ..records import aware

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
STATUSES = (OPEN, ANSWERED, CLOSED)

tickets_t = models.table_of(models.Ticket)
replies_t = models.table_of(models.TicketReply)
handoffs_t = models.table_of(models.Handoff)
agents_t = models.table_of(models.Agent)


@lru_cache(maxsize=1)
def response_window() -> str:
    """The policy's general response window, as the shopper is told it (``24-48 hours``)."""
    from actions.policy import load_policy

    return load_policy().window("general_response").text()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Ticket:
    id: int
    conversation_id: str
    email: str
    text: str
    created_at: dt.datetime
    status: str
    answered_at: Optional[dt.datetime]
    answered_by: Optional[str]  # the agent's name
    closed_at: Optional[dt.datetime]
    queue: Optional[str]  # the queue the shopper left (None: left from the assistant)
    reason: Optional[str]
    replies: int


@dataclass(frozen=True)
class Reply:
    id: int
    ticket_id: int
    agent: str
    text: str
    created_at: dt.datetime
    sent_at: Optional[dt.datetime]
    error: Optional[str]


@dataclass(frozen=True)
class Rating:
    conversation_id: str
    queue: str
    reason: str
    score: int
    comment: Optional[str]
    closed_at: Optional[dt.datetime]


def _ticket_query() -> Any:
    t, h, a = tickets_t, handoffs_t, agents_t
    replies = select(func.count()).where(replies_t.c.ticket_id == t.c.id).scalar_subquery()
    return (
        select(t, h.c.queue, h.c.reason, a.c.name.label("answered_name"), replies.label("replies"))
        .select_from(t.outerjoin(h, h.c.id == t.c.handoff_id).outerjoin(a, a.c.id == t.c.answered_by))
    )


def _ticket(row: Any) -> Ticket:
    return Ticket(
        id=int(row.id), conversation_id=row.conversation_id, email=row.email, text=row.text,
        created_at=aware(row.created_at), status=row.status,
        answered_at=aware(row.answered_at), answered_by=row.answered_name, closed_at=aware(row.closed_at),
        queue=row.queue, reason=row.reason, replies=int(row.replies),
    )


async def tickets(engine: AsyncEngine, status: str, *, limit: int = 100, after: int = 0) -> List[Ticket]:
    """The tickets of ``status``, oldest first (the longest waiting on top)."""
    t = tickets_t
    query = _ticket_query().where(t.c.status == status, t.c.id > after).order_by(t.c.created_at, t.c.id).limit(limit)
    async with engine.connect() as connection:
        return [_ticket(row) for row in await connection.execute(query)]


async def counts(engine: AsyncEngine) -> Dict[str, int]:
    """Tickets per status (every status, zeros included)."""
    t = tickets_t
    async with engine.connect() as connection:
        found = {row[0]: int(row[1]) for row in await connection.execute(
            select(t.c.status, func.count()).group_by(t.c.status))}
    return {status: found.get(status, 0) for status in STATUSES}


async def ticket(engine: AsyncEngine, ticket_id: int) -> Optional[Tuple[Ticket, List[Reply]]]:
    """One ticket and its replies (oldest first), or None."""
    r, a = replies_t, agents_t
    async with engine.connect() as connection:
        row = (await connection.execute(_ticket_query().where(tickets_t.c.id == ticket_id))).first()
        if row is None:
            return None
        replies = await connection.execute(
            select(r, a.c.name.label("agent_name")).select_from(r.join(a, a.c.id == r.c.agent_id))
            .where(r.c.ticket_id == ticket_id).order_by(r.c.id))
        return _ticket(row), [
            Reply(int(x.id), int(x.ticket_id), x.agent_name, x.text, aware(x.created_at),
                  aware(x.sent_at), x.error) for x in replies]


async def add_reply(engine: AsyncEngine, found: Ticket, agent_id: int, text: str) -> int:
    """Store a reply before it is mailed; its id."""
    async with engine.begin() as connection:
        done = await connection.execute(replies_t.insert().values(
            ticket_id=found.id, conversation_id=found.conversation_id, agent_id=agent_id, text=text,
            created_at=utcnow()))
        return int(done.inserted_primary_key[0])  # type: ignore[index]


async def reply_sent(engine: AsyncEngine, ticket_id: int, reply_id: int, agent_id: int,
                     at: Optional[dt.datetime] = None) -> None:
    """The mail server took the reply: the ticket is answered (the first sent reply dates it)."""
    at = at or utcnow()
    t = tickets_t
    async with engine.begin() as connection:
        await connection.execute(update(replies_t).where(replies_t.c.id == reply_id).values(sent_at=at, error=None))
        await connection.execute(update(t).where(t.c.id == ticket_id, t.c.answered_at.is_(None)).values(
            answered_at=at, answered_by=agent_id))
        await connection.execute(update(t).where(t.c.id == ticket_id, t.c.status == OPEN).values(status=ANSWERED))


async def reply_failed(engine: AsyncEngine, reply_id: int, error: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(update(replies_t).where(replies_t.c.id == reply_id).values(error=error[:1000]))


async def close(engine: AsyncEngine, ticket_id: int, at: Optional[dt.datetime] = None) -> bool:
    """Close an open or answered ticket; False when it was closed already."""
    t = tickets_t
    async with engine.begin() as connection:
        done = await connection.execute(update(t).where(t.c.id == ticket_id, t.c.status != CLOSED).values(
            status=CLOSED, closed_at=at or utcnow()))
        return bool(done.rowcount)


async def ratings(engine: AsyncEngine, agent_id: int, *, limit: int = 50) -> Tuple[List[Rating], Dict[str, Any]]:
    """The rated chats this agent closed, newest first, and the summary of all of them."""
    h = handoffs_t
    mine = and_(h.c.agent_id == agent_id, h.c.outcome == "closed", h.c.rating.isnot(None))
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(h.c.conversation_id, h.c.queue, h.c.reason, h.c.rating, h.c.rating_comment, h.c.closed_at)
            .where(mine).order_by(h.c.closed_at.desc(), h.c.id.desc()).limit(limit))
        found = [Rating(r.conversation_id, r.queue, r.reason, int(r.rating), r.rating_comment or None,
                        aware(r.closed_at)) for r in rows]
        scores = {int(score): int(n) for score, n in await connection.execute(
            select(h.c.rating, func.count()).where(mine).group_by(h.c.rating))}
    total = sum(scores.values())
    mean = sum(score * n for score, n in scores.items()) / total if total else None
    return found, {"rated": total, "mean": mean, "distribution": {str(s): scores.get(s, 0) for s in range(1, 6)}}
