"""The first-response deadline of a live chat, as frames carry it (``sla_due``).

One source: the deadline is :func:`handoff.ops.sla.deadline` on ``ops.yml``
(the queue's target, counted in its open hours), from the moment the chat
entered its queue (``QueueEntry.enqueued_at``). A chat requeued after its
agent vanished or went quiet keeps that moment (the same request, the same
clock); a transfer starts a new clock in the target queue.

* A waiting chat's entry (``handoff``, ``queues`` frames) always carries its
  deadline; the console counts down to it and marks it breached after.
* A claimed chat (``welcome.chats``, ``claimed``) carries it until a person
  answered (an agent message at or after ``enqueued_at``), then null.

The escalation watcher (:mod:`handoff.escalation`) uses the same functions.
"""
from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Optional

from .ops import sla
from .ops.settings import Ops, load_ops

if TYPE_CHECKING:
    from .live_state import QueueEntry
    from .storage import MessageRecord


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def deadline(queue: str, enqueued_at: float, ops: Optional[Ops] = None) -> Optional[dt.datetime]:
    """When a chat that entered ``queue`` at ``enqueued_at`` (a ``time.time()``)
    must have had a person's answer; None when nobody is on duty within a year."""
    asked = dt.datetime.fromtimestamp(enqueued_at, dt.timezone.utc)
    return sla.deadline(ops or load_ops(), queue, asked)


def due_iso(queue: str, enqueued_at: float, ops: Optional[Ops] = None) -> Optional[str]:
    """:func:`deadline` as the frames write it (``2026-12-01T13:02:58.123Z``)."""
    if ops is None:  # the gateway's settings: remembered per chat (every queues frame lists them all)
        return _due_iso(os.environ.get("KARA_OPS_FILE"), queue, enqueued_at)
    due = deadline(queue, enqueued_at, ops)
    return None if due is None else _iso(due)


@lru_cache(maxsize=4096)
def _due_iso(ops_file: Optional[str], queue: str, enqueued_at: float) -> Optional[str]:
    due = deadline(queue, enqueued_at, load_ops(ops_file))
    return None if due is None else _iso(due)


def answered(entry: "QueueEntry", messages: Iterable["MessageRecord"]) -> bool:
    """Whether a person wrote in the chat since it entered its queue."""
    since = dt.datetime.fromtimestamp(entry.enqueued_at, dt.timezone.utc)
    return any(m.sender == "agent" and m.created_at >= since for m in messages)


def chat_due(entry: "Optional[QueueEntry]", messages: Iterable["MessageRecord"]) -> Optional[str]:
    """``sla_due`` of a claimed chat: its deadline until a person answered, then None."""
    if entry is None or answered(entry, messages):
        return None
    return due_iso(entry.queue, entry.enqueued_at)
