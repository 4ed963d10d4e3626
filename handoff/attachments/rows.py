"""The ``attachments`` table (:class:`handoff.models.Attachment`): written and
read by the gateway (async), removed with their bytes by retention and
``transcript delete`` (sync, in their own transaction)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .. import models
from ..records import aware
from .store import AttachmentStore

attachments_t = models.table_of(models.Attachment)


@dataclass(frozen=True)
class AttachmentRow:
    id: str
    conversation_id: str
    message_id: str
    sender: str
    agent_id: Optional[int]
    name: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    created_at: dt.datetime


def _row(row: Any) -> AttachmentRow:
    values = dict(row._mapping)
    values["created_at"] = aware(values["created_at"])
    return AttachmentRow(**values)


async def insert(engine: AsyncEngine, row: AttachmentRow) -> None:
    async with engine.begin() as connection:
        await connection.execute(attachments_t.insert(), [row.__dict__])


async def find(engine: AsyncEngine, attachment_id: str) -> Optional[AttachmentRow]:
    async with engine.connect() as connection:
        found = (await connection.execute(select(attachments_t).where(attachments_t.c.id == attachment_id))).first()
    return None if found is None else _row(found)


def remove(connection: Connection, conversation_ids: Sequence[str], store: AttachmentStore) -> int:
    """Delete the conversations' attachments: the bytes first (so no row is
    left pointing at bytes that stayed), then the rows, in ``connection``'s
    transaction. Returns how many."""
    keys: List[str] = [row[0] for row in connection.execute(
        select(attachments_t.c.storage_key).where(attachments_t.c.conversation_id.in_(list(conversation_ids))))]
    for key in keys:
        store.delete(key)  # raises when the store is unreachable: the transaction then keeps the rows
    if keys:
        connection.execute(delete(attachments_t).where(attachments_t.c.conversation_id.in_(list(conversation_ids))))
    return len(keys)
