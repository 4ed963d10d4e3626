"""First-response SLAs: each queue's deadline for a waiting chat, and breaches.

A chat's clock starts when the shopper is put in a queue (the handoff) and
stops at the first message of a person. It runs only while the queue is
staffed (``ops.yml``: team hours, or "always" for the emergency queue), so a
chat that arrives at night is due ``first_response_s`` after the team opens.
The same function serves a countdown on a waiting chat and the report's
verdict on a past one.

Verdicts:

* ``met``: a person answered by the deadline;
* ``breached``: answered after it, or not answered and the deadline passed
  while the chat was still waiting or with an agent;
* ``pending``: not answered, still within the deadline;
* ``left``: the chat ended (ticket left, closed or handed back without a
  word) before it was due: not counted either way.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from .hours import add_open_time
from .settings import Ops

MET = "met"
BREACHED = "breached"
PENDING = "pending"
LEFT = "left"


@dataclass(frozen=True)
class Verdict:
    queue: str
    target_s: int
    deadline: Optional[dt.datetime]  # None: not within a year (nobody on duty)
    status: str
    #: seconds to the deadline from ``now`` (negative: overdue); None once answered or ended
    remaining_s: Optional[float]

    @property
    def counted(self) -> bool:
        """Whether the chat counts in the share answered within target."""
        return self.status in (MET, BREACHED)


def deadline(ops: Ops, queue: str, enqueued_at: dt.datetime) -> Optional[dt.datetime]:
    """When a chat put in ``queue`` at ``enqueued_at`` must have had a person's answer."""
    settings = ops.queue(queue)
    return add_open_time(settings.schedule, enqueued_at, settings.first_response_s)


def judge(
    ops: Ops,
    queue: str,
    enqueued_at: dt.datetime,
    *,
    now: dt.datetime,
    answered_at: Optional[dt.datetime] = None,
    ended_at: Optional[dt.datetime] = None,
) -> Verdict:
    """The SLA verdict of one chat (see module docs); ``ended_at``: when it
    left the people's side unanswered (None while still waiting or claimed)."""
    settings = ops.queue(queue)
    due = deadline(ops, queue, enqueued_at)

    def verdict(status: str, remaining: Optional[float] = None) -> Verdict:
        return Verdict(settings.name, settings.first_response_s, due, status, remaining)

    if answered_at is not None:
        return verdict(MET if due is None or answered_at <= due else BREACHED)
    if ended_at is not None:
        return verdict(BREACHED if due is not None and ended_at > due else LEFT)
    if due is None:
        return verdict(PENDING)
    remaining = (due - now).total_seconds()
    return verdict(PENDING if remaining >= 0 else BREACHED, remaining)
