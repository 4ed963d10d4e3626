"""Agent administration for supervisors, and the admin page.

* ``GET /console/admin`` -> ``widget/admin.html`` (strict CSP: the gateway's
  own scripts only); it signs in like the reports page and asks the API below.
* ``GET /api/agents`` (supervisors) -> ``{"agents": [{"id", "username",
  "name", "role", "active", "capacity", "created_at"}]}`` by username.
* ``POST /api/agents`` ``{"username", "name", "password", "role"?,
  "capacity"?}`` -> 201 the agent (argon2 hash, as ``create-agent``); 409 for a
  username that exists.
* ``POST /api/agents/<id>`` with any of ``{"name", "role", "capacity",
  "active"}`` -> 200 the agent. ``active: false`` disables the account: it
  cannot sign in, every token it holds stops working at its next request or
  websocket hello (``agents.active`` is read at each one), and its open
  console sockets on every gateway process are closed at once (4401, as an
  expired token; :meth:`handoff.hub.Hub.close_agent`, over the bus).
  A supervisor cannot disable or demote themselves (so the desk always keeps
  one who can undo it).

Every change is in the audit log (:mod:`handoff.desk.audit`). 401 without a
valid token, 403 for an agent, 400 for bad input (the message names the
field: username 1-64 of letters, digits, ``. _ -``; password at least 8
characters; role ``agent`` / ``supervisor``; capacity 1-20), 404 for an
unknown id. ``python -m handoff create-agent`` keeps working on the same
table.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import http
import re
from typing import Any, Dict, List, Optional

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .. import models
from ..auth import hash_password
from ..ops.roles import AGENT, ROLES
from . import audit
from .web import Answer, BadInput, Caller, Desk, bad, body_object, error, json_answer, method_not_allowed, text_field

PATH, PAGE, PAGE_FILE = "/api/agents", "/console/admin", "admin.html"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 256
MIN_CAPACITY, MAX_CAPACITY = 1, 20
DISABLED_CLOSE = (4401, "account disabled")
agents_t = models.table_of(models.Agent)
_FIELDS = (agents_t.c.id, agents_t.c.username, agents_t.c.name, agents_t.c.role, agents_t.c.active,
           agents_t.c.capacity, agents_t.c.created_at)


def _agent(row: Any) -> Dict[str, Any]:
    return {"id": row.id, "username": row.username, "name": row.name, "role": row.role, "active": bool(row.active),
            "capacity": row.capacity, "created_at": audit.iso(row.created_at)}


def listing(connection: Connection) -> List[Dict[str, Any]]:
    return [_agent(row) for row in connection.execute(select(*_FIELDS).order_by(agents_t.c.username))]


def _one(connection: Connection, agent_id: int) -> Any:
    row = connection.execute(select(*_FIELDS).where(agents_t.c.id == agent_id)).first()
    if row is None:
        raise BadInput(f"no agent {agent_id}", http.HTTPStatus.NOT_FOUND)
    return row


def _role(data: Dict[str, Any]) -> Optional[str]:
    role = data.get("role")
    if role is not None and role not in ROLES:
        raise BadInput(f"role: one of {', '.join(ROLES)}")
    return role


def _capacity(data: Dict[str, Any]) -> Optional[int]:
    value = data.get("capacity")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_CAPACITY <= value <= MAX_CAPACITY:
        raise BadInput(f"capacity: a whole number of chats from {MIN_CAPACITY} to {MAX_CAPACITY}")
    return value


def new_agent(data: Dict[str, Any]) -> Dict[str, Any]:
    """The checked fields of a new account (the password still in clear)."""
    username = data.get("username")
    if not isinstance(username, str) or not USERNAME.match(username.strip()):
        raise BadInput("username: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    password = data.get("password")
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadInput(f"password: at least {MIN_PASSWORD} characters")
    return {"username": username.strip(), "name": text_field(data, "name", limit=128), "password": password,
            "role": _role(data) or AGENT, "capacity": _capacity(data) or 3}


def create(connection: Connection, who: Caller, fields: Dict[str, Any], password_hash: str) -> Dict[str, Any]:
    if connection.execute(select(agents_t.c.id).where(agents_t.c.username == fields["username"])).first():
        raise BadInput(f"username {fields['username']} is taken", http.HTTPStatus.CONFLICT)
    values = {k: v for k, v in fields.items() if k != "password"}
    new_id = connection.execute(insert(agents_t).values(**values, password_hash=password_hash, active=True,
                                                        created_at=dt.datetime.now(dt.timezone.utc))
                                ).inserted_primary_key[0]  # type: ignore[index]
    audit.record(connection, who, "agent.create", fields["username"], {"id": new_id, **values})
    return _agent(_one(connection, int(new_id)))


def changes_of(data: Dict[str, Any]) -> Dict[str, Any]:
    """The checked fields of an update."""
    values: Dict[str, Any] = {}
    if data.get("name") is not None:
        values["name"] = text_field(data, "name", limit=128)
    if (role := _role(data)) is not None:
        values["role"] = role
    if (capacity := _capacity(data)) is not None:
        values["capacity"] = capacity
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise BadInput("active: true or false")
        values["active"] = data["active"]
    if not values:
        raise BadInput("give name, role, capacity or active to change")
    return values


def change(connection: Connection, who: Caller, agent_id: int, values: Dict[str, Any]) -> Dict[str, Any]:
    old = _one(connection, agent_id)
    if agent_id == who.id and (values.get("active") is False or values.get("role", old.role) != old.role):
        raise BadInput("you cannot disable or demote your own account; ask another supervisor")
    changes = {k: [bool(getattr(old, k)) if k == "active" else getattr(old, k), v]
               for k, v in values.items() if getattr(old, k) != v}
    if changes:
        connection.execute(update(agents_t).where(agents_t.c.id == agent_id).values(**values))
        audit.record(connection, who, "agent.update", old.username, {"id": agent_id, "changes": changes})
    return _agent(_one(connection, agent_id))


class AgentRoutes:
    """The routes of the module docs."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path = raw_path.partition("?")[0]
        if path == PAGE:
            return self.desk.page(PAGE_FILE) if method == "GET" else method_not_allowed("GET")
        if path != PATH and not path.startswith(PATH + "/"):
            return None
        tail = path[len(PATH):].strip("/")
        if tail and not tail.isdigit():
            return error(http.HTTPStatus.NOT_FOUND, "no such agent route")
        if method not in ("GET", "POST") or (method == "GET" and tail):
            return method_not_allowed("GET", "POST") if not tail else method_not_allowed("POST")
        who = await self.desk.caller(headers, supervisor=True)
        if not isinstance(who, Caller):
            return who
        try:
            if method == "GET":
                return json_answer(http.HTTPStatus.OK, {"agents": await self.desk.run(listing)})
            data = body_object(body)
            if not tail:
                return await self._create(who, new_agent(data))
            return await self._change(who, int(tail), changes_of(data))
        except BadInput as exc:
            return bad(exc)
        except IntegrityError:  # the same username created twice at once
            return error(http.HTTPStatus.CONFLICT, "that username is taken")

    async def _create(self, who: Caller, fields: Dict[str, Any]) -> Answer:
        hashed = await asyncio.to_thread(hash_password, fields["password"])
        made = await self.desk.run(lambda c: create(c, who, fields, hashed), write=True)
        return json_answer(http.HTTPStatus.CREATED, made)

    async def _change(self, who: Caller, agent_id: int, values: Dict[str, Any]) -> Answer:
        changed = await self.desk.run(lambda c: change(c, who, agent_id, values), write=True)
        if values.get("active") is False:
            await self._disconnect(agent_id)
        return json_answer(http.HTTPStatus.OK, changed)

    async def _disconnect(self, agent_id: int) -> None:
        """Close the disabled agent's console sockets on every gateway process (over the bus)."""
        await self.desk.gateway.hub.close_agent(agent_id, *DISABLED_CLOSE)
