"""What a support report holds (:mod:`handoff.ops.reports` computes it,
:mod:`handoff.ops.report_render` writes it out): the period, the figures
per queue and agent, SLA breaches, CSAT comments, tickets.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .settings import Ops
from .sqlstats import NO_STATS, Stats


@dataclass(frozen=True)
class Period:
    first_day: dt.date
    last_day: dt.date
    start: dt.datetime  # UTC, included
    end: dt.datetime  # UTC, excluded


def period(ops: Ops, first_day: dt.date, last_day: dt.date) -> Period:
    """From midnight of ``first_day`` to the midnight after ``last_day``, team time."""
    if last_day < first_day:
        raise ValueError(f"the period ends ({last_day}) before it starts ({first_day})")
    zone = ops.team.zone

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.timezone.utc)

    return Period(first_day, last_day, midnight(first_day), midnight(last_day + dt.timedelta(days=1)))


@dataclass
class Csat:
    n: int = 0
    mean: Optional[float] = None
    distribution: Dict[int, int] = field(default_factory=dict)  # score -> ratings


@dataclass
class Figures:
    """One queue's, one agent's, or everyone's (key ``ALL``) figures."""

    requests: int = 0
    claimed: int = 0
    first_response: Stats = NO_STATS
    wait: Stats = NO_STATS
    handle: Stats = NO_STATS
    transfers: int = 0
    handbacks: int = 0
    csat: Csat = field(default_factory=Csat)
    sla_met: int = 0
    sla_breached: int = 0

    @property
    def sla_share(self) -> Optional[float]:
        counted = self.sla_met + self.sla_breached
        return self.sla_met / counted if counted else None


@dataclass(frozen=True)
class Breach:
    conversation_id: str
    queue: str
    asked_at: dt.datetime
    deadline: Optional[dt.datetime]
    answered_at: Optional[dt.datetime]  # None: never answered


@dataclass(frozen=True)
class Comment:
    conversation_id: str
    queue: str
    agent: str
    score: int
    text: str  # personal data masked


@dataclass
class Report:
    period: Period
    generated_at: dt.datetime
    conversations: int
    by_line: Dict[str, int]
    resolved_alone: int
    handed_off: int
    handoffs: Dict[Tuple[str, str], int]  # (queue, reason) -> requests
    queues: Dict[str, Figures]  # queue (ALL: every queue) -> figures
    agents: Dict[str, Figures]  # agent name (username) -> figures
    targets: Dict[str, int]
    breaches: List[Breach]
    comments: List[Comment]
    tickets: Dict[str, int]  # queue (NO_QUEUE: from the assistant; ALL: every one) -> tickets
    #: queue -> tickets answered / their time to answer; None: the schema has no tickets.answered_at
    tickets_answered: Optional[Dict[str, int]] = None
    ticket_answer: Dict[str, Stats] = field(default_factory=dict)

    @property
    def resolved_alone_share(self) -> Optional[float]:
        return self.resolved_alone / self.conversations if self.conversations else None

    @property
    def handoff_rate(self) -> Optional[float]:
        return self.handed_off / self.conversations if self.conversations else None
