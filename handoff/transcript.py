"""A conversation's records on request (privacy): export them, or delete them.

``python -m handoff transcript export CONVERSATION_ID [--db-url URL] [--output FILE]``
prints (or writes) one JSON document: the conversation, every message (oldest
first, times ISO 8601 UTC; agents' private notes left out), every handoff stint (with its
rating), every
ticket (with the email left) and page.

``python -m handoff transcript delete CONVERSATION_ID [--db-url URL]`` deletes
all of those rows in one transaction, and the files sent in the conversation
(their bytes in the attachment store first, :mod:`handoff.attachments`). A conversation still waiting for or
with an agent (an open handoff stint) is refused: close it first. Before the
rows go, the assistant's copy goes: Rasa keeps the bot part of a conversation
in its own tracker store, which the command empties through Rasa's HTTP API
(``--rasa-url``, default ``KARA_GATEWAY_RASA_URL``; see
:meth:`~handoff.rasa_client.RasaClient.forget`). If Rasa is not running at
all, its in-memory trackers are gone with it and the rows are deleted; if it
runs but does not answer, nothing is deleted (try again). After the deletion
the shopper's token opens nothing (``unauthorized``).

Exit status: 0 done, 1 no such conversation, 3 refused (still open),
4 the assistant did not answer (nothing deleted).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional

from sqlalchemy import delete, func, select

from . import models
from .records import aware
from .attachments import rows as attachment_rows
from .attachments.store import AttachmentStore, configured_store
from .storage import NOTE, make_engine


class StillOpen(Exception):
    """The conversation is waiting for or with an agent."""


def _ts(value: Optional[dt.datetime]) -> Optional[str]:
    if value is None:
        return None
    value = aware(value).astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _message_json(m: Any) -> Dict[str, Any]:
    return {
        "id": m.id,
        "sender": m.sender,
        "text": m.text,
        "ts": _ts(m.created_at),
        **({"agent_name": m.agent_name} if m.agent_name else {}),
        **({"client_id": m.client_id} if m.client_id else {}),
        **(dict(m.extra) if isinstance(m.extra, dict) else {}),
    }


def _handoff_json(h: Any) -> Dict[str, Any]:
    return {
        "id": h.id,
        "queue": h.queue,
        "reason": h.reason,
        "summary": h.summary,
        "context": h.context or {},
        "enqueued_at": _ts(h.enqueued_at),
        "claimed_at": _ts(h.claimed_at),
        "closed_at": _ts(h.closed_at),
        "agent_id": h.agent_id,
        "outcome": h.outcome,
        "rating": h.rating,
        "rating_comment": h.rating_comment,
    }


def export(db_url: str, conversation_id: str) -> Optional[Dict[str, Any]]:
    """Everything stored about one conversation; None if there is no such conversation."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            conv = models.table_of(models.Conversation)
            row = connection.execute(select(conv).where(conv.c.id == conversation_id)).first()
            if row is None:
                return None
            def rows(table: Any, order: str) -> List[Any]:
                """This conversation's rows of ``table``, in ``order``."""
                return list(connection.execute(
                    select(table).where(table.c.conversation_id == conversation_id).order_by(table.c[order])
                ).all())

            messages = rows(models.table_of(models.Message), "seq")
            handoffs = rows(models.table_of(models.Handoff), "id")
            tickets = rows(models.table_of(models.Ticket), "id")
            pages = rows(models.table_of(models.Page), "id")
    finally:
        engine.dispose()
    return {
        "conversation": {"id": row.id, "role": row.role, "line": row.line, "created_at": _ts(row.created_at)},
        # agents' private notes are not the shopper's to receive
        "messages": [_message_json(m) for m in messages if m.sender != NOTE],
        "handoffs": [_handoff_json(h) for h in handoffs],
        "tickets": [
            {"id": t.id, "handoff_id": t.handoff_id, "email": t.email, "text": t.text, "created_at": _ts(t.created_at)}
            for t in tickets
        ],
        "pages": [
            {"id": p.id, "handoff_id": p.handoff_id, "status": p.status, "created_at": _ts(p.created_at)}
            for p in pages
        ],
        "exported_at": _ts(dt.datetime.now(dt.timezone.utc)),
    }


def _erasable(connection: Any, conversation_id: str) -> bool:
    """Whether the conversation exists; raises :class:`StillOpen`."""
    conv = models.table_of(models.Conversation)
    if connection.execute(select(conv.c.id).where(conv.c.id == conversation_id)).first() is None:
        return False
    hand = models.table_of(models.Handoff)
    still_open = connection.execute(
        select(func.count()).select_from(hand).where(
            hand.c.conversation_id == conversation_id, hand.c.outcome.is_(None)
        )
    ).scalar_one()
    if still_open:
        raise StillOpen(conversation_id)
    return True


def erasable(db_url: str, conversation_id: str) -> bool:
    """Whether :func:`erase` would delete the conversation (checked before the
    assistant's copy is erased); False if there is no such conversation.
    Raises :class:`StillOpen`."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            return _erasable(connection, conversation_id)
    finally:
        engine.dispose()


def erase(db_url: str, conversation_id: str,
          attachments: Optional[AttachmentStore] = None) -> Optional[Dict[str, int]]:
    """Delete every row of one conversation (one transaction) and its files
    (from ``attachments``, default the store the environment configures);
    rows deleted per table, or None if there is no such conversation. Raises
    :class:`StillOpen`."""
    engine = make_engine(db_url)
    counts: Dict[str, int] = {}
    tables: List[Any] = [models.Message, models.Page, models.Ticket, models.Handoff]  # children first
    try:
        with engine.begin() as connection:
            if not _erasable(connection, conversation_id):
                return None
            conv = models.table_of(models.Conversation)
            counts["attachments"] = attachment_rows.remove(
                connection, [conversation_id], attachments or configured_store())
            for model in tables:
                table = models.table_of(model)
                result = connection.execute(delete(table).where(table.c.conversation_id == conversation_id))
                counts[table.name] = int(result.rowcount or 0)
            counts["conversations"] = int(
                connection.execute(delete(conv).where(conv.c.id == conversation_id)).rowcount or 0
            )
    finally:
        engine.dispose()
    return counts
