"""The group-committed message writes of :class:`handoff.storage.Storage`: concurrent
``add_message`` calls queued and written in one transaction on a held writer connection
(retried once on a connection the server dropped), as one ``COPY`` on PostgreSQL (a
small batch: one ``INSERT``)."""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import re
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set, Tuple

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import models
from .records import MessageRecord, _message

FastInsert = Callable[[AsyncConnection, List[MessageRecord]], Awaitable[None]]
#: a message as stored, and whether it is new (False: a resend's earlier message)
Stored = Tuple[MessageRecord, bool]
InsertNew = Callable[[AsyncConnection, List[MessageRecord]], Awaitable[List[Stored]]]
#: (conversation_id, client_id): what a resend shares with its earlier message
ClientKey = Tuple[str, str]

# PostgreSQL's COPY text format: a NULL, and the characters a value must escape.
_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


_COPY_SPECIAL = re.compile(r"[\\\n\r\t]")


def _copy_text(value: str) -> str:
    # Most texts hold none of them: one regex scan is cheaper than translate().
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


def _copy_value(value: Optional[str]) -> str:
    return _NULL if value is None else _copy_text(value)


#: a message row's columns, in the order of the PostgreSQL statements' values (the COPY's and the small INSERT's)
_COLUMNS = ("id", "conversation_id", "sender", "text", "extra", "agent_id", "agent_name", "client_id", "created_at")

#: batches up to this many messages are written by one INSERT on PostgreSQL, larger ones by COPY
#: (see MessageWrites._prepare_insert_new and MessageWrites._copied)
SMALL_BATCH = 4

#: a submission waiting for the group commit: its messages, its future, and
#: whether that future resolves to one result (submit_message) or a list
_Submitted = Tuple[List[MessageRecord], "asyncio.Future[Any]", bool]


def _firsts(batch: List[MessageRecord]) -> List[MessageRecord]:
    """The messages of ``batch`` to write: all but a repeat of a client id an
    earlier message of the batch has (no look-up sees the first's row before it
    is written, so the repeat would be stored too)."""
    firsts: List[MessageRecord] = []
    seen: Set[ClientKey] = set()
    for message in batch:
        if message.client_id is not None:
            key = (message.conversation_id, message.client_id)
            if key in seen:
                continue
            seen.add(key)
        firsts.append(message)
    return firsts


def _client_ids(messages: List[MessageRecord]) -> Dict[str, List[str]]:
    """The client ids of ``messages`` (those with one), by conversation: what to look up."""
    wanted: Dict[str, List[str]] = {}
    for message in messages:
        if message.client_id is not None:
            wanted.setdefault(message.conversation_id, []).append(message.client_id)
    return wanted


def _results(batch: List[MessageRecord], earlier: Mapping[ClientKey, MessageRecord]) -> List[Stored]:
    """What each message of ``batch`` was stored as: ``(message, True)``, or
    ``(prior, False)`` for a resend, ``prior`` the message ``earlier`` holds of
    its client id (looked up for the first occurrences). A prior with this
    message's id is this very message, stored by an attempt whose answer was
    lost (see :meth:`MessageWrites._insert_messages`): new. A repeat within the
    batch answers with what its first occurrence resolved to, not new."""
    results: List[Stored] = []
    resolved: Dict[ClientKey, MessageRecord] = {}
    for message in batch:
        if message.client_id is None:
            results.append((message, True))
            continue
        key = (message.conversation_id, message.client_id)
        if key in resolved:
            results.append((resolved[key], False))
            continue
        prior = earlier.get(key)
        stored = (message, True) if prior is None or prior.id == message.id else (prior, False)
        resolved[key] = stored[0]
        results.append(stored)
    return results


_messages = models.table_of(models.Message)
#: earlier messages of a conversation with these client ids, on PostgreSQL (see _earlier_pg): one
#: index look-up per id. As ``client_id = ANY(...)``, a planner that thought the conversation small
#: (the table not analyzed yet) read every message of it through its (conversation_id, seq) index,
#: so a burst's look-up grew with the chat: 40 messages took 7 ms at 4,000 rows and 100 ms at
#: 49,000; 2.9-3.5 ms so, the whole burst written.
_EARLIER_SQL = (
    f"SELECT {', '.join('m.' + name for name in _COLUMNS)} FROM unnest(%s::varchar[]) AS k (client_id) "
    f"CROSS JOIN LATERAL (SELECT * FROM {_messages.name} WHERE conversation_id = %s AND client_id = k.client_id "
    "LIMIT 1) AS m"
)


class MessageWrites:
    """The message writer half of :class:`~handoff.storage.Storage` (its ``__init__`` sets these)."""

    engine: AsyncEngine
    _pending: List[_Submitted]
    _flushing: "Optional[asyncio.Task[None]]"
    _fast_insert: Optional[FastInsert]
    _insert_new: Optional[InsertNew]
    _writer: Optional[AsyncConnection]
    #: the batch being written may be committed already (see _insert_messages)
    _committing: bool = False
    stored: "collections.Counter[str]"

    def submit_message(self, message: MessageRecord) -> "asyncio.Future[Stored]":
        """Queue ``message`` for the next group commit, now (calls keep their
        order); the future resolves as :meth:`add_message` returns."""
        return self._submit([message], True)

    def submit_messages(self, messages: List[MessageRecord]) -> "asyncio.Future[List[Stored]]":
        """:meth:`submit_message` for a burst, in order, with one future for
        all of them (one to make, resolve and await, not one a message)."""
        return self._submit(messages, False)

    def _submit(self, messages: List[MessageRecord], one: bool) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Any]" = loop.create_future()
        if not messages:  # nothing to write: no transaction
            future.set_result([])
            return future
        self._pending.append((messages, future, one))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    stored = await self._insert_messages([m for messages, _, _ in batch for m in messages])
                except Exception as exc:  # the whole transaction failed
                    for _, future, _ in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    self.stored.update(record.sender for record, new in stored if new)  # handoff/metrics.py
                    start = 0
                    for messages, future, one in batch:
                        end = start + len(messages)
                        if not future.done():
                            future.set_result(stored[start] if one else stored[start:end])
                        start = end
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
        resend with their ``client_id``, which is stored once.

        On PostgreSQL a burst is written by one ``COPY`` (see :meth:`_copied`),
        atomic by itself: the writer runs in autocommit, with no
        ``BEGIN`` and ``COMMIT`` round trips (about 0.3 of a batch's 1.1 ms
        with one message, what a bot turn waits for). There, the end of the
        ``COPY`` is the commit: a failure from then on is not retried. A
        small batch is one ``INSERT`` that may be sent again (see
        :meth:`_prepare_insert_new`): retried on a lost connection."""
        for attempt in (1, 2):
            if self._writer is None:
                writer = await self.engine.connect()
                if self._fast_insert is not None:
                    writer = await writer.execution_options(isolation_level="AUTOCOMMIT")
                self._writer = writer
            self._committing = False
            transaction = await self._writer.begin()
            try:
                results = await self._write_messages(self._writer, batch)
            except BaseException as exc:
                lost = self._lost_connection(exc)
                await self._drop_writer(invalidate=lost)
                if lost and attempt == 1 and not self._committing:
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

    async def _write_messages(self, connection: AsyncConnection, batch: List[MessageRecord]) -> List[Stored]:
        """Find earlier messages with the same client ids, then insert the
        rest with one statement (not the ORM: this is the hot path). On
        PostgreSQL the unique client ids do the finding: a small batch is one
        ``INSERT`` that skips a resend (:meth:`_prepare_insert_new`), a burst
        one ``COPY`` that fails on one (:meth:`_copied`), and only then is it
        looked up."""
        if self._insert_new is not None and len(batch) <= SMALL_BATCH:
            return await self._insert_new(connection, batch)
        firsts = _firsts(batch)
        if await self._copied(connection, firsts):
            return _results(batch, {})
        earlier = await self._earlier(connection, _client_ids(firsts))
        fresh = [m for m in firsts if m.client_id is None or (m.conversation_id, m.client_id) not in earlier]
        if fresh and self._fast_insert is not None:
            await self._fast_insert(connection, fresh)
        elif fresh:
            await connection.execute(
                models.table_of(models.Message).insert(),
                [{name: getattr(message, name) for name in _COLUMNS} for message in fresh],
            )
        return _results(batch, earlier)

    async def _copied(self, connection: AsyncConnection, firsts: List[MessageRecord]) -> bool:
        """On PostgreSQL, a burst written by its ``COPY`` with no look-up of
        its client ids first (the look-up was a third of PostgreSQL's and a
        fifth of the gateway's work per message in the relay benchmark). A
        client id is unique within its conversation (migration 0007): a
        resend among them fails the whole ``COPY``, which writes nothing, and
        the burst is written again after the look-up (False). That is rare: a
        resend follows a reconnect."""
        if self._fast_insert is None:
            return False
        from psycopg.errors import UniqueViolation

        try:
            await self._fast_insert(connection, firsts)
        except UniqueViolation:
            self._committing = False  # the COPY failed as a whole: nothing was written
            return False
        return True

    async def _earlier(self, connection: AsyncConnection,
                       wanted: Dict[str, List[str]]) -> Dict[ClientKey, MessageRecord]:
        """The earlier message of each of these client ids, by conversation, where one is stored."""
        if self._fast_insert is not None:  # PostgreSQL: one array parameter, not an IN list rendered per call
            return await _earlier_pg(connection, wanted)
        earlier: Dict[ClientKey, MessageRecord] = {}
        table = models.table_of(models.Message)
        for conversation_id, client_ids in wanted.items():
            found = await connection.execute(
                select(table).where(table.c.conversation_id == conversation_id, table.c.client_id.in_(client_ids))
            )
            for row in found:
                earlier.setdefault((conversation_id, row.client_id), _message(row))
        return earlier

    def _prepare_fast_insert(self) -> Optional[FastInsert]:
        """On PostgreSQL (psycopg 3), the burst insert of the hot path: one
        ``COPY ... FROM STDIN`` on the transaction's driver connection, the
        same rows, constraints and transaction as an INSERT, with no SQL to
        parse per row and no per-value adaptation in Python (measured with
        psycopg2: about 70% of the server's and half of the driver's CPU per
        row of a multi-row INSERT). A small batch (a lone message, a bot
        turn's replies: what a turn waits for) is one ``INSERT`` instead (see
        :meth:`_prepare_insert_new`): one round trip where a ``COPY`` takes
        two (the statement, then the data). Other databases keep the Core
        insert."""
        if self.engine.dialect.driver != "psycopg":
            return None
        sql = f"COPY {models.Message.__tablename__} ({', '.join(_COLUMNS)}) FROM STDIN"

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
                    self._committing = True  # leaving the block ends the COPY: in autocommit, its commit

        return insert

    def _prepare_insert_new(self) -> Optional[InsertNew]:
        """On PostgreSQL (psycopg 3), a small batch (a lone message, a bot
        turn's replies) written by one ``INSERT ... ON CONFLICT DO NOTHING
        RETURNING id``, with no look-up of its client ids first: one round
        trip, where a look-up and the insert took two (the widget sends a
        ``client_id`` with every message). A client id is unique within its
        conversation (migration 0007), so a row not returned is a resend (its
        earlier message is then read, as before) or this very message, stored
        by an attempt whose answer was lost (same ``id``; see
        :meth:`_insert_messages`): both rare."""
        if self.engine.dialect.driver != "psycopg":
            return None
        names = ", ".join(_COLUMNS)
        row = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        statements = {
            count: f"INSERT INTO {models.Message.__tablename__} ({names}) VALUES {', '.join([row] * count)} "
                   "ON CONFLICT DO NOTHING RETURNING id"
            for count in range(1, SMALL_BATCH + 1)
        }

        async def insert_new(connection: AsyncConnection, batch: List[MessageRecord]) -> List[Stored]:
            firsts = _firsts(batch)
            values: List[Any] = []
            for m in firsts:
                values += (m.id, m.conversation_id, m.sender, m.text, None if m.extra is None else json.dumps(m.extra),
                           m.agent_id, m.agent_name, m.client_id, m.created_at)
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            cursor = await driver.execute(statements[len(firsts)], values)
            inserted = {row[0] for row in await cursor.fetchall()}
            earlier = await _earlier_pg(connection, _client_ids([m for m in firsts if m.id not in inserted]))
            return _results(batch, earlier)

        return insert_new


async def _earlier_pg(connection: AsyncConnection, wanted: Dict[str, List[str]]) -> Dict[ClientKey, MessageRecord]:
    """The first stored message of each of these client ids, by conversation
    (PostgreSQL), planned on every call: psycopg prepares a statement after its
    fifth run, and a plan PostgreSQL then kept from while the table was small
    (a scan of it) stayed for the writer connection's life."""
    from psycopg.rows import namedtuple_row

    earlier: Dict[ClientKey, MessageRecord] = {}
    for conversation_id, client_ids in wanted.items():
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.cursor(row_factory=namedtuple_row) as cursor:
            await cursor.execute(_EARLIER_SQL, (client_ids, conversation_id), prepare=False)
            for row in await cursor.fetchall():
                earlier.setdefault((conversation_id, row.client_id), _message(row))
    return earlier


def _psycopg_lost(exc: BaseException) -> bool:
    """A psycopg 3 error on a connection that is closed (the server ended it)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError)

