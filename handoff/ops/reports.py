"""Support figures over a date range, computed in SQL on the transcript database.

``python -m handoff report --from 2026-11-01 --to 2026-11-30 [--csv FILE]``.
The days are calendar days in the team's timezone (``ops.yml``), both ends
included. What each figure counts:

* **conversations**: started in the period with at least one stored message
  (a widget opened and left silent is not a conversation); **resolved by the
  assistant alone**: of those, the ones with no handoff and no ticket.
* **handoffs** (requests for a person): a stint in a queue that follows no
  ``transferred`` or ``requeued`` stint of its conversation. A transfer opens
  a new stint in the target queue, and so does a requeue after an agent's
  disconnect: both continue the same request (stints ``abandoned`` by a lost
  race are ignored). Counted by queue and reason, in the period.
* **time to first human response**: from the request to the first agent
  message of the conversation before its next request (the schema stores no
  "first response" column: messages are the source). **Wait in queue**: per
  stint, queue to claim (transfers and requeues wait again in their queue;
  stints never claimed are not waits). **Handle time**: claim to the end of a
  stint closed, handed back or transferred (a requeued stint ended because
  its agent vanished). **Transfers** and **hand-backs**: stints ending so,
  by the stint's queue and agent.
* **CSAT**: the 1-5 ratings of closed stints (average, distribution,
  comments with personal data masked), by queue and agent.
* **SLA**: each request against its queue's first-response target in open
  hours (:mod:`handoff.ops.sla`; the deadline needs the team calendar, so the
  verdict is computed in Python from the per-request times read in SQL).
* **tickets**: left in the period, by the queue of the stint they ended
  (``none``: left from the assistant); of those, the ones **answered** and
  the **time to answer** (left to ``tickets.answered_at``: when the first
  reply of the agent desk's inbox was sent, migration 0003,
  :mod:`handoff.desk.inbox`). On a database not migrated that far the
  answers are reported as not stored.

Every time figure is in seconds; percentiles as :mod:`handoff.ops.sqlstats`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import and_, case, exists, func, inspect, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from handoff import models
from handoff.contract import QUEUES
from handoff.logs import redact
from handoff.records import aware

from . import sla
# the parts of a report, read as reports.X by callers (report_figures.py holds them)
from .report_figures import Breach as Breach
from .report_figures import Comment as Comment
from .report_figures import Csat as Csat
from .report_figures import Figures as Figures
from .report_figures import Period as Period
from .report_figures import Report as Report
from .report_figures import period as period
from .settings import Ops
from .sqlstats import Stats, seconds_between, stats

CONTINUED = ("transferred", "requeued")  # the next stint carries on the same request
HANDLED = ("closed", "handed_back", "transferred")
NO_QUEUE = "none"
ANSWERED_AT = "answered_at"  # the tickets column of migration 0003 (module docs)
ALL = ""  # the key of a figure over every queue / agent

conversations_t = models.table_of(models.Conversation)
messages_t = models.table_of(models.Message)
handoffs_t = models.table_of(models.Handoff)
tickets_t = models.table_of(models.Ticket)
agents_t = models.table_of(models.Agent)


def _within(column: Any, p: Period) -> Any:
    return and_(column >= p.start, column < p.end)


def _stints() -> Any:
    """Every stint but abandoned ones, with ``request``: 1 when it starts a
    request, and ``chain``: the request's number within its conversation."""
    h = handoffs_t
    previous = func.lag(h.c.outcome).over(partition_by=h.c.conversation_id, order_by=h.c.id)
    flagged = (
        select(h, case((previous.in_(CONTINUED), 0), else_=1).label("request"))
        .where(or_(h.c.outcome.is_(None), h.c.outcome != "abandoned"))
        .subquery("flagged")
    )
    chain = func.sum(flagged.c.request).over(
        partition_by=flagged.c.conversation_id, order_by=flagged.c.id, rows=(None, 0)
    )
    return select(flagged, chain.label("chain")).cte("stints")


def _requests(stints: Any) -> Any:
    """One row per request: where it was asked, when, its end (None while a
    stint is open), and the next request of its conversation."""
    s = stints.c
    first = s.request == 1
    grouped = (
        select(
            s.conversation_id,
            s.chain,
            func.min(s.enqueued_at).label("asked_at"),
            func.max(case((first, s.queue))).label("queue"),
            func.max(case((first, s.reason))).label("reason"),
            func.max(s.closed_at).label("last_closed"),
            func.sum(case((s.outcome.is_(None), 1), else_=0)).label("open_stints"),
        )
        .group_by(s.conversation_id, s.chain)
        .subquery("grouped")
    )
    g = grouped.c
    following = func.lead(g.asked_at, type_=handoffs_t.c.enqueued_at.type).over(
        partition_by=g.conversation_id, order_by=g.chain
    )
    with_next = select(grouped, following.label("next_asked")).subquery("with_next")
    n = with_next.c
    m = messages_t
    answered = (
        select(func.min(m.c.created_at))
        .where(
            m.c.conversation_id == n.conversation_id,
            m.c.sender == "agent",
            m.c.created_at >= n.asked_at,
            or_(n.next_asked.is_(None), m.c.created_at < n.next_asked),
        )
        .scalar_subquery()
    )
    ended = case((n.open_stints == 0, n.last_closed))
    return select(
        n.conversation_id, n.asked_at, n.queue, n.reason, answered.label("answered_at"), ended.label("ended_at")
    ).cte("requests")


def _by(connection: Connection, query: Select[Any], keys: Sequence[str], fill: Any) -> None:
    """Per (queue, agent) group of ``stats``, ``fill(group, stats)``."""
    for key, found in stats(connection, query, keys).items():
        fill(key, found)


@dataclass
class _Tally:
    """The figures being filled, by queue and by agent, and the agents' names."""

    names: Dict[int, str]
    queues: Dict[str, Figures] = field(default_factory=lambda: {q: Figures() for q in (ALL, *QUEUES)})
    agents: Dict[str, Figures] = field(default_factory=lambda: {ALL: Figures()})

    def agent(self, agent_id: Optional[int]) -> str:
        return self.names.get(agent_id, f"agent #{agent_id}") if agent_id is not None else "-"

    def figures(self, queue: Any = ALL, agent_id: Any = None, *, per_agent: bool = False) -> Figures:
        if per_agent:
            return self.agents.setdefault(self.agent(agent_id) if agent_id is not None else ALL, Figures())
        return self.queues.setdefault(queue, Figures())

    def four(self, queue: Any, agent_id: Any) -> Tuple[Figures, ...]:
        """The stint's queue, every queue, its agent, every agent."""
        return (self.figures(queue), self.figures(), self.figures(agent_id=agent_id, per_agent=True),
                self.figures(per_agent=True))


def _agent_names(connection: Connection) -> Dict[int, str]:
    # only the columns the report needs: it also runs on databases migrated before later columns
    who = select(agents_t.c.id, agents_t.c.name, agents_t.c.username)
    return {row.id: f"{row.name} ({row.username})" for row in connection.execute(who)}


def _conversations(connection: Connection, p: Period) -> Tuple[Dict[str, int], int, int]:
    """Conversations by line, resolved by the assistant alone, handed off."""
    c, m, h, t = conversations_t, messages_t, handoffs_t, tickets_t
    has_message = exists().where(m.c.conversation_id == c.c.id)
    has_handoff = exists().where(h.c.conversation_id == c.c.id)
    has_ticket = exists().where(t.c.conversation_id == c.c.id)
    alone = case((and_(~has_handoff, ~has_ticket), 1), else_=0)
    handed = case((has_handoff, 1), else_=0)
    by_line: Dict[str, int] = {}
    resolved = handed_off = 0
    rows = connection.execute(
        select(c.c.line, func.count(), func.sum(alone), func.sum(handed))
        .where(_within(c.c.created_at, p), has_message)
        .group_by(c.c.line)
    )
    for line, n_line, alone_n, handed_n in rows:
        by_line[line] = int(n_line)
        resolved += int(alone_n or 0)
        handed_off += int(handed_n or 0)
    return by_line, resolved, handed_off


def _handoffs(connection: Connection, tally: _Tally, r: Any, asked: Any) -> Dict[Tuple[str, str], int]:
    """Requests by (queue, reason), also counted into the queues' figures."""
    handoffs: Dict[Tuple[str, str], int] = {}
    for queue, reason, count in connection.execute(
        select(r.queue, r.reason, func.count()).where(asked).group_by(r.queue, r.reason)
    ):
        handoffs[(queue, reason)] = int(count)
    for (queue, _reason), count in handoffs.items():
        tally.figures(queue).requests += count
        tally.figures().requests += count
    return handoffs


def _first_responses(connection: Connection, tally: _Tally, r: Any, asked: Any) -> None:
    first_response = select(r.queue, seconds_between(r.asked_at, r.answered_at).label("x")).where(asked)
    for keys in ((), ("queue",)):
        _by(connection, first_response, keys, lambda k, v: setattr(tally.figures(*k), "first_response", v))


def _sla(connection: Connection, ops: Ops, tally: _Tally, r: Any, asked: Any, now: dt.datetime) -> List[Breach]:
    """Each request judged against its queue's target; the breaches, oldest first."""
    breaches: List[Breach] = []
    for row in connection.execute(
        select(r.conversation_id, r.queue, r.asked_at, r.answered_at, r.ended_at).where(asked).order_by(r.asked_at)
    ):
        asked_at, answered_at = aware(row.asked_at), aware(row.answered_at)
        verdict = sla.judge(ops, row.queue, asked_at, now=now, answered_at=answered_at,
                            ended_at=aware(row.ended_at))
        if not verdict.counted:
            continue
        for fig in (tally.figures(row.queue), tally.figures()):
            if verdict.status == sla.MET:
                fig.sla_met += 1
            else:
                fig.sla_breached += 1
        if verdict.status == sla.BREACHED:
            breaches.append(Breach(row.conversation_id, row.queue, asked_at, verdict.deadline, answered_at))
    return breaches


def _waits_and_handles(connection: Connection, tally: _Tally, s: Any, claimed: Any) -> None:
    wait = select(s.queue, s.agent_id, seconds_between(s.enqueued_at, s.claimed_at).label("x")).where(claimed)
    handle = select(s.queue, s.agent_id, seconds_between(s.claimed_at, s.closed_at).label("x")).where(
        claimed, s.outcome.in_(HANDLED)
    )
    figures = tally.figures
    for keys in ((), ("queue",)):
        _by(connection, wait, keys, lambda k, v: setattr(figures(*k), "wait", v))
    for keys in ((), ("queue",)):
        _by(connection, handle, keys, lambda k, v: setattr(figures(*k), "handle", v))
    _by(connection, handle, ("agent_id",), lambda k, v: setattr(figures(agent_id=k[0], per_agent=True), "handle", v))
    _by(connection, handle, (), lambda k, v: setattr(figures(per_agent=True), "handle", v))


def _endings(connection: Connection, tally: _Tally, s: Any, claimed: Any) -> None:
    """Claimed stints, transfers and hand-backs."""

    def ending(outcome: Optional[str]) -> Any:
        """How many stints ended so (None: all of them)."""
        return func.sum(case((s.outcome == outcome, 1), else_=0)) if outcome else func.count()

    counts = select(s.queue, s.agent_id, ending(None), ending("transferred"), ending("handed_back")).where(
        claimed
    ).group_by(s.queue, s.agent_id)
    for queue, agent_id, n, transfers, handbacks in connection.execute(counts):
        for fig in tally.four(queue, agent_id):
            fig.claimed += int(n)
            fig.transfers += int(transfers or 0)
            fig.handbacks += int(handbacks or 0)


def _ratings(connection: Connection, tally: _Tally, s: Any, in_period: Any) -> List[Comment]:
    """CSAT distributions and averages; the comments, masked, oldest first."""
    rated = and_(in_period, s.rating.isnot(None))
    for queue, agent_id, score, n in connection.execute(
        select(s.queue, s.agent_id, s.rating, func.count()).where(rated).group_by(s.queue, s.agent_id, s.rating)
    ):
        for fig in tally.four(queue, agent_id):
            fig.csat.distribution[int(score)] = fig.csat.distribution.get(int(score), 0) + int(n)
    csat = select(s.queue, s.agent_id, s.rating.label("x")).where(rated)
    figures = tally.figures
    for keys in ((), ("queue",)):
        _by(connection, csat, keys, lambda k, v: _set_csat(figures(*k), v))
    _by(connection, csat, ("agent_id",), lambda k, v: _set_csat(figures(agent_id=k[0], per_agent=True), v))
    _by(connection, csat, (), lambda k, v: _set_csat(figures(per_agent=True), v))
    return [
        Comment(row.conversation_id, row.queue, tally.agent(row.agent_id), int(row.rating), redact(row.rating_comment))
        for row in connection.execute(
            select(s.conversation_id, s.queue, s.agent_id, s.rating, s.rating_comment)
            .where(rated, s.rating_comment.isnot(None), s.rating_comment != "")
            .order_by(s.enqueued_at)
        )
    ]


def _tickets(connection: Connection, p: Period) -> Tuple[Dict[str, int], Optional[Dict[str, int]], Dict[str, Stats]]:
    """Tickets by queue; answered ones and their time to answer (None: not stored)."""
    h, t = handoffs_t, tickets_t
    ticket_queue = func.coalesce(h.c.queue, literal(NO_QUEUE)).label("queue")
    left = t.outerjoin(h, h.c.id == t.c.handoff_id)
    tickets: Dict[str, int] = {ALL: 0}
    for queue, n in connection.execute(
        select(ticket_queue, func.count()).select_from(left).where(_within(t.c.created_at, p)).group_by(ticket_queue)
    ):
        tickets[queue] = int(n)
        tickets[ALL] += int(n)
    tickets_answered: Optional[Dict[str, int]] = None
    ticket_answer: Dict[str, Stats] = {}
    if ANSWERED_AT in {info["name"] for info in inspect(connection).get_columns(t.name)}:
        answered_col = t.c.answered_at
        done = and_(_within(t.c.created_at, p), answered_col.isnot(None))
        tickets_answered = {ALL: 0}
        for queue, n in connection.execute(
            select(ticket_queue, func.count()).select_from(left).where(done).group_by(ticket_queue)
        ):
            tickets_answered[queue] = int(n)
            tickets_answered[ALL] += int(n)
        answer = select(ticket_queue, seconds_between(t.c.created_at, answered_col).label("x")).select_from(
            left).where(done)
        for keys in ((), ("queue",)):
            for key, found in stats(connection, answer, keys).items():
                ticket_answer[key[0] if key else ALL] = found
    return tickets, tickets_answered, ticket_answer


def build(connection: Connection, ops: Ops, p: Period, now: Optional[dt.datetime] = None) -> Report:
    """The :class:`Report` of ``p`` (see module docs); ``now`` judges chats still waiting."""
    now = now or dt.datetime.now(dt.timezone.utc)
    tally = _Tally(_agent_names(connection))
    by_line, resolved, handed_off = _conversations(connection, p)
    # requests: handoffs by reason, first response, SLA
    stints = _stints()
    r = _requests(stints).c
    asked = _within(r.asked_at, p)
    handoffs = _handoffs(connection, tally, r, asked)
    _first_responses(connection, tally, r, asked)
    breaches = _sla(connection, ops, tally, r, asked, now)
    # stints: waits, handle times, transfers, hand-backs, CSAT
    s = stints.c
    in_period = _within(s.enqueued_at, p)
    claimed = and_(in_period, s.claimed_at.isnot(None))
    _waits_and_handles(connection, tally, s, claimed)
    _endings(connection, tally, s, claimed)
    comments = _ratings(connection, tally, s, in_period)
    tickets, tickets_answered, ticket_answer = _tickets(connection, p)
    return Report(
        period=p,
        generated_at=now,
        conversations=sum(by_line.values()),
        by_line=by_line,
        resolved_alone=resolved,
        handed_off=handed_off,
        handoffs=handoffs,
        queues=tally.queues,
        agents=tally.agents,
        targets={q: ops.queue(q).first_response_s for q in QUEUES},
        breaches=breaches,
        comments=comments,
        tickets=tickets,
        tickets_answered=tickets_answered,
        ticket_answer=ticket_answer,
    )


def _set_csat(fig: Figures, found: Stats) -> None:
    fig.csat.n = found.n
    fig.csat.mean = found.mean
