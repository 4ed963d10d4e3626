"""The gateway's SQL schema (SQLAlchemy 1.4 declarative).

Tables: ``agents``, ``conversations``, ``messages`` (every shopper, bot,
agent and system message), ``handoffs`` (one row per stint in a queue: queue,
reason, enqueued / claimed / closed times, agent, outcome, rating),
``tickets`` (messages left while nobody was online) and ``pages`` (emergency
on-call pages). Migrations live in ``migrations/`` (Alembic); a change here
needs a new revision there (``tests/handoff/test_storage.py`` checks that the
migrated schema matches these models).
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import declarative_base

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base = declarative_base(metadata=metadata)


class Agent(Base):
    __tablename__ = "agents"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    name = Column(String(128), nullable=False)
    password_hash = Column(String(256), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    role = Column(String(16), nullable=False, default="agent", server_default="agent")  # agent | supervisor (ops)


class Conversation(Base):
    __tablename__ = "conversations"

    id = Column(String(32), primary_key=True)
    role = Column(String(16), nullable=False)
    line = Column(String(16), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class Message(Base):
    __tablename__ = "messages"

    seq = Column(Integer, primary_key=True, autoincrement=True)
    id = Column(String(32), nullable=False, unique=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False)
    sender = Column(String(16), nullable=False)  # shopper | bot | agent | system
    text = Column(Text, nullable=False, default="")
    extra = Column(JSON, nullable=True)  # buttons, custom, image
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    agent_name = Column(String(128), nullable=True)
    client_id = Column(String(64), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        Index("ix_messages_conversation_seq", "conversation_id", "seq"),
        Index("ix_messages_conversation_client", "conversation_id", "client_id"),
    )


class Handoff(Base):
    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False, index=True)
    queue = Column(String(16), nullable=False)
    reason = Column(String(128), nullable=False)
    summary = Column(Text, nullable=False, default="")
    context = Column(JSON, nullable=False, default=dict)
    enqueued_at = Column(DateTime(timezone=True), nullable=False)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    closed_at = Column(DateTime(timezone=True), nullable=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    # closed | handed_back | transferred | requeued | ticket
    outcome = Column(String(16), nullable=True)
    rating = Column(Integer, nullable=True)
    rating_comment = Column(Text, nullable=True)


class Ticket(Base):
    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False, index=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=True)
    email = Column(String(254), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class Page(Base):
    __tablename__ = "pages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False, index=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    webhook_url = Column(String(512), nullable=True)
    status = Column(String(16), nullable=False)  # sent | failed | no_webhook
    detail = Column(Text, nullable=True)
