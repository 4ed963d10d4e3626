"""The gateway database's records as the rest of the gateway sees them: frozen
dataclasses of a message, conversation, handoff stint and agent, made from ORM or Core rows
(:mod:`handoff.storage` reads and writes them), and the small helpers they need."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, overload

from . import models


#: the sender of a private note: written by an agent, shown to agents only, never to the shopper
NOTE = "note"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@overload
def aware(value: dt.datetime) -> dt.datetime: ...
@overload
def aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]: ...
def aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """A datetime read back from the database, timezone-aware: SQLite returns
    naive datetimes, and everything stored is UTC (None stays None)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def new_id() -> str:
    """A random (version 4) UUID as 32 hex digits, like ``uuid.uuid4().hex``
    without building a ``UUID`` object (a message id is made per message)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


@dataclass(frozen=True)
class MessageRecord:
    """One transcript line. ``extra`` holds ``buttons`` / ``custom`` / ``image``."""

    conversation_id: str
    sender: str  # shopper | bot | agent | system | note (agents only)
    text: str
    id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=utcnow)
    extra: Optional[Dict[str, Any]] = None
    agent_id: Optional[int] = None
    agent_name: Optional[str] = None
    client_id: Optional[str] = None


_new_object = object.__new__
_set_attribute = object.__setattr__


def chat_message(
    conversation_id: str, sender: str, text: str, created_at: dt.datetime, *, client_id: Optional[str] = None,
    agent_id: Optional[int] = None, agent_name: Optional[str] = None,
) -> MessageRecord:
    """``MessageRecord(...)`` of a new chat message (no ``extra``), for the relay's
    hot path: a frozen dataclass's ``__init__`` sets each of its nine fields
    through ``object.__setattr__`` (about 1.6 µs a message), this sets its
    ``__dict__`` once. ``tests/handoff/test_frames.py`` holds the two equal."""
    record = _new_object(MessageRecord)
    _set_attribute(record, "__dict__", {
        "conversation_id": conversation_id, "sender": sender, "text": text, "id": new_id(),
        "created_at": created_at, "extra": None, "agent_id": agent_id, "agent_name": agent_name,
        "client_id": client_id,
    })
    return record


@dataclass(frozen=True)
class ConversationRecord:
    id: str
    role: str
    line: str
    created_at: dt.datetime


@dataclass(frozen=True)
class HandoffRecord:
    id: int
    conversation_id: str
    queue: str
    reason: str
    summary: str
    context: Dict[str, Any]
    enqueued_at: dt.datetime
    claimed_at: Optional[dt.datetime]
    closed_at: Optional[dt.datetime]
    agent_id: Optional[int]
    outcome: Optional[str]
    rating: Optional[int]
    rating_comment: Optional[str]


@dataclass(frozen=True)
class AgentRecord:
    id: int
    username: str
    name: str
    password_hash: str
    active: bool


def _message(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        sender=row.sender,
        text=row.text,
        created_at=aware(row.created_at),
        extra=row.extra,
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        client_id=row.client_id,
    )


def _handoff(row: Any) -> HandoffRecord:
    return HandoffRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        queue=row.queue,
        reason=row.reason,
        summary=row.summary,
        context=dict(row.context or {}),
        enqueued_at=aware(row.enqueued_at),
        claimed_at=aware(row.claimed_at),
        closed_at=aware(row.closed_at),
        agent_id=row.agent_id,
        outcome=row.outcome,
        rating=row.rating,
        rating_comment=row.rating_comment,
    )


def _agent(row: models.Agent) -> AgentRecord:
    return AgentRecord(row.id, row.username, row.name, row.password_hash, bool(row.active))
