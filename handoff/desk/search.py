"""Search across transcripts, a conversation's transcript for agents, and a shopper's past conversations.

* ``GET /console/history[?q=WORDS | ?c=<conversation id>]`` -> ``widget/history.html``:
  the search form, its results, and a conversation's transcript (the console's
  "Past conversations" link there).
* ``GET /api/search?q=WORDS[&limit=20]`` (any agent) -> ``{"query", "results":
  [{"conversation_id", "created_at", "role", "line", "labels", "hits",
  "message": {"id", "sender", "at", "excerpt"}}]}``: conversations with a
  message holding every word (the last one as a prefix), the newest first;
  ``message`` is the newest such message, ``excerpt`` its text around the
  first word found. 400 when ``q`` has no word or more than 200 characters.
* ``GET /api/conversations/<id>/transcript`` (any agent) -> ``{"conversation",
  "labels", "handoffs": [{"queue", "reason", "summary", "enqueued_at",
  "closed_at", "outcome", "rating"}], "messages": [{"id", "sender", "text",
  "at", "agent_name"}]}`` (the first 1000 messages); 404 for an unknown id.
* ``GET /api/conversations/<id>/related`` (any agent) -> ``{"conversations":
  [{"conversation_id", "created_at", "match", "reasons"}]}``: the same
  shopper's other conversations, newest first. A conversation is the same
  shopper's when one of its handoffs carries the same *verified* order number
  (``context.order_number`` with ``order_verified``: the assistant checked it
  against the order's email or phone), when it shares a shopper key
  (:mod:`handoff.shopper_keys`: the same verified email or phone, the same
  browser), or when one of its tickets has the same email (a ticket email is
  what the shopper typed). ``reasons`` says every why, ``match`` the first:
  ``verified order KH-204518``, ``verified email ada@example.com``,
  ``verified phone 08037462283``, ``same browser``, ``ticket email ...``.

The index: SQLite's FTS5 (``messages_fts``, an external-content table on
``messages.text`` kept by triggers; the embedded default) or PostgreSQL's
full-text search (a GIN index on ``to_tsvector('simple', translate(text, '-', ' '))``: no
stemming, as shoppers write English, Pidgin, Yoruba...; a hyphen splits words
as in FTS5, so ``KH-204518`` is found by ``204518``). Both are made by
migration 0004 and follow the text: when retention blanks a message
(:mod:`handoff.ops.retention`) its words leave the index, and
:func:`forget_blanked` then merges SQLite's index so no old segment keeps them.
"""
from __future__ import annotations

import http
import re
from typing import Any, Dict, List, Optional, Set
from urllib.parse import parse_qs

from sqlalchemy import Text, func, select, text
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection

from .. import models, shopper_keys
from ..contract import ORDER_NUMBER
from . import audit, labels
from .web import Answer, BadInput, Caller, Desk, bad, error, json_answer, method_not_allowed

SEARCH, PREFIX, PAGE, PAGE_FILE = "/api/search", "/api/conversations/", "/console/history", "history.html"
FTS_TABLE, PG_INDEX = "messages_fts", "ix_messages_text_search"
#: the expression PostgreSQL's index is on (migration 0004): a query must use it word for word
PG_VECTOR = "to_tsvector('simple', translate(text, '-', ' '))"
WORD = re.compile(r"[^\W_]+")  # letters and digits: both indexes split words at "_" and "-"
MAX_QUERY, MAX_WORDS, DEFAULT_LIMIT, MAX_LIMIT = 200, 8, 20, 100
SCAN = 500  # matching messages read per search (newest first) to find the conversations
EXCERPT = 160
TRANSCRIPT_LIMIT = 1000
messages_t = models.table_of(models.Message)
conversations_t = models.table_of(models.Conversation)
handoffs_t = models.table_of(models.Handoff)
tickets_t = models.table_of(models.Ticket)


def not_compared(name: Optional[str], type_: str, parents: Dict[str, Any]) -> bool:
    """Alembic ``include_name``: the search index is not in the models (FTS5's
    virtual and shadow tables, PostgreSQL's expression index)."""
    return not (name or "").startswith((FTS_TABLE, PG_INDEX))


def words(query: str) -> List[str]:
    if len(query) > MAX_QUERY:
        raise BadInput(f"q: at most {MAX_QUERY} characters")
    found = [w.lower() for w in WORD.findall(query)][:MAX_WORDS]
    if not found:
        raise BadInput("q: give at least one word to search for")
    return found


def _matching_ids(connection: Connection, found: List[str]) -> List[int]:
    """``messages.seq`` of messages holding every word (the last as a prefix), newest first."""
    if connection.dialect.name == "postgresql":
        expr = " & ".join(w + (":*" if i == len(found) - 1 else "") for i, w in enumerate(found))
        sql = text(f"SELECT seq FROM messages WHERE {PG_VECTOR} @@ to_tsquery('simple', :q) ORDER BY seq DESC LIMIT :n")
    else:
        expr = " ".join('"' + w.replace('"', '""') + '"' + ("*" if i == len(found) - 1 else "")
                        for i, w in enumerate(found))
        sql = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q ORDER BY rowid DESC LIMIT :n")
    return [int(row[0]) for row in connection.execute(sql, {"q": expr, "n": SCAN})]


def excerpt(value: str, found: List[str]) -> str:
    lowered = value.lower()
    at = min((i for i in (lowered.find(w) for w in found) if i >= 0), default=0)
    start = max(0, at - EXCERPT // 3)
    piece = value[start:start + EXCERPT]
    return ("…" if start else "") + piece + ("…" if start + EXCERPT < len(value) else "")


def search(connection: Connection, query: str, limit: int = DEFAULT_LIMIT) -> List[Dict[str, Any]]:
    found = words(query)
    seqs = _matching_ids(connection, found)
    if not seqs:
        return []
    m, c = messages_t, conversations_t
    rows = connection.execute(
        select(m.c.seq, m.c.id, m.c.conversation_id, m.c.sender, m.c.text, m.c.created_at,
               c.c.created_at.label("started"), c.c.role, c.c.line)
        .join(c, c.c.id == m.c.conversation_id).where(m.c.seq.in_(seqs)).order_by(m.c.seq.desc()))
    results: Dict[str, Dict[str, Any]] = {}
    for row in rows:
        if row.conversation_id in results:
            results[row.conversation_id]["hits"] += 1
            continue
        if len(results) >= limit:
            continue
        results[row.conversation_id] = {
            "conversation_id": row.conversation_id, "created_at": audit.iso(row.started), "role": row.role,
            "line": row.line, "hits": 1, "labels": [],
            "message": {"id": row.id, "sender": row.sender, "at": audit.iso(row.created_at),
                        "excerpt": excerpt(row.text, found)}}
    for cid, result in results.items():
        result["labels"] = labels.labels_of(connection, cid)
    return list(results.values())


def transcript(connection: Connection, cid: str) -> Dict[str, Any]:
    conversation = connection.execute(select(conversations_t).where(conversations_t.c.id == cid)).first()
    if conversation is None:
        raise BadInput(f"no conversation {cid}", http.HTTPStatus.NOT_FOUND)
    m, h = messages_t, handoffs_t
    messages = connection.execute(select(m.c.id, m.c.sender, m.c.text, m.c.created_at, m.c.agent_name)
                                  .where(m.c.conversation_id == cid).order_by(m.c.seq).limit(TRANSCRIPT_LIMIT))
    stints = connection.execute(select(h).where(h.c.conversation_id == cid).order_by(h.c.id))
    return {
        "conversation": {"id": cid, "role": conversation.role, "line": conversation.line,
                         "created_at": audit.iso(conversation.created_at)},
        "labels": labels.labels_of(connection, cid),
        "handoffs": [{"queue": s.queue, "reason": s.reason, "summary": s.summary,
                      "enqueued_at": audit.iso(s.enqueued_at),
                      "closed_at": audit.iso(s.closed_at) if s.closed_at else None,
                      "outcome": s.outcome, "rating": s.rating} for s in stints],
        "messages": [{"id": r.id, "sender": r.sender, "text": r.text, "at": audit.iso(r.created_at),
                      "agent_name": r.agent_name} for r in messages],
    }


def _verified_orders(contexts: List[Any]) -> Set[str]:
    orders = set()
    for context in contexts:
        if isinstance(context, dict) and context.get("order_verified") is True:
            found = ORDER_NUMBER.search(str(context.get("order_number") or ""))
            if found:
                orders.add(found.group(1))
    return orders


def related(connection: Connection, cid: str) -> List[Dict[str, Any]]:
    """The same shopper's other conversations (module docs), newest first."""
    labels.labels_of(connection, cid)  # 404 for an unknown conversation
    h, t, c = handoffs_t, tickets_t, conversations_t
    reasons = shopper_keys.related(connection, cid)  # a verified email or phone, the same browser
    own = connection.execute(select(h.c.context).where(h.c.conversation_id == cid))
    orders = _verified_orders([row[0] for row in own])
    for order in sorted(orders):
        rows = connection.execute(select(h.c.conversation_id, h.c.context)
                                  .where(h.c.conversation_id != cid, sql_cast(h.c.context, Text).contains(order)))
        for other, context in rows:
            if order in _verified_orders([context]):
                reasons.setdefault(other, set()).add(f"verified order KH-{order}")
    emails = {row[0].strip().lower() for row in connection.execute(
        select(t.c.email).where(t.c.conversation_id == cid, t.c.email != "")) if row[0].strip()}
    if emails:
        for other, email in connection.execute(select(t.c.conversation_id, t.c.email).where(
                t.c.conversation_id != cid, func.lower(func.trim(t.c.email)).in_(sorted(emails)))):
            reasons.setdefault(other, set()).add(f"ticket email {email.strip().lower()}")
    if not reasons:
        return []
    rows = connection.execute(select(c.c.id, c.c.created_at).where(c.c.id.in_(list(reasons)))
                              .order_by(c.c.created_at.desc()).limit(50))
    return [{"conversation_id": row.id, "created_at": audit.iso(row.created_at),
             "match": sorted(reasons[row.id])[0], "reasons": sorted(reasons[row.id])} for row in rows]


def forget_blanked(connection: Connection) -> None:
    """After retention blanked texts: merge SQLite's FTS5 index into one segment, so
    no older segment still holds the blanked words (PostgreSQL's index follows the rows)."""
    if connection.dialect.name == "sqlite":
        connection.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))


class SearchRoutes:
    """The routes of the module docs."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path, _, raw_query = raw_path.partition("?")
        if path == PAGE:
            return self.desk.page(PAGE_FILE) if method == "GET" else method_not_allowed("GET")
        parts = path[len(PREFIX):].split("/") if path.startswith(PREFIX) else []
        if path != SEARCH and not (len(parts) == 2 and parts[1] in ("transcript", "related")):
            return None
        if method != "GET":
            return method_not_allowed("GET")
        who = await self.desk.caller(headers)
        if not isinstance(who, Caller):
            return who
        try:
            if path == SEARCH:
                query = parse_qs(raw_query, keep_blank_values=True)
                q = (query.get("q") or [""])[0]
                limit = audit.whole_number(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
                words(q)
                return json_answer(http.HTTPStatus.OK, {"query": q, "results": await self.desk.run(
                    lambda c: search(c, q, limit))})
            cid = parts[0]
            if not labels.CONVERSATION.match(cid):
                return error(http.HTTPStatus.NOT_FOUND, "no such conversation")
            if parts[1] == "transcript":
                return json_answer(http.HTTPStatus.OK, await self.desk.run(lambda c: transcript(c, cid)))
            return json_answer(http.HTTPStatus.OK, {"conversation_id": cid, "conversations": await self.desk.run(
                lambda c: related(c, cid))})
        except BadInput as exc:
            return bad(exc)

