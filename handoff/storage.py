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
"""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from . import models
from .config import DEFAULT_DB_URL
from .contract import Handoff

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


#: the sender of a private note: written by an agent, shown to agents only, never to the shopper
NOTE = "note"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def new_id() -> str:
    """A random (version 4) UUID as 32 hex digits, like ``uuid.uuid4().hex``
    without building a ``UUID`` object (a message id is made per message)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


@dataclass(frozen=True)
class MessageRecord:
    """One transcript line. ``extra`` holds ``buttons`` / ``custom`` / ``image``."""

    conversation_id: str
    sender: str  # shopper | bot | agent | system | note (agents only)
    text: str
    id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=utcnow)
    extra: Optional[Dict[str, Any]] = None
    agent_id: Optional[int] = None
    agent_name: Optional[str] = None
    client_id: Optional[str] = None


@dataclass(frozen=True)
class ConversationRecord:
    id: str
    role: str
    line: str
    created_at: dt.datetime


@dataclass(frozen=True)
class HandoffRecord:
    id: int
    conversation_id: str
    queue: str
    reason: str
    summary: str
    context: Dict[str, Any]
    enqueued_at: dt.datetime
    claimed_at: Optional[dt.datetime]
    closed_at: Optional[dt.datetime]
    agent_id: Optional[int]
    outcome: Optional[str]
    rating: Optional[int]
    rating_comment: Optional[str]


@dataclass(frozen=True)
class AgentRecord:
    id: int
    username: str
    name: str
    password_hash: str
    active: bool


def _message(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        sender=row.sender,
        text=row.text,
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
        extra=row.extra,
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        client_id=row.client_id,
    )


def _handoff(row: models.Handoff) -> HandoffRecord:
    return HandoffRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        queue=row.queue,
        reason=row.reason,
        summary=row.summary,
        context=dict(row.context or {}),
        enqueued_at=_aware(row.enqueued_at),  # type: ignore[arg-type]
        claimed_at=_aware(row.claimed_at),
        closed_at=_aware(row.closed_at),
        agent_id=row.agent_id,
        outcome=row.outcome,
        rating=row.rating,
        rating_comment=row.rating_comment,
    )


def _agent(row: models.Agent) -> AgentRecord:
    return AgentRecord(row.id, row.username, row.name, row.password_hash, bool(row.active))


def _driver_url(url: str, sqlite_driver: str) -> str:
    """``url`` on this environment's drivers: psycopg 3 for PostgreSQL, the
    given one for SQLite (the database and its options are kept)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername=sqlite_driver)
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    return _driver_url(url, "sqlite")


def async_url(url: str) -> str:
    return _driver_url(url, "sqlite+aiosqlite")


def _sqlite_file(url: str) -> bool:
    """Whether ``url`` is an SQLite file (its folder is made if missing)."""
    if not url.startswith("sqlite"):
        return False
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A synchronous engine for ``url`` (Alembic, the transcript command).
    Parameters are hidden from error messages: they hold what shoppers typed."""
    if _sqlite_file(url):
        engine = create_engine(
            sync_url(url), hide_parameters=True, poolclass=QueuePool, pool_size=pool_size, max_overflow=2,
            connect_args={"check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(sync_url(url), hide_parameters=True, pool_pre_ping=True, pool_size=pool_size, max_overflow=5)


def make_async_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """The gateway's engine for ``url`` (see module docs); SQLite gets WAL, a
    busy timeout and foreign keys, and a pool (opening a connection and its
    pragmas per transaction costs about a millisecond)."""
    if _sqlite_file(url):
        engine = create_async_engine(
            async_url(url), hide_parameters=True, poolclass=AsyncAdaptedQueuePool, pool_size=pool_size,
            max_overflow=2,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        async_url(url), hide_parameters=True, pool_pre_ping=True, pool_size=pool_size, max_overflow=5
    )


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    _sqlite_file(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


# PostgreSQL's COPY text format: a NULL, and the characters a value must escape.
_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


_COPY_SPECIAL = re.compile(r"[\\\n\r\t]")


def _copy_text(value: str) -> str:
    # Most texts hold none of them: one regex scan is cheaper than translate().
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


def _copy_value(value: Optional[str]) -> str:
    return _NULL if value is None else _copy_text(value)


class Storage:
    """Async access to the gateway database (see module docs)."""

    def __init__(self, url: str = DEFAULT_DB_URL, *, connections: Optional[int] = None) -> None:
        self.url = url
        if connections is None:
            connections = 1 if url.startswith("sqlite") else 4  # SQLite: one writer at a time anyway
        # one connection more: the message writer holds one (see _insert_messages)
        self.engine = make_async_engine(url, pool_size=connections + 1)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pending: List[Tuple[MessageRecord, "asyncio.Future[Tuple[MessageRecord, bool]]"]] = []
        self._flushing: "Optional[asyncio.Task[None]]" = None
        self._fast_insert = self._prepare_fast_insert()
        self._writer: Optional[AsyncConnection] = None
        self.stored: "collections.Counter[str]" = collections.Counter()  # new messages by sender (metrics)

    def _session(self) -> AsyncSession:
        return self._sessions()

    async def close(self) -> None:
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self._drop_writer()
        await self.engine.dispose()

    # -- conversations -----------------------------------------------------

    async def create_conversation(self, conversation_id: str, role: str, line: str) -> ConversationRecord:
        record = ConversationRecord(conversation_id, role, line, utcnow())
        async with self.engine.begin() as connection:
            await connection.execute(
                models.table_of(models.Conversation).insert(),
                {"id": record.id, "role": role, "line": line, "created_at": record.created_at},
            )
        return record

    async def conversation(self, conversation_id: str) -> Optional[ConversationRecord]:
        async with self._session() as session:
            row = await session.get(models.Conversation, conversation_id)
            if row is None:
                return None
            return ConversationRecord(row.id, row.role, row.line, _aware(row.created_at))  # type: ignore[arg-type]

    # -- messages ----------------------------------------------------------

    async def add_message(self, message: MessageRecord) -> Tuple[MessageRecord, bool]:
        """Store ``message``; returns it and True, or the earlier message with
        the same ``client_id`` in this conversation and False (a resend)."""
        return await self.submit_message(message)

    async def find_message(self, conversation_id: str, client_id: str) -> Optional[MessageRecord]:
        """The stored message of this conversation with this ``client_id``, if any."""
        table = models.table_of(models.Message)
        async with self.engine.connect() as connection:
            result = await connection.execute(
                select(table)
                .where(table.c.conversation_id == conversation_id, table.c.client_id == client_id)
                .order_by(table.c.seq)
                .limit(1)
            )
            row = result.first()
            return _message(row) if row is not None else None

    def submit_message(self, message: MessageRecord) -> "asyncio.Future[Tuple[MessageRecord, bool]]":
        """Queue ``message`` for the next group commit, now (calls keep their
        order); the future resolves as :meth:`add_message` returns."""
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Tuple[MessageRecord, bool]]" = loop.create_future()
        self._pending.append((message, future))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    stored = await self._insert_messages([m for m, _ in batch])
                except Exception as exc:  # the whole transaction failed
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    self.stored.update(record.sender for record, new in stored if new)  # handoff/metrics.py
                    for (_, future), result in zip(batch, stored):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._flushing = None

    async def _insert_messages(self, batch: List[MessageRecord]) -> List[Tuple[MessageRecord, bool]]:
        """One transaction on the writer connection, which is held from batch
        to batch: a checkout per batch would cost a pre-ping round trip, about
        a fifth of PostgreSQL's work per message in the relay benchmark. What
        the pre-ping guarded against is handled here instead: a connection the
        server dropped while it was idle (a restart, an idle timeout) fails
        before the commit, so nothing was written and the batch is written
        once more on a new connection. A failure at the commit is not
        retried (it may have been written): the senders get an error and
        resend with their ``client_id``, which is stored once."""
        for attempt in (1, 2):
            if self._writer is None:
                self._writer = await self.engine.connect()
            transaction = await self._writer.begin()
            try:
                results = await self._write_messages(self._writer, batch)
            except BaseException as exc:
                lost = self._lost_connection(exc)
                await self._drop_writer(invalidate=lost)
                if lost and attempt == 1:
                    continue
                raise
            try:
                await transaction.commit()
            except BaseException as exc:
                await self._drop_writer(invalidate=self._lost_connection(exc))
                raise
            return results
        raise AssertionError("unreachable")  # pragma: no cover

    def _lost_connection(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the database connection is gone. The COPY
        runs on the driver's own connection, whose errors SQLAlchemy never
        wraps, so those are asked of the dialect directly."""
        if isinstance(exc, DBAPIError):
            return bool(exc.connection_invalidated)
        return self.engine.dialect.driver == "psycopg" and _psycopg_lost(exc)

    async def _drop_writer(self, invalidate: bool = False) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            if invalidate:
                await writer.invalidate()  # not back into the pool: the server has closed it
            await writer.close()  # otherwise rolls back what is open and returns it to the pool
        except Exception:
            pass

    async def _write_messages(
        self, connection: AsyncConnection, batch: List[MessageRecord]
    ) -> List[Tuple[MessageRecord, bool]]:
        """Find earlier messages with the same client ids, then insert the
        rest with one statement (not the ORM: this is the hot path; on
        PostgreSQL a ``COPY``, see :meth:`_prepare_fast_insert`)."""
        table = models.table_of(models.Message)
        earlier: Dict[Tuple[str, str], MessageRecord] = {}
        wanted: Dict[str, List[str]] = {}
        for message in batch:
            if message.client_id is not None:
                wanted.setdefault(message.conversation_id, []).append(message.client_id)
        results: List[Tuple[MessageRecord, bool]] = []
        fresh: List[MessageRecord] = []
        for conversation_id, client_ids in wanted.items():
            found = await connection.execute(
                select(table).where(table.c.conversation_id == conversation_id, table.c.client_id.in_(client_ids))
            )
            for row in found:
                earlier.setdefault((conversation_id, row.client_id), _message(row))
        for message in batch:
            if message.client_id is not None:
                key = (message.conversation_id, message.client_id)
                if key in earlier:
                    results.append((earlier[key], False))
                    continue
                earlier[key] = message
            fresh.append(message)
            results.append((message, True))
        if fresh and self._fast_insert is not None:
            await self._fast_insert(connection, fresh)
        elif fresh:
            await connection.execute(
                table.insert(),
                [
                    {
                        "id": message.id,
                        "conversation_id": message.conversation_id,
                        "sender": message.sender,
                        "text": message.text,
                        "extra": message.extra,
                        "agent_id": message.agent_id,
                        "agent_name": message.agent_name,
                        "client_id": message.client_id,
                        "created_at": message.created_at,
                    }
                    for message in fresh
                ],
            )
        return results

    def _prepare_fast_insert(self) -> Optional[Callable[[AsyncConnection, List[MessageRecord]], Awaitable[None]]]:
        """On PostgreSQL (psycopg 3), the message insert of the hot path as one
        ``COPY ... FROM STDIN`` on the transaction's driver connection: the same
        rows, constraints and transaction as an INSERT, with no SQL to parse
        per row and no per-value adaptation in Python (measured with
        psycopg2: about 70% of the server's and half of the driver's CPU per
        row of a multi-row INSERT). Other databases keep the Core insert."""
        if self.engine.dialect.driver != "psycopg":
            return None
        columns = ("id", "conversation_id", "sender", "text", "extra", "agent_id", "agent_name", "client_id",
                   "created_at")
        sql = f"COPY {models.Message.__tablename__} ({', '.join(columns)}) FROM STDIN"

        async def insert(connection: AsyncConnection, messages: List[MessageRecord]) -> None:
            stamps: Dict[dt.datetime, str] = {}  # a burst shares its timestamp: formatted once
            rows = "".join([
                f"{m.id}\t{m.conversation_id}\t{m.sender}\t{_copy_text(m.text)}\t"
                f"{_NULL if m.extra is None else _copy_text(json.dumps(m.extra))}\t"
                f"{_NULL if m.agent_id is None else m.agent_id}\t{_copy_value(m.agent_name)}\t"
                f"{_copy_value(m.client_id)}\t"
                f"{stamps.get(m.created_at) or stamps.setdefault(m.created_at, m.created_at.isoformat())}\n"
                for m in messages
            ])
            raw = await connection.get_raw_connection()  # the driver connection of this transaction
            driver: Any = raw.driver_connection
            async with driver.cursor() as cursor:
                async with cursor.copy(sql) as copy:
                    await copy.write(rows)

        return insert

    async def history(self, conversation_id: str, limit: int = 200, *, notes: bool = False) -> List[MessageRecord]:
        """The last ``limit`` messages of a conversation, oldest first. Private
        notes (sender :data:`NOTE`) only with ``notes=True``: agents' views ask
        for them; by default (the shopper, mail, exports) they are left out."""
        async with self._session() as session:
            where = [models.Message.conversation_id == conversation_id]
            if not notes:
                where.append(models.Message.sender != NOTE)
            result = await session.execute(
                select(models.Message)
                .where(*where)
                .order_by(models.Message.seq.desc())
                .limit(limit)
            )
            rows = result.scalars().all()
            return [_message(row) for row in reversed(rows)]

    # -- handoffs ----------------------------------------------------------

    async def open_handoff(
        self, conversation_id: str, handoff: Handoff, *, at: Optional[dt.datetime] = None
    ) -> HandoffRecord:
        row = models.Handoff(
            conversation_id=conversation_id,
            queue=handoff.queue,
            reason=handoff.reason[:128],
            summary=handoff.summary,
            context=dict(handoff.context),
            enqueued_at=at or utcnow(),
        )
        await self._add(row)
        return _handoff(row)

    async def handoff(self, handoff_id: int) -> Optional[HandoffRecord]:
        async with self._session() as session:
            row = await session.get(models.Handoff, handoff_id)
            return _handoff(row) if row is not None else None

    async def handoffs(self, conversation_id: str) -> List[HandoffRecord]:
        return await self._handoffs(models.Handoff.conversation_id == conversation_id)

    async def open_handoffs(self) -> List[HandoffRecord]:
        """Every handoff stint not ended yet (waiting or with an agent), oldest first."""
        return await self._handoffs(models.Handoff.outcome.is_(None))

    async def _handoffs(self, where: Any) -> List[HandoffRecord]:
        async with self._session() as session:
            result = await session.execute(select(models.Handoff).where(where).order_by(models.Handoff.id))
            return [_handoff(row) for row in result.scalars().all()]

    async def claim_handoff(self, handoff_id: int, agent_id: int, *, at: Optional[dt.datetime] = None) -> None:
        await self._update_handoff(handoff_id, claimed_at=at or utcnow(), agent_id=agent_id)

    async def end_handoff(self, handoff_id: int, outcome: str, *, at: Optional[dt.datetime] = None) -> None:
        await self._update_handoff(handoff_id, closed_at=at or utcnow(), outcome=outcome)

    async def rate_handoff(self, handoff_id: int, score: int, comment: Optional[str]) -> None:
        await self._update_handoff(handoff_id, rating=score, rating_comment=comment)

    async def _update_handoff(self, handoff_id: int, **values: Any) -> None:
        async with self._session() as session, session.begin():
            await session.execute(update(models.Handoff).where(models.Handoff.id == handoff_id).values(**values))

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


def _psycopg_lost(exc: BaseException) -> bool:
    """A psycopg 3 error on a connection that is closed (the server ended it)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError)


def default_db_url() -> str:
    return os.environ.get("KARA_GATEWAY_DB_URL", DEFAULT_DB_URL)
