"""The gateway's SQL schema (SQLAlchemy 2 declarative, typed).

Tables: ``agents``, ``conversations``, ``messages`` (every shopper, bot,
agent and system message), ``handoffs`` (one row per stint in a queue: queue,
reason, enqueued / claimed / closed times, agent, outcome, rating),
``tickets`` (messages left while nobody was online, and their inbox status),
``ticket_replies`` (the agents' emailed replies), ``pages`` (emergency
on-call pages) and ``shopper_keys`` (what links a shopper's conversations).
Migrations live in ``migrations/`` (Alembic); a change here
needs a new revision there (``tests/handoff/test_storage.py`` checks that the
migrated schema matches these models).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Optional, cast

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
_STAMP = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = metadata


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)
    #: agent | supervisor (handoff/ops/roles.py; migration 0002)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="agent", server_default="agent")
    #: how many chats at once (the admin page, handoff/desk/agents.py; migration 0004)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False, default=3, server_default="3")


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    line: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)


class Message(Base):
    __tablename__ = "messages"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    conversation_id: Mapped[str] = mapped_column(String(32), ForeignKey("conversations.id"), nullable=False)
    sender: Mapped[str] = mapped_column(String(16), nullable=False)  # shopper | bot | agent | system
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    extra: Mapped[Optional[Dict[str, Any]]] = mapped_column(JSON, nullable=True)  # buttons, custom, image
    agent_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("agents.id"), nullable=True)
    agent_name: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    client_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)

    __table_args__ = (
        Index("ix_messages_conversation_seq", "conversation_id", "seq"),
        # unique: the database keeps a resend from being stored twice (handoff/message_writes.py)
        Index("uq_messages_conversation_client", "conversation_id", "client_id", unique=True),
    )


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id"), nullable=False, index=True
    )
    queue: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(128), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    context: Mapped[Dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    enqueued_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)
    claimed_at: Mapped[Optional[dt.datetime]] = mapped_column(_STAMP, nullable=True)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(_STAMP, nullable=True)
    agent_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("agents.id"), nullable=True)
    # closed | handed_back | transferred | requeued | ticket
    outcome: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    rating: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    rating_comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id"), nullable=False, index=True
    )
    handoff_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("handoffs.id"), nullable=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)
    #: open | answered | closed (the agent desk's inbox, handoff/desk/inbox.py; migration 0003)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open", server_default="open")
    #: the first reply the mail server took, and its agent (read by handoff/ops/reports.py)
    answered_at: Mapped[Optional[dt.datetime]] = mapped_column(_STAMP, nullable=True)
    answered_by: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("agents.id"), nullable=True)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(_STAMP, nullable=True)

    __table_args__ = (Index("ix_tickets_status_created_at", "status", "created_at"),)


class Page(Base):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id"), nullable=False, index=True
    )
    handoff_id: Mapped[int] = mapped_column(Integer, ForeignKey("handoffs.id"), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)
    webhook_url: Mapped[Optional[str]] = mapped_column(String(512), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # sent | failed | no_webhook
    detail: Mapped[Optional[str]] = mapped_column(Text, nullable=True)


class TicketReply(Base):
    """A reply an agent wrote to a ticket, emailed to the shopper (migration 0003).
    ``sent_at`` None: the mail server did not take it (``error`` says why); the text is kept."""

    __tablename__ = "ticket_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id"), nullable=False, index=True)
    #: the ticket's conversation (retention blanks per conversation, as for every table)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id"), nullable=False, index=True
    )
    agent_id: Mapped[int] = mapped_column(Integer, ForeignKey("agents.id"), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)
    sent_at: Mapped[Optional[dt.datetime]] = mapped_column(_STAMP, nullable=True)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)


def table_of(model: type[Base]) -> Table:
    """A model's Core table (for the hot path and bulk statements)."""
    return cast(Table, model.__table__)


# ---- the agent desk (handoff/desk/; migration 0004) ---------------------------------------------

class CannedReply(Base):
    """A reply agents insert with ``/shortcut``; ``text`` may name policy facts as
    ``{slot}`` (actions/policy.py), rendered at each request (handoff/desk/canned.py)."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shortcut: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(128), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)
    updated_by: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("agents.id"), nullable=True)


class AuditEntry(Base):
    """One supervisor action: who, what, when (handoff/desk/audit.py)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False, index=True)
    actor_id: Mapped[int] = mapped_column(Integer, ForeignKey("agents.id"), nullable=False)
    actor_name: Mapped[str] = mapped_column(String(128), nullable=False)  # the name when it was done
    action: Mapped[str] = mapped_column(String(32), nullable=False)  # canned.create, agent.update, ...
    target: Mapped[str] = mapped_column(String(128), nullable=False)
    detail: Mapped[Dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class ConversationLabel(Base):
    """A label an agent put on a conversation (handoff/desk/labels.py)."""

    __tablename__ = "conversation_labels"

    conversation_id: Mapped[str] = mapped_column(String(32), ForeignKey("conversations.id"), primary_key=True)
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_by: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("agents.id"), nullable=True)
    added_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)

    __table_args__ = (Index("ix_conversation_labels_label", "label"),)


class Attachment(Base):
    """A file a shopper or an agent sent (handoff/attachments/; migration 0005): the bytes are
    in the attachment store (a directory, or an object store), keyed by ``storage_key``."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id"), nullable=False, index=True
    )
    #: the transcript message that shows it (``messages.id``)
    message_id: Mapped[str] = mapped_column(String(32), nullable=False)
    sender: Mapped[str] = mapped_column(String(16), nullable=False)  # shopper | agent
    agent_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("agents.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    #: of the stored bytes (after an image was re-encoded)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(256), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)


class ShopperKey(Base):
    """What links a conversation to its shopper's others: a verified email or phone,
    or the widget's browser id (handoff/shopper_keys.py; migration 0006)."""

    __tablename__ = "shopper_keys"

    conversation_id: Mapped[str] = mapped_column(String(32), ForeignKey("conversations.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # email | phone | browser
    value: Mapped[str] = mapped_column(String(254), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(_STAMP, nullable=False)

    __table_args__ = (Index("ix_shopper_keys_kind_value", "kind", "value"),)
