"""Durable storage: transcripts, handoffs, agents, tickets and pages in SQL.

SQLite by default (``sqlite:///var/gateway.db``), PostgreSQL by URL
(``postgresql://user@host/db``); the schema is in :mod:`handoff.models` and is
created by Alembic (:func:`migrate`, ``python -m handoff migrate``).

:class:`Storage` is the async face the gateway uses: SQLAlchemy's asyncio
extension on async drivers (psycopg 3 on PostgreSQL, aiosqlite on SQLite; a
URL naming another driver, ``postgresql+psycopg2://`` say, is read with
these, :func:`async_url`), each call one short transaction, no thread hop.
Messages are written in batches: concurrent :meth:`Storage.add_message`
calls are grouped into one transaction (group commit), and each call returns
only once its message is committed, so a message the gateway has delivered
is always stored. Alembic and the transcript command use the same database
synchronously (:func:`make_engine`, psycopg 3 or sqlite3).

By job: the records in :mod:`handoff.records`, engines and migrations in
:mod:`handoff.engines`, the group-committed message writes (PostgreSQL
``COPY``) in :mod:`handoff.message_writes`; their public names are
re-exported here, so ``from handoff.storage import ...`` keeps working.
"""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from . import models, shopper_keys
from .config import DEFAULT_DB_URL
from .contract import Handoff
from .engines import MIGRATIONS_DIR as MIGRATIONS_DIR
from .engines import async_url as async_url
from .engines import default_db_url as default_db_url
from .engines import make_async_engine as make_async_engine
from .engines import make_engine as make_engine
from .engines import make_read_engine
from .engines import migrate as migrate
from .engines import sync_url as sync_url
from .message_writes import MessageWrites, _Submitted
from .records import NOTE as NOTE
from .records import AgentRecord as AgentRecord
from .records import ConversationRecord as ConversationRecord
from .records import HandoffRecord as HandoffRecord
from .records import MessageRecord as MessageRecord
from .records import chat_message as chat_message
from .records import new_id as new_id
from .records import utcnow as utcnow
from .records import _agent, _handoff, _message, aware


# the Core tables of the hot paths (statements, not the ORM's unit of work)
conversations_t = models.table_of(models.Conversation)
messages_t = models.table_of(models.Message)
handoffs_t = models.table_of(models.Handoff)
#: before every bot turn (a resend is not asked again): built once, not per call
_FIND_MESSAGE = (select(messages_t)
                 .where(messages_t.c.conversation_id == bindparam("conversation_id"),
                        messages_t.c.client_id == bindparam("client_id"))
                 .order_by(messages_t.c.seq).limit(1))

class Storage(MessageWrites):
    """Async access to the gateway database (see module docs)."""

    def __init__(self, url: str = DEFAULT_DB_URL, *, connections: Optional[int] = None) -> None:
        self.url = url
        if connections is None:
            connections = 1 if url.startswith("sqlite") else 4  # SQLite: one writer at a time anyway
        # one connection more: the message writer holds one (see _insert_messages)
        self.engine = make_async_engine(url, pool_size=connections + 1)
        self._reads = make_read_engine(url) or self.engine
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pending: List[_Submitted] = []
        self._flushing: "Optional[asyncio.Task[None]]" = None
        self._fast_insert = self._prepare_fast_insert()
        self._insert_new = self._prepare_insert_new()
        self._writer: Optional[AsyncConnection] = None
        self.stored: "collections.Counter[str]" = collections.Counter()  # new messages by sender (metrics)

    def _session(self) -> AsyncSession:
        return self._sessions()

    async def close(self) -> None:
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self._drop_writer()
        await self.engine.dispose()
        await self._reads.dispose()

    # -- conversations -----------------------------------------------------

    async def create_conversation(
        self, conversation_id: str, role: str, line: str, *, browser: Optional[str] = None
    ) -> ConversationRecord:
        """``browser``: the widget's browser id, kept as a shopper key (handoff/shopper_keys.py)."""
        record = ConversationRecord(conversation_id, role, line, utcnow())
        async with self.engine.begin() as connection:
            await connection.execute(
                conversations_t.insert(),
                {"id": record.id, "role": role, "line": line, "created_at": record.created_at},
            )
            if browser is not None:
                await shopper_keys.remember(connection, record.id, [(shopper_keys.BROWSER, browser)], record.created_at)
        return record

    async def _read(self, statement: "Select[Any]", parameters: Optional[Dict[str, Any]] = None) -> "List[Row[Any]]":
        """The rows of a read on the read engine (see :func:`handoff.engines.make_read_engine`),
        read once more on a new connection if the server had dropped the one it took."""
        for again in (False, True):
            try:
                async with self._reads.connect() as connection:
                    return list(await connection.execute(statement, parameters))
            except DBAPIError as exc:
                if again or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    async def conversation(self, conversation_id: str) -> Optional[ConversationRecord]:
        table = conversations_t
        rows = await self._read(
            select(table.c.id, table.c.role, table.c.line, table.c.created_at).where(table.c.id == conversation_id)
        )
        row = rows[0] if rows else None
        if row is None:
            return None
        return ConversationRecord(row.id, row.role, row.line, aware(row.created_at))

    # -- messages ----------------------------------------------------------

    async def add_message(self, message: MessageRecord) -> Tuple[MessageRecord, bool]:
        """Store ``message``; returns it and True, or the earlier message with
        the same ``client_id`` in this conversation and False (a resend)."""
        return await self.submit_message(message)

    async def find_message(self, conversation_id: str, client_id: str) -> Optional[MessageRecord]:
        """The stored message of this conversation with this ``client_id``, if any."""
        rows = await self._read(_FIND_MESSAGE, {"conversation_id": conversation_id, "client_id": client_id})
        return _message(rows[0]) if rows else None

    async def history(self, conversation_id: str, limit: int = 200, *, notes: bool = False) -> List[MessageRecord]:
        """The last ``limit`` messages of a conversation, oldest first. Private
        notes (sender :data:`NOTE`) only with ``notes=True``: agents' views ask
        for them; by default (the shopper, mail, exports) they are left out."""
        table = messages_t
        where = [table.c.conversation_id == conversation_id]
        if not notes:
            where.append(table.c.sender != NOTE)
        rows = await self._read(select(table).where(*where).order_by(table.c.seq.desc()).limit(limit))
        return [_message(row) for row in reversed(rows)]

    # -- handoffs ----------------------------------------------------------

    async def open_handoff(
        self, conversation_id: str, handoff: Handoff, *, at: Optional[dt.datetime] = None
    ) -> HandoffRecord:
        # Core, not the ORM: a handoff is on the path to the agent's notification,
        # and the unit of work cost about a millisecond of CPU more per stint.
        table = handoffs_t
        values: Dict[str, Any] = {
            "conversation_id": conversation_id, "queue": handoff.queue, "reason": handoff.reason[:128],
            "summary": handoff.summary, "context": dict(handoff.context), "enqueued_at": at or utcnow(),
        }
        keys = shopper_keys.from_context(handoff.context)  # a verified email or phone
        async with self.engine.begin() as connection:
            result = await connection.execute(table.insert().returning(table.c.id), values)
            handoff_id = int(result.scalar_one())
            if keys:
                await shopper_keys.remember(connection, conversation_id, keys, values["enqueued_at"])
        return HandoffRecord(id=handoff_id, claimed_at=None, closed_at=None, agent_id=None, outcome=None,
                             rating=None, rating_comment=None, **values)

    async def handoff(self, handoff_id: int) -> Optional[HandoffRecord]:
        table = handoffs_t
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(table).where(table.c.id == handoff_id))).first()
        return _handoff(row) if row is not None else None

    async def handoffs(self, conversation_id: str) -> List[HandoffRecord]:
        return await self._handoffs(handoffs_t.c.conversation_id == conversation_id)

    async def unrated_close(self, conversation_id: str) -> Optional[int]:
        """The conversation's last handoff, if its agent closed it and the
        shopper has not rated it yet (none has started since)."""
        table = handoffs_t
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(table.c.id, table.c.outcome, table.c.rating)
                .where(table.c.conversation_id == conversation_id).order_by(table.c.id.desc()).limit(1)
            )).first()
        return row.id if row is not None and row.outcome == "closed" and row.rating is None else None

    async def open_handoffs(self) -> List[HandoffRecord]:
        """Every handoff stint not ended yet (waiting or with an agent), oldest first."""
        return await self._handoffs(handoffs_t.c.outcome.is_(None))

    async def _handoffs(self, where: Any) -> List[HandoffRecord]:
        table = handoffs_t
        async with self.engine.connect() as connection:
            result = await connection.execute(select(table).where(where).order_by(table.c.id))
            return [_handoff(row) for row in result.all()]

    async def claim_handoff(self, handoff_id: int, agent_id: int, *, at: Optional[dt.datetime] = None) -> None:
        await self._update_handoff(handoff_id, claimed_at=at or utcnow(), agent_id=agent_id)

    async def end_handoff(self, handoff_id: int, outcome: str, *, at: Optional[dt.datetime] = None) -> None:
        await self._update_handoff(handoff_id, closed_at=at or utcnow(), outcome=outcome)

    async def rate_handoff(self, handoff_id: int, score: int, comment: Optional[str]) -> None:
        await self._update_handoff(handoff_id, rating=score, rating_comment=comment)

    async def _update_handoff(self, handoff_id: int, **values: Any) -> None:
        table = handoffs_t
        async with self.engine.begin() as connection:
            await connection.execute(update(table).where(table.c.id == handoff_id).values(**values))

    async def _add(self, row: Any) -> None:
        """Insert one ORM row in its own transaction (its id is set after)."""
        async with self._session() as session, session.begin():
            session.add(row)
            await session.flush()

    # -- tickets and pages -------------------------------------------------

    async def add_ticket(self, conversation_id: str, handoff_id: Optional[int], email: str, text: str) -> int:
        row = models.Ticket(
            conversation_id=conversation_id, handoff_id=handoff_id, email=email, text=text, created_at=utcnow()
        )
        await self._add(row)
        return int(row.id)

    async def add_page(
        self, conversation_id: str, handoff_id: int, webhook_url: Optional[str], status: str, detail: str = ""
    ) -> int:
        row = models.Page(
            conversation_id=conversation_id,
            handoff_id=handoff_id,
            created_at=utcnow(),
            webhook_url=webhook_url,
            status=status,
            detail=detail[:2000],
        )
        await self._add(row)
        return int(row.id)

    # -- agents ------------------------------------------------------------

    async def create_agent(self, username: str, name: str, password_hash: str) -> AgentRecord:
        row = models.Agent(username=username, name=name, password_hash=password_hash, active=True, created_at=utcnow())
        await self._add(row)
        return _agent(row)

    async def set_agent_password(self, username: str, name: Optional[str], password_hash: str) -> bool:
        values: Dict[str, Any] = {"password_hash": password_hash}
        if name:
            values["name"] = name
        async with self._session() as session, session.begin():
            result = await session.execute(
                update(models.Agent).where(models.Agent.username == username).values(**values)
            )
            return bool(getattr(result, "rowcount", 0))

    async def agent_by_username(self, username: str) -> Optional[AgentRecord]:
        async with self._session() as session:
            result = await session.execute(select(models.Agent).where(models.Agent.username == username))
            row = result.scalars().first()
            return _agent(row) if row is not None else None

    async def agent(self, agent_id: int) -> Optional[AgentRecord]:
        async with self._session() as session:
            row = await session.get(models.Agent, agent_id)
            return _agent(row) if row is not None else None
