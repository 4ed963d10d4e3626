"""Erase a conversation from Rasa's SQL tracker store.

Rasa 3.6's ``SQLTrackerStore`` keeps every event as one row of table
``events`` keyed by ``sender_id`` (the conversation id) and only ever appends:
replacing a tracker over the HTTP API stores nothing new and leaves the old
rows (and the email and order number in them) where they were. So
``transcript delete`` deletes the rows here, by SQL.

The URL is the one Rasa's endpoints file was written from
(``KARA_TRACKER_DB_URL``; ``./kara run`` default ``sqlite:///var/tracker.db``).
"""
from __future__ import annotations

import os
from typing import Optional

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, delete, inspect

_metadata = MetaData()
#: The columns of Rasa's table this module needs (Rasa creates the table).
EVENTS = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
)


def configured_url() -> Optional[str]:
    return os.environ.get("KARA_TRACKER_DB_URL") or None


def delete_conversation(db_url: str, sender_id: str) -> int:
    """Delete every tracker-store row of ``sender_id``; how many went. A
    database Rasa never wrote to (no ``events`` table) holds nothing: 0."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            if not inspect(connection).has_table("events"):
                return 0
            result = connection.execute(delete(EVENTS).where(EVENTS.c.sender_id == sender_id))
            return int(result.rowcount or 0)
    finally:
        engine.dispose()
