"""A month of support history, inserted through the real schema.

November 2026 (the 1st is a Sunday); team hours in the test settings are
Monday-Friday 10:00-19:00 Lagos (09:00-18:00 UTC), emergency 24/7; targets:
emergency 60 s, security 180 s, general 300 s, disputes 600 s. Each
conversation's facts are in its comment; ``tests/ops/test_reports.py``
computes the right figures from them by hand.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Dict, Optional

from sqlalchemy.engine import Connection

from handoff import models
from handoff.ops.missed import fallback_texts

TEST_OPS: Dict[str, Any] = {
    "timezone": "Africa/Lagos",
    "team_hours": {day: ["10:00", "19:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")},
    "closed_dates": [],
    "queues": {
        "emergency": {"first_response_s": 60, "hours": "always"},
        "security": {"first_response_s": 180},
        "general": {"first_response_s": 300},
        "disputes": {"first_response_s": 600},
    },
    "retention": {"transcript_days": 30},
}
#: TEST_OPS with every queue staffed around the clock: for gateways whose tests queue
#: chats, which the out-of-hours answer (on by default) would otherwise not queue at night
STAFFED_OPS: Dict[str, Any] = {
    **TEST_OPS, "queues": {name: {**queue, "hours": "always"} for name, queue in TEST_OPS["queues"].items()},
}
#: "now" for the seeded history: the report's judge of chats still waiting
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
ADA, BOLA = 1, 2
FALLBACK = fallback_texts()[0]  # the assistant's help text on a misunderstanding, from domain.yml


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=dt.timezone.utc)


def plus(base: dt.datetime, seconds: float) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


class History:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def agent(self, agent_id: int, username: str, name: str) -> None:
        self.c.execute(models.Agent.__table__.insert(), dict(
            id=agent_id, username=username, name=name, password_hash="x", active=True, created_at=at(1, 0)))

    def conversation(self, cid: str, created: dt.datetime, line: str = "chat") -> str:
        self.c.execute(models.Conversation.__table__.insert(), dict(id=cid, role="shopper", line=line,
                                                                    created_at=created))
        return cid

    def message(self, cid: str, sender: str, text: str, when: dt.datetime, agent_id: Optional[int] = None,
                extra: Optional[Dict[str, Any]] = None) -> None:
        self.c.execute(models.Message.__table__.insert(), dict(
            id=uuid.uuid4().hex, conversation_id=cid, sender=sender, text=text, extra=extra, agent_id=agent_id,
            agent_name={ADA: "Ada", BOLA: "Bola"}.get(agent_id or 0), client_id=None, created_at=when))

    def stint(self, cid: str, queue: str, reason: str, enqueued: dt.datetime, *, claimed: Optional[float] = None,
              closed: Optional[float] = None, agent: Optional[int] = None, outcome: Optional[str] = None,
              rating: Optional[int] = None, comment: Optional[str] = None,
              summary: str = "", context: Optional[Dict[str, Any]] = None) -> int:
        """``claimed`` / ``closed``: seconds after ``enqueued``."""
        result = self.c.execute(models.Handoff.__table__.insert(), dict(
            conversation_id=cid, queue=queue, reason=reason, summary=summary, context=context or {},
            enqueued_at=enqueued, claimed_at=plus(enqueued, claimed) if claimed is not None else None,
            closed_at=plus(enqueued, closed) if closed is not None else None, agent_id=agent,
            outcome=outcome, rating=rating, rating_comment=comment))
        return int(result.inserted_primary_key[0])

    def ticket(self, cid: str, handoff_id: Optional[int], when: dt.datetime, *,
               answered: Optional[dt.datetime] = None, by: Optional[int] = None) -> None:
        """``answered``: when ``by``'s reply was sent (the desk's inbox, migration 0003)."""
        done = self.c.execute(models.Ticket.__table__.insert(), dict(
            conversation_id=cid, handoff_id=handoff_id, email="shopper@example.com",
            text="Please call me back on 0803 123 4567", created_at=when,
            status="open" if answered is None else "answered", answered_at=answered, answered_by=by))
        if answered is not None:
            self.c.execute(models.TicketReply.__table__.insert(), dict(
                ticket_id=done.inserted_primary_key[0], conversation_id=cid, agent_id=by,
                text="We called 0803 123 4567 and sent a new pack to 12 Allen Avenue.", created_at=answered,
                sent_at=answered))

    def bot_chat(self, cid: str, when: dt.datetime, line: str = "chat") -> str:
        self.conversation(cid, when, line)
        self.message(cid, "shopper", "where is my order", plus(when, 5))
        self.message(cid, "bot", "Your order KH-204518 is on its way.", plus(when, 6))
        return cid


def seed(connection: Connection) -> None:
    """The history described in the module docs (facts in the comments)."""
    s = History(connection)
    s.agent(ADA, "ada", "Ada")
    s.agent(BOLA, "bola", "Bola")

    # c01, c02, c14: the assistant alone. c14 starts Oct 31 23:30 UTC = Nov 1 00:30 Lagos: in November.
    s.bot_chat("c01", at(2, 10))
    s.bot_chat("c02", at(3, 11))
    s.bot_chat("c14", at(31, 23, 30, month=10))
    # c03: opened, never written to: not a conversation. c12 (Oct 31 21:00 Lagos) and
    # c13 (Nov 30 23:30 UTC = Dec 1 00:30 Lagos): outside November.
    s.conversation("c03", at(3, 12))
    s.bot_chat("c12", at(31, 20, month=10))
    s.bot_chat("c13", at(30, 23, 30))

    # c04 general (Mon Nov 2 09:00 UTC, open): Ada claims at +30, writes at +40, closes at +630
    # (handle 600); rated 5 with an email in the comment. A transfer race left an abandoned stint.
    t0 = at(2, 9)
    s.conversation("c04", plus(t0, -60))
    s.message("c04", "shopper", "I want to talk to a person", plus(t0, -1))
    s.message("c04", "bot", "I'm bringing in a person from our support team.", t0)
    h = s.stint("c04", "general", "requested_human", t0, claimed=30, closed=630, agent=ADA, outcome="closed",
                rating=5, comment="Great, thanks! email me at ada.customer@example.com")
    s.stint("c04", "security", "requested_human", plus(t0, 300), closed=300, outcome="abandoned")
    s.message("c04", "system", "Ada joined the chat.", plus(t0, 30))
    s.message("c04", "agent", "Hello, I am Ada. How can I help?", plus(t0, 40), agent_id=ADA)
    del h

    # c05 general (Tue Nov 3 12:00 UTC): Bola claims at +90, first writes at +400 (> 300: breach),
    # hands back at +1200 (handle 1110).
    t0 = at(3, 12)
    s.conversation("c05", plus(t0, -30))
    s.message("c05", "shopper", "human please", plus(t0, -2))
    s.stint("c05", "general", "requested_human", t0, claimed=90, closed=1200, agent=BOLA, outcome="handed_back")
    s.message("c05", "system", "Bola joined the chat.", plus(t0, 90))
    s.message("c05", "agent", "Sorry for the wait!", plus(t0, 400), agent_id=BOLA)

    # c06 disputes (Wed Nov 4 14:00 UTC): Ada claims at +60, transfers to security at +120 without
    # writing (handle 60); the security stint (+120) is claimed by Bola at +180 (wait 60), who writes
    # at +190 (first response 190 <= 600, the request's disputes target) and closes at +790 (handle
    # 610); rated 2 with a phone number in the comment.
    t0 = at(4, 14)
    s.conversation("c06", plus(t0, -20))
    s.message("c06", "shopper", "the vendor sent the wrong drugs", plus(t0, -2))
    s.stint("c06", "disputes", "dispute", t0, claimed=60, closed=120, agent=ADA, outcome="transferred")
    s.stint("c06", "security", "dispute", plus(t0, 120), claimed=60, closed=670, agent=BOLA, outcome="closed",
            rating=2, comment="too slow, call 0803 123 4567", context={"transferred_from": "disputes"})
    s.message("c06", "agent", "Bola here, looking at it now.", plus(t0, 190), agent_id=BOLA)

    # c07 emergency line (Sat Nov 7 02:00 UTC: the team is off, emergency is 24/7): Ada claims at
    # +20, writes at +30 (<= 60), closes at +920 (handle 900); rated 4.
    t0 = at(7, 2)
    s.conversation("c07", plus(t0, -5), line="emergency")
    s.message("c07", "bot", "Connecting you to our on-call healthcare support team.", t0)
    s.stint("c07", "emergency", "provider_emergency", t0, claimed=20, closed=920, agent=ADA, outcome="closed",
            rating=4)
    s.message("c07", "agent", "On-call here.", plus(t0, 30), agent_id=ADA)

    # c08 general (Fri Nov 6 20:00 UTC, after hours; due Mon Nov 9 09:05 UTC): leaves a ticket at
    # +300 (before it was due: not counted for the SLA), which Ada answers Mon Nov 9 11:00 UTC.
    t0 = at(6, 20)
    s.conversation("c08", plus(t0, -10))
    s.message("c08", "shopper", "agent", plus(t0, -1))
    h = s.stint("c08", "general", "requested_human", t0, closed=300, outcome="ticket")
    s.ticket("c08", h, plus(t0, 300), answered=at(9, 11), by=ADA)

    # c09 general (Sat Nov 7 10:00 UTC; due Mon Nov 9 09:05 UTC): Bola claims Mon 09:02, writes
    # 09:03 (met in open time), closes 09:10 (handle 480); rated 3.
    t0 = at(7, 10)
    s.conversation("c09", plus(t0, -10))
    s.message("c09", "shopper", "talk to human", plus(t0, -1))
    s.stint("c09", "general", "requested_human", t0, claimed=(at(9, 9, 2) - t0).total_seconds(),
            closed=(at(9, 9, 10) - t0).total_seconds(), agent=BOLA, outcome="closed", rating=3)
    s.message("c09", "agent", "Good morning!", at(9, 9, 3), agent_id=BOLA)

    # c10 security (Thu Nov 5 10:00 UTC): Ada claims at +100 and vanishes (requeued at +300, no
    # handle time); the requeued stint (+300) is claimed by Bola at +360 (wait 60), who writes at
    # +390 (> 180: breach) and closes at +990 (handle 630).
    t0 = at(5, 10)
    s.conversation("c10", plus(t0, -10))
    s.message("c10", "shopper", "my account was hacked", plus(t0, -1))
    s.stint("c10", "security", "security_issue", t0, claimed=100, closed=300, agent=ADA, outcome="requeued")
    s.stint("c10", "security", "security_issue", plus(t0, 300), claimed=60, closed=690, agent=BOLA,
            outcome="closed")
    s.message("c10", "agent", "Security team here.", plus(t0, 390), agent_id=BOLA)

    # c11: a ticket left from the assistant (no handoff), Nov 10, never answered.
    t0 = at(10, 15)
    s.conversation("c11", t0)
    s.message("c11", "shopper", "hello?", plus(t0, 1))
    s.ticket("c11", None, plus(t0, 60))

    # c15 general, still waiting: Mon Nov 30 08:00 UTC (09:00 Lagos, before opening; due 09:05 UTC).
    t0 = at(30, 8)
    s.conversation("c15", plus(t0, -10))
    s.message("c15", "shopper", "person", plus(t0, -1))
    s.stint("c15", "general", "requested_human", t0)

    # c16: two misunderstandings (Thu Nov 12 15:00 UTC): the fallback help text, then the
    # not_understood handoff to general; a ticket at +60 (before due: not counted), answered by
    # Bola an hour later.
    t0 = at(12, 15)
    s.conversation("c16", plus(t0, -120))
    s.message("c16", "shopper", "Wetin be the price of KH-204518 abeg?", plus(t0, -100))
    s.message("c16", "bot", FALLBACK, plus(t0, -99))
    s.message("c16", "shopper", "abeg how I fit pay with card 4111 1111 1111 1111", plus(t0, -2))
    s.message("c16", "bot", "Sorry, I still didn't understand that. I'm bringing in a person.", t0)
    h = s.stint("c16", "general", "not_understood", t0, closed=60, outcome="ticket",
                summary='shopper | not understood | "abeg how I fit pay with card 4111 1111 1111 1111"',
                context={"role": "shopper", "order_number": None})
    s.ticket("c16", h, plus(t0, 60), answered=plus(t0, 60 + 3600), by=BOLA)
