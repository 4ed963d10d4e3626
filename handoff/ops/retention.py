"""Data retention: old transcripts anonymised, the report figures kept.

``python -m handoff retention [--days N] [--dry-run]`` (cron-friendly; the
period defaults to ``retention.transcript_days`` in ``ops.yml``).

A conversation whose last message (or, without any, its start) is older than
the period, and that is neither waiting for nor with an agent, loses every
field a person typed or that names one: message texts, buttons and images
(``extra``) and client ids; handoff summaries, context (order numbers,
emails) and rating comments; ticket emails and texts, and the texts of the
agent desk's replies to tickets; every file sent in them goes,
row and bytes (``attachments``, :mod:`handoff.attachments`), and its shopper
keys (verified contacts, browser id: :mod:`handoff.shopper_keys`) are
deleted. What stays is the
skeleton the reports count: conversation line and start, who sent a message
and when, each handoff stint's queue, reason, times, agent, outcome and
score. So ``python -m handoff report`` gives the same figures afterwards, for
any period, percentiles included (daily aggregates could not give a
month's p95). Rows are anonymised rather than deleted for that reason; the
conversation id is random and, without the texts, links to no one.

Before the rows change, the assistant's own copy of those conversations
(Rasa's tracker store) must go too: :func:`tracker_eraser` is the hook for
it (see its docs). Each run is one transaction per batch and idempotent: a
second run finds nothing left to remove.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import Text, cast, delete, exists, func, null, or_, select, true, update
from sqlalchemy.engine import Connection, Engine

from handoff import models
from handoff.attachments import rows as attachment_rows
from handoff.attachments.store import AttachmentStore, configured_store

BATCH = 500

conversations_t = models.table_of(models.Conversation)
messages_t = models.table_of(models.Message)
handoffs_t = models.table_of(models.Handoff)
tickets_t = models.table_of(models.Ticket)
replies_t = models.table_of(models.TicketReply)
attachments_t = attachment_rows.attachments_t
keys_t = models.table_of(models.ShopperKey)

#: Erases the assistant's tracker copies of these conversations; raises if it cannot.
TrackerEraser = Callable[[Sequence[str]], None]


def tracker_eraser(tracker_db_url: Optional[str] = None) -> Optional[TrackerEraser]:
    """Erase the assistant's copy: the conversations' rows in Rasa's SQL
    tracker store (``handoff/tracker_store.py``; URL given, else
    ``KARA_TRACKER_DB_URL``). None when no tracker store is configured: the
    command then says the assistant's copies were not erased."""
    from handoff.tracker_store import configured_url, delete_conversation

    url = tracker_db_url or configured_url()
    if url is None:
        return None

    def erase(conversation_ids: Sequence[str]) -> None:
        for conversation_id in conversation_ids:  # raises if the store is unreachable: nothing is anonymised
            delete_conversation(url, conversation_id)

    return erase


def _blanking() -> List[Tuple[str, Any, Optional[Dict[str, Any]], Any]]:
    """Per table: name, table, the blank values (None: the rows are deleted), and "something left to blank"."""
    m, h, t = messages_t, handoffs_t, tickets_t
    return [
        ("messages", m, {"text": "", "extra": null(), "client_id": None},
         or_(m.c.text != "", m.c.extra.isnot(None), m.c.client_id.isnot(None))),
        ("handoffs", h, {"summary": "", "context": {}, "rating_comment": None},
         or_(h.c.summary != "", h.c.rating_comment.isnot(None), cast(h.c.context, Text) != "{}")),
        ("tickets", t, {"email": "", "text": ""}, or_(t.c.email != "", t.c.text != "")),
        ("ticket_replies", replies_t, {"text": ""}, replies_t.c.text != ""),  # the desk's emailed answers
        ("shopper_keys", keys_t, None, true()),  # a contact or browser id is nothing but personal
    ]


def _files(connection: Connection, batch: List[str], store: AttachmentStore, dry_run: bool) -> int:
    """The batch's attachments removed (bytes and rows), or counted."""
    if not dry_run:
        return attachment_rows.remove(connection, batch, store)
    where = attachments_t.c.conversation_id.in_(batch)
    return int(connection.execute(select(func.count()).select_from(attachments_t).where(where)).scalar_one())


@dataclass
class Outcome:
    cutoff: dt.datetime
    dry_run: bool
    conversation_ids: List[str] = field(default_factory=list)
    rows: Dict[str, int] = field(default_factory=dict)  # table -> rows anonymised
    skipped_open: int = 0  # old but still waiting or with an agent
    trackers: str = "not erased: no tracker store configured (KARA_TRACKER_DB_URL)"

    def sentence(self, days: int) -> str:
        verb = "would anonymise" if self.dry_run else "anonymised"
        rows = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        text = (f"{verb} {len(self.conversation_ids)} conversations with no message for {days} days "
                f"(before {self.cutoff.strftime('%Y-%m-%d %H:%M')} UTC): {rows}")
        if self.skipped_open:
            text += f"; {self.skipped_open} still waiting for or with an agent, kept"
        if self.conversation_ids and not self.dry_run:
            text += f"; the assistant's copies: {self.trackers}"
        return text


def _old(cutoff: dt.datetime) -> Tuple[Any, Any]:
    """(no message since ``cutoff``, still waiting or with an agent), per conversation."""
    c, m, h = conversations_t, messages_t, handoffs_t
    last = select(func.max(m.c.created_at)).where(m.c.conversation_id == c.c.id).scalar_subquery()
    still_open = exists().where(h.c.conversation_id == c.c.id, h.c.outcome.is_(None))
    return func.coalesce(last, c.c.created_at) < cutoff, still_open


def _candidates(connection: Connection, cutoff: dt.datetime, among: Optional[Sequence[str]] = None) -> List[str]:
    """Old, closed conversations with something left to blank (``among`` these ids)."""
    c = conversations_t
    old, still_open = _old(cutoff)
    left = [exists().where(table.c.conversation_id == c.c.id, pending) for _, table, _, pending in _blanking()]
    left.append(exists().where(attachments_t.c.conversation_id == c.c.id))  # files are deleted, not blanked
    query = select(c.c.id).where(old, ~still_open, or_(*left)).order_by(c.c.created_at, c.c.id)
    if among is not None:
        query = query.where(c.c.id.in_(among))
    return [row[0] for row in connection.execute(query)]


def apply(
    engine: Engine,
    days: int,
    *,
    now: Optional[dt.datetime] = None,
    dry_run: bool = False,
    erase_trackers: Optional[TrackerEraser] = None,
    attachments: Optional[AttachmentStore] = None,
) -> Outcome:
    """Anonymise what is older than ``days`` (see module docs); ``dry_run``:
    count only. ``erase_trackers`` runs first, per batch; if it raises,
    that batch and the ones after it are left as they were. The files go
    from ``attachments`` (default: the store the environment configures)."""
    if days < 1:
        raise ValueError("keep transcripts for at least one day")
    now = now or dt.datetime.now(dt.timezone.utc)
    outcome = Outcome(cutoff=now - dt.timedelta(days=days), dry_run=dry_run)
    outcome.rows = {name: 0 for name, *_ in _blanking()}
    outcome.rows["attachments"] = 0
    store = attachments or configured_store()
    with engine.connect() as connection:
        ids = _candidates(connection, outcome.cutoff)
        old, still_open = _old(outcome.cutoff)
        c = conversations_t
        outcome.skipped_open = int(connection.execute(
            select(func.count()).select_from(c).where(old, still_open)).scalar_one())
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        if not dry_run and erase_trackers is not None:
            erase_trackers(batch)
        with engine.begin() as connection:
            batch = _candidates(connection, outcome.cutoff, batch)  # a shopper may have come back meanwhile
            for name, table, blank, pending in _blanking():
                where = (table.c.conversation_id.in_(batch), pending)
                if dry_run:
                    found = connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
                elif blank is None:
                    found = connection.execute(delete(table).where(*where)).rowcount
                else:
                    found = connection.execute(update(table).where(*where).values(**blank)).rowcount
                outcome.rows[name] += int(found or 0)
            outcome.rows["attachments"] += _files(connection, batch, store, dry_run)
        outcome.conversation_ids += batch
    if not dry_run and outcome.conversation_ids:
        from ..desk.search import forget_blanked  # the search index keeps no blanked word

        with engine.begin() as connection:
            forget_blanked(connection)
    if erase_trackers is not None:
        outcome.trackers = "erased"
    return outcome
