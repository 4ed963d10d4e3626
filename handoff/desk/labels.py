"""Labels on conversations ("refund", "vip", "damaged-item"), set from the console's chat panel.

* ``GET /api/conversations/<id>/labels`` -> ``{"conversation_id", "labels": [..]}``
  (sorted);
* ``POST /api/conversations/<id>/labels`` ``{"label"}`` -> 200 the labels
  (adding one that is there already changes nothing);
* ``POST /api/conversations/<id>/labels/delete`` ``{"label"}`` -> 200 the labels;
* ``GET /api/labels`` -> ``{"labels": [{"label", "conversations"}]}``, the
  labels in use, most used first (the console offers them while typing).

Any signed-in agent (labels are the team's shared vocabulary); 401 without a
valid token, 400 for a label that is not 1-32 characters of ``a-z 0-9 _ -``
and spaces (stored lower case, trimmed), 404 for an unknown conversation.
"""
from __future__ import annotations

import datetime as dt
import http
import re
from typing import Any, Dict, List, Optional

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from .. import models
from .web import Answer, BadInput, Caller, Desk, bad, body_object, error, json_answer, method_not_allowed

PREFIX, ALL = "/api/conversations/", "/api/labels"
LABEL = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,31}$")
CONVERSATION = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_LABELS = 20  # on one conversation
labels_t = models.table_of(models.ConversationLabel)
conversations_t = models.table_of(models.Conversation)


def _label(data: Dict[str, Any]) -> str:
    value = data.get("label")
    value = " ".join(value.lower().split()) if isinstance(value, str) else ""
    if not LABEL.match(value):
        raise BadInput("label: 1-32 characters of a-z, 0-9, spaces, _ and -")
    return value


def labels_of(connection: Connection, cid: str) -> List[str]:
    if connection.execute(select(conversations_t.c.id).where(conversations_t.c.id == cid)).first() is None:
        raise BadInput(f"no conversation {cid}", http.HTTPStatus.NOT_FOUND)
    query = select(labels_t.c.label).where(labels_t.c.conversation_id == cid).order_by(labels_t.c.label)
    return [str(row[0]) for row in connection.execute(query)]


def add(connection: Connection, who: Caller, cid: str, label: str) -> List[str]:
    present = labels_of(connection, cid)
    if label not in present:
        if len(present) >= MAX_LABELS:
            raise BadInput(f"a conversation has at most {MAX_LABELS} labels")
        connection.execute(insert(labels_t).values(conversation_id=cid, label=label, added_by=who.id,
                                                   added_at=dt.datetime.now(dt.timezone.utc)))
    return labels_of(connection, cid)


def remove(connection: Connection, cid: str, label: str) -> List[str]:
    labels_of(connection, cid)
    connection.execute(delete(labels_t).where(labels_t.c.conversation_id == cid, labels_t.c.label == label))
    return labels_of(connection, cid)


def in_use(connection: Connection) -> List[Dict[str, Any]]:
    count = func.count().label("n")
    query = select(labels_t.c.label, count).group_by(labels_t.c.label).order_by(count.desc(), labels_t.c.label)
    return [{"label": row[0], "conversations": int(row[1])} for row in connection.execute(query.limit(200))]


class LabelRoutes:
    """The routes of the module docs."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path = raw_path.partition("?")[0]
        if path == ALL:
            if method != "GET":
                return method_not_allowed("GET")
            who = await self.desk.caller(headers)
            return who if not isinstance(who, Caller) else json_answer(
                http.HTTPStatus.OK, {"labels": await self.desk.run(in_use)})
        if not path.startswith(PREFIX):
            return None
        parts = path[len(PREFIX):].split("/")
        if len(parts) not in (2, 3) or parts[1] != "labels" or (len(parts) == 3 and parts[2] != "delete"):
            return None  # another route set's conversation path
        cid = parts[0]
        if not CONVERSATION.match(cid):
            return error(http.HTTPStatus.NOT_FOUND, "no such conversation")
        removing = len(parts) == 3
        if method != ("POST" if removing else method) or method not in ("GET", "POST"):
            return method_not_allowed("POST") if removing else method_not_allowed("GET", "POST")
        who = await self.desk.caller(headers)
        if not isinstance(who, Caller):
            return who
        try:
            if method == "GET":
                found = await self.desk.run(lambda c: labels_of(c, cid))
            else:
                label = _label(body_object(body))
                found = await self.desk.run(
                    (lambda c: remove(c, cid, label)) if removing else (lambda c: add(c, who, cid, label)), write=True)
        except BadInput as exc:
            return bad(exc)
        return json_answer(http.HTTPStatus.OK, {"conversation_id": cid, "labels": found})
