"""Order-number guessing: failed verifications counted across conversations.

The per-conversation count (slot ``verification_failures``) ends when the
shopper opens a new chat. This table keeps each failure with the order number
it was for and the client it came from (``metadata["client"]``: a keyed hash
of the remote address the gateway computes; never the address itself), so
the lock-out holds per order number and per client for :data:`WINDOW`
whatever conversation asks.

Both count whether or not the order exists, and a locked order number gets
the same answer whether it exists or not: the lock-out reveals nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Session

from actions.shop.models import Base
from actions.shop.orders import canonical_order_number

#: failures of one order number, or from one client, within WINDOW that lock it
MAX_FAILURES = 3
WINDOW = timedelta(hours=12)
SUBJECTS = ("order", "client")


class VerificationFailure(Base):
    """One failed verification, once per subject (the order number, the client)."""

    __tablename__ = "verification_failures"
    __table_args__ = (
        CheckConstraint("subject_kind IN ('order', 'client')", name="ck_verification_failures_kind"),
        Index("ix_verification_failures_subject", "subject_kind", "subject", "at"),
    )

    id = Column(Integer, primary_key=True)
    subject_kind = Column(String(6), nullable=False)
    subject = Column(String(64), nullable=False)  # KH-###### or the client key
    at = Column(DateTime, nullable=False)  # naive UTC


def _subjects(order_number: object, client: object) -> list:
    subjects = []
    number = canonical_order_number(order_number)
    if number is not None:
        subjects.append(("order", number))
    if isinstance(client, str) and 0 < len(client) <= 64:
        subjects.append(("client", client))
    return subjects


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def failures(session: Session, order_number: object, client: object, at: datetime) -> int:
    """The highest failure count within the window, of the order number and of the client."""
    since = _naive_utc(at) - WINDOW
    counts = [
        session.execute(
            select(func.count()).select_from(VerificationFailure).where(
                VerificationFailure.subject_kind == kind,
                VerificationFailure.subject == subject,
                VerificationFailure.at >= since,
            )
        ).scalar_one()
        for kind, subject in _subjects(order_number, client)
    ]
    return max(counts, default=0)


def locked(session: Session, order_number: object, client: object, at: datetime) -> bool:
    return failures(session, order_number, client, at) >= MAX_FAILURES


def record_failure(session: Session, order_number: object, client: Optional[str], at: datetime) -> int:
    """Store one failure for the order number and the client (dropping their
    rows older than the window); the highest count now."""
    now = _naive_utc(at)
    for kind, subject in _subjects(order_number, client):
        session.execute(
            delete(VerificationFailure).where(
                VerificationFailure.subject_kind == kind,
                VerificationFailure.subject == subject,
                VerificationFailure.at < now - WINDOW,
            )
        )
        session.add(VerificationFailure(subject_kind=kind, subject=subject, at=now))
    session.flush()
    return failures(session, order_number, client, at)
