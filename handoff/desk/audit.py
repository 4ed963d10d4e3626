"""The supervisors' audit log: who did what, when.

Every supervisor action of the desk (canned replies created, edited, deleted;
agents created, disabled, enabled, their role, capacity or name changed) is
written by :func:`record` in the same transaction as the change itself, so the
log never misses a change nor records one that was rolled back.

* ``GET /api/audit[?limit=100][&before=ID]`` (supervisors) -> ``{"entries":
  [{"id", "at", "actor": {"id", "name"}, "action", "target", "detail"}]}``,
  newest first; ``before`` pages back. 401 without a valid token, 403 for an
  agent, 400 for a bad ``limit`` / ``before``.

``actor.name`` is the name the supervisor had when they acted. Actions:
``canned.create``, ``canned.edit``, ``canned.delete``, ``agent.create``,
``agent.update`` (``detail.changes``: field -> ``[before, after]``).
"""
from __future__ import annotations

import datetime as dt
import http
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from .. import models
from ..records import aware
from .web import Answer, BadInput, Caller, Desk, bad, json_answer, method_not_allowed

PATH = "/api/audit"
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
audit_t = models.table_of(models.AuditEntry)


def iso(value: dt.datetime) -> str:
    return aware(value).astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def record(connection: Connection, who: Caller, action: str, target: str, detail: Dict[str, Any]) -> None:
    """Log one supervisor action (in the caller's transaction)."""
    connection.execute(insert(audit_t).values(at=dt.datetime.now(dt.timezone.utc), actor_id=who.id,
                                              actor_name=who.name, action=action, target=target[:128],
                                              detail=detail))


def entries(connection: Connection, limit: int = DEFAULT_LIMIT, before: Optional[int] = None) -> List[Dict[str, Any]]:
    """The newest ``limit`` entries (older than id ``before``), newest first."""
    query = select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(audit_t.c.id < before)
    return [{"id": row.id, "at": iso(row.at), "actor": {"id": row.actor_id, "name": row.actor_name},
             "action": row.action, "target": row.target, "detail": row.detail or {}}
            for row in connection.execute(query)]


def whole_number(query: Dict[str, List[str]], name: str, default: Optional[int], low: int, high: int) -> Optional[int]:
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadInput(f"{name}: a whole number from {low} to {high}")
    return value


class AuditRoutes:
    """``GET /api/audit`` (module docs)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path, _, raw_query = raw_path.partition("?")
        if path != PATH:
            return None
        if method != "GET":
            return method_not_allowed("GET")
        who = await self.desk.caller(headers, supervisor=True)
        if not isinstance(who, Caller):
            return who
        query = parse_qs(raw_query, keep_blank_values=True)
        try:
            limit = whole_number(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
            before = whole_number(query, "before", None, 1, 2**62)
        except BadInput as exc:
            return bad(exc)
        found = await self.desk.run(lambda c: entries(c, limit, before))
        return json_answer(http.HTTPStatus.OK, {"entries": found})
