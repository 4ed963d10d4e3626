"""Canned replies: text an agent inserts by typing ``/shortcut`` in the console's composer.

A reply's text may name policy facts as ``{slot}``, the policy fact slots of
:mod:`actions.policy` (``{refund_processing_time}``, ``{support_email}``,
``{phone_hours}``...; the list is ``facts`` in the answer of ``GET``). They are
rendered from ``policy.yml`` at each request, never stored rendered, so a
change to the policy changes every reply that names the fact. Other braces
stay as written. The defaults a new desk starts with are
``handoff/desk/canned_defaults.yml`` (inserted by migration 0004).

* ``GET /api/canned`` (any agent) -> ``{"replies": [{"id", "shortcut",
  "title", "text", "rendered", "updated_at"}], "facts": [slot...]}``, by
  shortcut; ``text`` is the template, ``rendered`` what the shopper reads.
* ``POST /api/canned`` ``{"shortcut", "title", "text"}`` (supervisors) -> 201
  the reply; ``POST /api/canned/<id>`` with any of those fields -> 200 the
  reply; ``POST /api/canned/<id>/delete`` -> 200 ``{"deleted": id}``. Each is
  written to the audit log (:mod:`handoff.desk.audit`).

401 without a valid token, 403 for an agent on the supervisors' routes, 400
for bad input (a shortcut that is not 1-32 of ``a-z 0-9 _ -``, an empty or
too long title / text, a ``{fact}`` that is not a policy fact: the message
names it), 404 for an unknown id, 409 for a shortcut already taken.
"""
from __future__ import annotations

import datetime as dt
import http
import logging
import re
from typing import Any, Dict, List, Optional

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from actions.policy import POLICY_SLOTS, load_policy, policy_path

from .. import models
from . import audit
from .web import Answer, BadInput, Caller, Desk, bad, body_object, error, json_answer, method_not_allowed, text_field

logger = logging.getLogger(__name__)
PATH = "/api/canned"
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
FACT = re.compile(r"\{([A-Za-z0-9_]+)\}")
TITLE_LIMIT, TEXT_LIMIT = 128, 2000  # the console's composer takes 2000 characters
canned_t = models.table_of(models.CannedReply)


_last: Dict[str, Any] = {"stamp": None, "facts": None}


def facts() -> Dict[str, str]:
    """Policy fact slot -> its text now: ``policy.yml`` is read again when the
    file changed (its size or time), so an edit reaches the replies without a
    restart; a broken edit keeps the last good facts (and the error is logged)."""
    path = policy_path()
    try:
        info = path.stat()
        stamp: Any = (str(path), info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = None
    if stamp != _last["stamp"] or _last["facts"] is None:
        try:
            load_policy.cache_clear()  # type: ignore[attr-defined]
            _last["facts"] = load_policy().template_vars()
            _last["stamp"] = stamp
        except Exception as exc:  # a half-saved or broken file: yaml, PolicyError, OSError...
            if _last["facts"] is None:
                raise
            logger.error("policy.yml could not be read, the canned replies keep the last facts: %s", exc)
    return dict(_last["facts"])


def unknown_facts(text: str) -> List[str]:
    return sorted({name for name in FACT.findall(text) if name not in POLICY_SLOTS})


def render(text: str, values: Optional[Dict[str, str]] = None) -> str:
    """``text`` with each ``{slot}`` replaced by the policy's fact (unknown names stay as written)."""
    known = values if values is not None else facts()
    return FACT.sub(lambda m: known.get(m.group(1), m.group(0)), text)


def _iso(value: dt.datetime) -> str:
    return audit.iso(value)


def _reply(row: Any, values: Dict[str, str]) -> Dict[str, Any]:
    return {"id": row.id, "shortcut": row.shortcut, "title": row.title, "text": row.text,
            "rendered": render(row.text, values), "updated_at": _iso(row.updated_at)}


def replies(connection: Connection) -> List[Dict[str, Any]]:
    values = facts()
    return [_reply(row, values) for row in connection.execute(select(canned_t).order_by(canned_t.c.shortcut))]


def _checked(data: Dict[str, Any], *, partial: bool) -> Dict[str, str]:
    """The fields of a create (all three) or an edit (any of them), checked."""
    values: Dict[str, str] = {}
    shortcut = data.get("shortcut")
    if shortcut is not None or not partial:
        if not isinstance(shortcut, str) or not SHORTCUT.match(shortcut.strip().lower()):
            raise BadInput("shortcut: 1-32 characters of a-z, 0-9, _ and -, starting with a letter or digit")
        values["shortcut"] = shortcut.strip().lower()
    for name, limit in (("title", TITLE_LIMIT), ("text", TEXT_LIMIT)):
        value = text_field(data, name, limit=limit, required=not partial)
        if value is not None:
            values[name] = value
    if "text" in values and (unknown := unknown_facts(values["text"])):
        raise BadInput(f"text: {', '.join('{' + n + '}' for n in unknown)} is not a policy fact; "
                       f"known facts: {', '.join(POLICY_SLOTS)}")
    if partial and not values:
        raise BadInput("give shortcut, title or text to change")
    return values


def _one(connection: Connection, reply_id: int) -> Any:
    row = connection.execute(select(canned_t).where(canned_t.c.id == reply_id)).first()
    if row is None:
        raise BadInput(f"no canned reply {reply_id}", http.HTTPStatus.NOT_FOUND)
    return row


def _taken(connection: Connection, shortcut: str, but: Optional[int] = None) -> None:
    query = select(canned_t.c.id).where(canned_t.c.shortcut == shortcut)
    if but is not None:
        query = query.where(canned_t.c.id != but)
    if connection.execute(query).first() is not None:
        raise BadInput(f"shortcut /{shortcut} is taken", http.HTTPStatus.CONFLICT)


def create(connection: Connection, who: Caller, values: Dict[str, str]) -> Dict[str, Any]:
    _taken(connection, values["shortcut"])
    now = dt.datetime.now(dt.timezone.utc)
    new_id = connection.execute(insert(canned_t).values(**values, created_at=now, updated_at=now,
                                                        updated_by=who.id)).inserted_primary_key[0]  # type: ignore[index]
    audit.record(connection, who, "canned.create", f"/{values['shortcut']}", {"id": new_id, **values})
    return _reply(_one(connection, int(new_id)), facts())


def edit(connection: Connection, who: Caller, reply_id: int, values: Dict[str, str]) -> Dict[str, Any]:
    old = _one(connection, reply_id)
    if "shortcut" in values:
        _taken(connection, values["shortcut"], but=reply_id)
    changes = {k: [getattr(old, k), v] for k, v in values.items() if getattr(old, k) != v}
    if changes:
        connection.execute(update(canned_t).where(canned_t.c.id == reply_id)
                           .values(**values, updated_at=dt.datetime.now(dt.timezone.utc), updated_by=who.id))
        audit.record(connection, who, "canned.edit", f"/{values.get('shortcut', old.shortcut)}",
                     {"id": reply_id, "changes": changes})
    return _reply(_one(connection, reply_id), facts())


def remove(connection: Connection, who: Caller, reply_id: int) -> Dict[str, Any]:
    old = _one(connection, reply_id)
    connection.execute(delete(canned_t).where(canned_t.c.id == reply_id))
    audit.record(connection, who, "canned.delete", f"/{old.shortcut}",
                 {"id": reply_id, "shortcut": old.shortcut, "title": old.title, "text": old.text})
    return {"deleted": reply_id}


class CannedRoutes:
    """The routes of the module docs."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path = raw_path.partition("?")[0]
        if path != PATH and not path.startswith(PATH + "/"):
            return None
        parts = path[len(PATH):].strip("/").split("/") if path != PATH else []
        if path == PATH and method == "GET":
            who = await self.desk.caller(headers)
            if not isinstance(who, Caller):
                return who
            return json_answer(http.HTTPStatus.OK, {"replies": await self.desk.run(replies),
                                                    "facts": list(POLICY_SLOTS)})
        if method != "POST":
            return method_not_allowed("GET", "POST") if path == PATH else method_not_allowed("POST")
        if len(parts) > 2 or (parts and not parts[0].isdigit()) or (len(parts) == 2 and parts[1] != "delete"):
            return error(http.HTTPStatus.NOT_FOUND, "no such canned reply route")
        who = await self.desk.caller(headers, supervisor=True)
        if not isinstance(who, Caller):
            return who
        return await self._change(who, parts, body)

    async def _change(self, who: Caller, parts: List[str], body: Optional[bytes]) -> Answer:
        try:
            if not parts:
                values = _checked(body_object(body), partial=False)
                return json_answer(http.HTTPStatus.CREATED, await self.desk.run(
                    lambda c: create(c, who, values), write=True))
            reply_id = int(parts[0])
            if len(parts) == 2:
                return json_answer(http.HTTPStatus.OK, await self.desk.run(
                    lambda c: remove(c, who, reply_id), write=True))
            values = _checked(body_object(body), partial=True)
            return json_answer(http.HTTPStatus.OK, await self.desk.run(
                lambda c: edit(c, who, reply_id, values), write=True))
        except BadInput as exc:
            return bad(exc)
        except IntegrityError:  # two supervisors took the same shortcut at once
            return error(http.HTTPStatus.CONFLICT, "that shortcut is taken")
