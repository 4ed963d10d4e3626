"""What every route set of the agent desk shares: who is asking, JSON in and out, pages.

:class:`Desk` holds, for one gateway, the synchronous engine the desk's SQL runs
on (in worker threads, ``asyncio.to_thread``: the event loop never waits on
SQL) and answers "who sends this request": the agent of the
``Authorization: Bearer <token of POST /api/login>`` header, with the role and
the active flag read from ``agents`` at this request (so disabling an agent or
taking a role away works at once, whatever the token says). Answers are
``(status, [(header, value)...], body)`` as :mod:`handoff.web` expects.

Mutations are ``POST`` (the gateway's port reads a body only for POST,
:mod:`handoff.web`); their body is one JSON object of at most 4 KiB.
"""
from __future__ import annotations

import asyncio
import http
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, TypeVar, Union

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from .. import models
from ..ops import db
# the answers' shapes, for the desk's route modules too (handoff/http_answers.py)
from ..http_answers import Answer as Answer
from ..http_answers import bearer
from ..http_answers import error as error
from ..http_answers import json_answer as json_answer
from ..http_answers import page as page_answer
from ..ops.roles import SUPERVISOR
from ..protocol import ProtocolError

if TYPE_CHECKING:
    from ..service import Gateway

T = TypeVar("T")

agents_t = models.table_of(models.Agent)


class BadInput(ValueError):
    """The request's input is wrong; the message says how (a 400, or ``status``)."""

    def __init__(self, message: str, status: http.HTTPStatus = http.HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


def method_not_allowed(*allowed: str) -> Answer:
    return error(http.HTTPStatus.METHOD_NOT_ALLOWED, f"use {' or '.join(allowed)}", ("Allow", ", ".join(allowed)))


def body_object(body: Optional[bytes]) -> Dict[str, Any]:
    """The JSON object of a POST body; BadInput when it is not one."""
    if body is None:
        raise BadInput("body too large or missing length", http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        raise BadInput("send one JSON object") from None
    if not isinstance(data, dict):
        raise BadInput("send one JSON object")
    return data


def text_field(data: Dict[str, Any], name: str, *, limit: int, required: bool = True) -> Optional[str]:
    """``data[name]`` as stripped text of 1..limit characters (None when absent and not required)."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name}: give some text")
    value = value.strip()
    if len(value) > limit:
        raise BadInput(f"{name}: at most {limit} characters")
    return value


@dataclass(frozen=True)
class Caller:
    """The signed-in agent sending a request, as ``agents`` says now."""

    id: int
    username: str
    name: str
    role: str

    @property
    def supervisor(self) -> bool:
        return self.role == SUPERVISOR


def _caller(engine: Engine, agent_id: int) -> Optional[Caller]:
    with engine.connect() as connection:
        row = connection.execute(
            select(agents_t.c.id, agents_t.c.username, agents_t.c.name, agents_t.c.role)
            .where(agents_t.c.id == agent_id, agents_t.c.active.is_(True))
        ).first()
    return None if row is None else Caller(int(row[0]), str(row[1]), str(row[2]), str(row[3]))


class Desk:
    """The desk's share of one gateway: its engine and who is asking."""

    def __init__(self, gateway: "Gateway") -> None:
        self.gateway = gateway
        self.engine = db.engine(gateway.config.db_url)
        self.widget_dir = Path(gateway.config.widget_dir)

    async def run(self, job: Callable[[Connection], T], *, write: bool = False) -> T:
        """``job(connection)`` in a worker thread, in one transaction when ``write``."""
        def work() -> T:
            opened = self.engine.begin() if write else self.engine.connect()
            with opened as connection:
                return job(connection)

        return await asyncio.to_thread(work)

    async def caller(self, headers: Any, *, supervisor: bool = False) -> Union[Caller, Answer]:
        """The agent of the request, or the 401 / 403 answer to send instead."""
        token = bearer(headers)
        found: Optional[Caller] = None
        if token:
            try:
                agent = await self.gateway.agent_from_token(token)
            except ProtocolError:
                agent = None
            if agent is not None:
                found = await asyncio.to_thread(_caller, self.engine, agent.id)
        if found is None:
            return error(http.HTTPStatus.UNAUTHORIZED, "sign in: send Authorization: Bearer <token of /api/login>",
                         ("WWW-Authenticate", 'Bearer realm="kara"'))
        if supervisor and not found.supervisor:
            return error(http.HTTPStatus.FORBIDDEN, "this is for supervisors")
        return found

    def page(self, name: str) -> Answer:
        """A page of ``widget/`` with the strict policy of the reports page (scripts of the gateway only)."""
        return page_answer(self.widget_dir / name)


def bad(exc: BadInput) -> Answer:
    return error(exc.status, str(exc))
