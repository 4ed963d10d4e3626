"""Agent roles: ``agent`` answers chats; ``supervisor`` also reads the reports
and the metrics of the team.

The role is stored in ``agents.role`` (migration 0002) and read at request
time, not carried in the login token: taking the role away (or deactivating
the account) takes effect on the next request, not when a 12-hour token
expires. Synchronous (the :mod:`handoff.ops.db` engine); the gateway calls
:func:`role_of` from a thread. :func:`stored_role` is the same read on the
gateway's async engine, for the login answer and the agent's ``welcome``
(the console shows supervisors their Reports link; the routes still check).
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff import models

AGENT = "agent"
SUPERVISOR = "supervisor"
ROLES = (AGENT, SUPERVISOR)

agents_t = models.table_of(models.Agent)


def set_role(engine: Engine, username: str, role: str) -> bool:
    """Give ``username`` ``role``; False when there is no such agent."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    with engine.begin() as connection:
        done = connection.execute(update(agents_t).where(agents_t.c.username == username).values(role=role))
        return bool(done.rowcount)


def role_of(engine: Engine, agent_id: int) -> Optional[str]:
    """The role of an active agent; None for an unknown or deactivated one."""
    with engine.connect() as connection:
        row = connection.execute(
            select(agents_t.c.role).where(agents_t.c.id == agent_id, agents_t.c.active.is_(True))
        ).first()
    return None if row is None else str(row[0])


async def stored_role(engine: AsyncEngine, agent_id: int) -> str:
    """The role in ``agents.role`` (``agent`` for an unknown agent: no more rights)."""
    async with engine.connect() as connection:
        row = (await connection.execute(select(agents_t.c.role).where(agents_t.c.id == agent_id))).first()
    return AGENT if row is None or row[0] not in ROLES else str(row[0])


def give_role(db_url: str, username: str, role: str) -> str:
    """``create-agent --role``: set the role of the agent just created or
    updated; the words the command adds to its line (" as supervisor")."""
    from . import db

    engine = db.engine(db_url)
    try:
        set_role(engine, username, role)
    finally:
        engine.dispose()
    return f" as {role}"
