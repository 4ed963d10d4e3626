"""What says two conversations are the same shopper's: their shopper keys.

A key is ``(kind, value)`` on a conversation (table ``shopper_keys``,
migration 0006):

* ``email`` / ``phone``: the contact an order was verified with, as the
  assistant sends it in the handoff context (``verified_contact``,
  :mod:`handoff.contract`; canonical: lower-case email, ``0XXXXXXXXXX``
  phone). Kept when the handoff is stored. Only verified contacts: a typed
  one proves nothing.
* ``browser``: the widget's random id of the browser (``hello.browser``,
  PROTOCOL.md), kept with a new conversation.

The agent's context panel lists the conversations sharing a key with the one
in front (:func:`related`, used by :mod:`handoff.desk.search`), saying which
key matched. Retention (:mod:`handoff.ops.retention`) deletes an anonymised
conversation's keys.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Mapping, Set, Tuple

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from . import models

EMAIL, PHONE, BROWSER = "email", "phone", "browser"
keys_t = models.table_of(models.ShopperKey)
Key = Tuple[str, str]


def from_context(context: Mapping[str, Any]) -> List[Key]:
    """The verified contact of a handoff context as a key (none when unverified)."""
    value = context.get("verified_contact")
    if context.get("order_verified") is not True or not isinstance(value, str) or not value.strip():
        return []
    value = value.strip().lower()[:254]
    return [(EMAIL if "@" in value else PHONE, value)]


async def remember(connection: AsyncConnection, cid: str, keys: List[Key], at: dt.datetime) -> None:
    """Keep ``keys`` on conversation ``cid`` (each once: a requeue repeats the context)."""
    k = keys_t.c
    for kind, value in keys:
        found = await connection.execute(select(k.kind).where(k.conversation_id == cid, k.kind == kind,
                                                              k.value == value))
        if found.first() is None:
            await connection.execute(keys_t.insert(), {"conversation_id": cid, "kind": kind, "value": value,
                                                       "created_at": at})


def reason(kind: str, value: str) -> str:
    """Why a conversation is listed, in words for the agent."""
    return "same browser" if kind == BROWSER else f"verified {kind} {value}"


def related(connection: Connection, cid: str) -> Dict[str, Set[str]]:
    """The other conversations sharing a key with ``cid`` -> why (:func:`reason`)."""
    mine, theirs = keys_t.alias("mine"), keys_t.alias("theirs")
    rows = connection.execute(
        select(theirs.c.conversation_id, theirs.c.kind, theirs.c.value)
        .join(mine, and_(mine.c.kind == theirs.c.kind, mine.c.value == theirs.c.value))
        .where(mine.c.conversation_id == cid, theirs.c.conversation_id != cid).limit(500))
    found: Dict[str, Set[str]] = {}
    for other, kind, value in rows:
        found.setdefault(other, set()).add(reason(kind, value))
    return found
