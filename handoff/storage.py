"""Durable storage: transcripts, handoffs, agents, tickets and pages in SQL.

SQLite by default (``sqlite:///var/gateway.db``), PostgreSQL by URL
(``postgresql://user@host/db``); the schema is in :mod:`handoff.models` and is
created by Alembic (:func:`migrate`, ``python -m handoff migrate``).

:class:`Storage` is the async face the gateway uses. SQLAlchemy runs
synchronously on a small thread pool (one thread for SQLite, so there is a
single writer), each call is one short transaction. Messages are written in
batches: concurrent :meth:`Storage.add_message` calls are grouped into one
transaction (group commit), and each call returns only once its message is
committed, so a message the gateway has delivered is always stored.
"""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import io
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from sqlalchemy.orm import Session, sessionmaker

from . import models
from .contract import Handoff

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEFAULT_DB_URL = "sqlite:///var/gateway.db"


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
    sender: str  # shopper | bot | agent | system
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


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys.
    Parameters are hidden from error messages: they hold what shoppers typed."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # QueuePool, not SQLAlchemy 1.4's NullPool default for SQLite files:
        # opening a connection (and its pragmas) per transaction costs ~1 ms.
        engine = create_engine(
            url,
            future=True,
            hide_parameters=True,
            poolclass=QueuePool,
            pool_size=pool_size,  # one per storage thread: each keeps its own page cache
            max_overflow=2,
            connect_args={"check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url, future=True, hide_parameters=True, pool_pre_ping=True, pool_size=pool_size, max_overflow=5
    )


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
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

    def __init__(self, url: str = DEFAULT_DB_URL, *, threads: Optional[int] = None) -> None:
        self.url = url
        if threads is None:
            threads = 1 if url.startswith("sqlite") else 4
        # one connection more than threads: the message writer holds one (see _insert_messages)
        self.engine = make_engine(url, pool_size=threads + 1)
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kara-db")
        self._pending: List[Tuple[MessageRecord, "asyncio.Future[Tuple[MessageRecord, bool]]"]] = []
        self._flushing = False
        self._fast_insert = self._prepare_fast_insert()
        self._writer: Optional[Connection] = None
        self.stored: "collections.Counter[str]" = collections.Counter()  # new messages by sender (metrics)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _session(self) -> Session:
        return self._sessions()

    async def close(self) -> None:
        while self._flushing:
            await asyncio.sleep(0.01)
        self._executor.shutdown(wait=True)
        self._drop_writer()
        self.engine.dispose()

    # -- conversations -----------------------------------------------------

    async def create_conversation(self, conversation_id: str, role: str, line: str) -> ConversationRecord:
        record = ConversationRecord(conversation_id, role, line, utcnow())

        def work() -> None:
            with self.engine.begin() as connection:
                connection.execute(
                    models.Conversation.__table__.insert(),
                    {"id": record.id, "role": role, "line": line, "created_at": record.created_at},
                )

        await self._run(work)
        return record

    async def conversation(self, conversation_id: str) -> Optional[ConversationRecord]:
        def work() -> Optional[ConversationRecord]:
            with self._session() as session:
                row = session.get(models.Conversation, conversation_id)
                if row is None:
                    return None
                return ConversationRecord(row.id, row.role, row.line, _aware(row.created_at))  # type: ignore[arg-type]

        return await self._run(work)

    # -- messages ----------------------------------------------------------

    async def add_message(self, message: MessageRecord) -> Tuple[MessageRecord, bool]:
        """Store ``message``; returns it and True, or the earlier message with
        the same ``client_id`` in this conversation and False (a resend)."""
        return await self.submit_message(message)

    async def find_message(self, conversation_id: str, client_id: str) -> Optional[MessageRecord]:
        """The stored message of this conversation with this ``client_id``, if any."""
        table = models.Message.__table__

        def work() -> Optional[MessageRecord]:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(table)
                    .where(table.c.conversation_id == conversation_id, table.c.client_id == client_id)
                    .order_by(table.c.seq)
                    .limit(1)
                ).first()
                return _message(row) if row is not None else None

        return await self._run(work)

    def submit_message(self, message: MessageRecord) -> "asyncio.Future[Tuple[MessageRecord, bool]]":
        """Queue ``message`` for the next group commit, now (calls keep their
        order); the future resolves as :meth:`add_message` returns."""
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Tuple[MessageRecord, bool]]" = loop.create_future()
        self._pending.append((message, future))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    stored = await self._run(self._insert_messages, [m for m, _ in batch])
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
            self._flushing = False

    def _insert_messages(self, batch: List[MessageRecord]) -> List[Tuple[MessageRecord, bool]]:
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
                self._writer = self.engine.connect()
            transaction = self._writer.begin()
            try:
                results = self._write_messages(self._writer, batch)
            except BaseException as exc:
                lost = self._lost_connection(exc)
                self._drop_writer(invalidate=lost)
                if lost and attempt == 1:
                    continue
                raise
            try:
                transaction.commit()
            except BaseException as exc:
                self._drop_writer(invalidate=self._lost_connection(exc))
                raise
            return results
        raise AssertionError("unreachable")  # pragma: no cover

    def _lost_connection(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the database connection is gone. The COPY
        runs on the raw driver cursor, whose errors SQLAlchemy never wraps,
        so those are asked of the dialect directly."""
        if isinstance(exc, DBAPIError):
            return bool(exc.connection_invalidated)
        dbapi = self.engine.dialect.dbapi
        return dbapi is not None and isinstance(exc, dbapi.Error) and self.engine.dialect.is_disconnect(exc, None, None)

    def _drop_writer(self, invalidate: bool = False) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            if invalidate:
                writer.invalidate()  # not back into the pool: the server has closed it
            writer.close()  # otherwise rolls back what is open and returns it to the pool
        except Exception:
            pass

    def _write_messages(self, connection: Connection, batch: List[MessageRecord]) -> List[Tuple[MessageRecord, bool]]:
        """Find earlier messages with the same client ids, then insert the
        rest with one statement (not the ORM: this is the hot path; on
        PostgreSQL a ``COPY``, see :meth:`_prepare_fast_insert`)."""
        table = models.Message.__table__
        earlier: Dict[Tuple[str, str], MessageRecord] = {}
        wanted: Dict[str, List[str]] = {}
        for message in batch:
            if message.client_id is not None:
                wanted.setdefault(message.conversation_id, []).append(message.client_id)
        results: List[Tuple[MessageRecord, bool]] = []
        fresh: List[MessageRecord] = []
        for conversation_id, client_ids in wanted.items():
            found = connection.execute(
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
            self._fast_insert(connection, fresh)
        elif fresh:
            connection.execute(
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

    def _prepare_fast_insert(self) -> Optional[Callable[[Any, List[MessageRecord]], None]]:
        """On PostgreSQL (psycopg2), the message insert of the hot path as one
        ``COPY ... FROM STDIN`` on the transaction's DBAPI cursor: the same
        rows, constraints and transaction as an INSERT, with no SQL to parse
        per row and no per-value adaptation in Python (measured here: about
        70% of the server's and half of the driver's CPU per row of a
        multi-row INSERT). Other databases keep the Core insert."""
        if self.engine.dialect.driver != "psycopg2":
            return None
        columns = ("id", "conversation_id", "sender", "text", "extra", "agent_id", "agent_name", "client_id",
                   "created_at")
        sql = f"COPY {models.Message.__tablename__} ({', '.join(columns)}) FROM STDIN"

        def insert(connection: Any, messages: List[MessageRecord]) -> None:
            stamps: Dict[dt.datetime, str] = {}  # a burst shares its timestamp: formatted once
            rows = "".join([
                f"{m.id}\t{m.conversation_id}\t{m.sender}\t{_copy_text(m.text)}\t"
                f"{_NULL if m.extra is None else _copy_text(json.dumps(m.extra))}\t"
                f"{_NULL if m.agent_id is None else m.agent_id}\t{_copy_value(m.agent_name)}\t"
                f"{_copy_value(m.client_id)}\t"
                f"{stamps.get(m.created_at) or stamps.setdefault(m.created_at, m.created_at.isoformat())}\n"
                for m in messages
            ])
            cursor = connection.connection.cursor()  # the DBAPI connection of this transaction
            try:
                cursor.copy_expert(sql, io.StringIO(rows))
            finally:
                cursor.close()

        return insert

    async def history(self, conversation_id: str, limit: int = 200) -> List[MessageRecord]:
        """The last ``limit`` messages of a conversation, oldest first."""

        def work() -> List[MessageRecord]:
            with self._session() as session:
                rows = session.execute(
                    select(models.Message)
                    .where(models.Message.conversation_id == conversation_id)
                    .order_by(models.Message.seq.desc())
                    .limit(limit)
                ).scalars().all()
                return [_message(row) for row in reversed(rows)]

        return await self._run(work)

    # -- handoffs ----------------------------------------------------------

    async def open_handoff(
        self, conversation_id: str, handoff: Handoff, *, at: Optional[dt.datetime] = None
    ) -> HandoffRecord:
        def work() -> HandoffRecord:
            with self._session() as session, session.begin():
                row = models.Handoff(
                    conversation_id=conversation_id,
                    queue=handoff.queue,
                    reason=handoff.reason[:128],
                    summary=handoff.summary,
                    context=dict(handoff.context),
                    enqueued_at=at or utcnow(),
                )
                session.add(row)
                session.flush()
                return _handoff(row)

        return await self._run(work)

    async def handoff(self, handoff_id: int) -> Optional[HandoffRecord]:
        def work() -> Optional[HandoffRecord]:
            with self._session() as session:
                row = session.get(models.Handoff, handoff_id)
                return _handoff(row) if row is not None else None

        return await self._run(work)

    async def handoffs(self, conversation_id: str) -> List[HandoffRecord]:
        def work() -> List[HandoffRecord]:
            with self._session() as session:
                rows = session.execute(
                    select(models.Handoff)
                    .where(models.Handoff.conversation_id == conversation_id)
                    .order_by(models.Handoff.id)
                ).scalars().all()
                return [_handoff(row) for row in rows]

        return await self._run(work)

    async def open_handoffs(self) -> List[HandoffRecord]:
        """Every handoff stint not ended yet (waiting or with an agent), oldest first."""

        def work() -> List[HandoffRecord]:
            with self._session() as session:
                rows = session.execute(
                    select(models.Handoff).where(models.Handoff.outcome.is_(None)).order_by(models.Handoff.id)
                ).scalars().all()
                return [_handoff(row) for row in rows]

        return await self._run(work)

    async def claim_handoff(self, handoff_id: int, agent_id: int, *, at: Optional[dt.datetime] = None) -> None:
        await self._update_handoff(handoff_id, claimed_at=at or utcnow(), agent_id=agent_id)

    async def end_handoff(self, handoff_id: int, outcome: str, *, at: Optional[dt.datetime] = None) -> None:
        await self._update_handoff(handoff_id, closed_at=at or utcnow(), outcome=outcome)

    async def rate_handoff(self, handoff_id: int, score: int, comment: Optional[str]) -> None:
        await self._update_handoff(handoff_id, rating=score, rating_comment=comment)

    async def _update_handoff(self, handoff_id: int, **values: Any) -> None:
        def work() -> None:
            with self._session() as session, session.begin():
                session.execute(update(models.Handoff).where(models.Handoff.id == handoff_id).values(**values))

        await self._run(work)

    # -- tickets and pages -------------------------------------------------

    async def add_ticket(self, conversation_id: str, handoff_id: Optional[int], email: str, text: str) -> int:
        def work() -> int:
            with self._session() as session, session.begin():
                row = models.Ticket(
                    conversation_id=conversation_id,
                    handoff_id=handoff_id,
                    email=email,
                    text=text,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                return int(row.id)

        return await self._run(work)

    async def add_page(
        self, conversation_id: str, handoff_id: int, webhook_url: Optional[str], status: str, detail: str = ""
    ) -> int:
        def work() -> int:
            with self._session() as session, session.begin():
                row = models.Page(
                    conversation_id=conversation_id,
                    handoff_id=handoff_id,
                    created_at=utcnow(),
                    webhook_url=webhook_url,
                    status=status,
                    detail=detail[:2000],
                )
                session.add(row)
                session.flush()
                return int(row.id)

        return await self._run(work)

    # -- agents ------------------------------------------------------------

    async def create_agent(self, username: str, name: str, password_hash: str) -> AgentRecord:
        def work() -> AgentRecord:
            with self._session() as session, session.begin():
                row = models.Agent(
                    username=username, name=name, password_hash=password_hash, active=True, created_at=utcnow()
                )
                session.add(row)
                session.flush()
                return _agent(row)

        return await self._run(work)

    async def set_agent_password(self, username: str, name: Optional[str], password_hash: str) -> bool:
        def work() -> bool:
            with self._session() as session, session.begin():
                values: Dict[str, Any] = {"password_hash": password_hash}
                if name:
                    values["name"] = name
                result = session.execute(
                    update(models.Agent).where(models.Agent.username == username).values(**values)
                )
                return bool(result.rowcount)

        return await self._run(work)

    async def agent_by_username(self, username: str) -> Optional[AgentRecord]:
        def work() -> Optional[AgentRecord]:
            with self._session() as session:
                row = session.execute(
                    select(models.Agent).where(models.Agent.username == username)
                ).scalars().first()
                return _agent(row) if row is not None else None

        return await self._run(work)

    async def agent(self, agent_id: int) -> Optional[AgentRecord]:
        def work() -> Optional[AgentRecord]:
            with self._session() as session:
                row = session.get(models.Agent, agent_id)
                return _agent(row) if row is not None else None

        return await self._run(work)


def default_db_url() -> str:
    return os.environ.get("KARA_GATEWAY_DB_URL", DEFAULT_DB_URL)
