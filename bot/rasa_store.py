"""Rasa's SQL tracker store with a per-process cache: :class:`CachedSQLTrackerStore`.

Loaded by Rasa from the endpoints file (``tracker_store: type:
bot.rasa_store.CachedSQLTrackerStore``, the rest as for Rasa's ``SQL`` type);
same table, same rows, so Rasa's own store, ``transcript delete`` and every
other process read what it writes.

Rasa 3.6's ``SQLTrackerStore`` reloads and re-parses every event of the
session on each turn (a query bringing every row, JSON decoding) and, to
store the turn, counts the session's rows again to know which events are new.
Profiled at 10 concurrent conversations that was about 40% of a Rasa
process's busy samples (README, "Assistant at scale"). Here the session's
events stay in memory after a turn, built from their rows as Rasa's store
builds them (:class:`Chunk`), and the next turn of that conversation builds
its tracker from them when the table says nobody wrote since (its highest
event id for the conversation is the one this process wrote last: one
indexed query). The turn's new events are the ones after those it was built
from. What the last turn's tracker worked out from those events (the
policies' replay into states, the applied events, the replay behind the
tracker's copies: :func:`bot.rasa_speedups.carry`) is kept with them: the
next tracker is a copy of that replay and goes on from where the last turn
left off. Everything else, and every doubt, goes to Rasa's code:

* a tracker this store did not hand out (the HTTP API replacing events) is
  saved Rasa's way and forgets the cache;
* a conversation another process wrote to (after a failover) is reloaded.

A conversation the table has no row of (its first turn: Rasa creates the
tracker and saves it twice in that turn) is stored with the same statement
and cached from then on, and so is a turn that starts a new session: what
is kept is what Rasa's store would read back, the rows at or after the
latest ``session_started`` timestamp (:func:`latest_session`; the two held
equal in ``tests/bot/test_rasa_store.py``).

A tracker is rebuilt on every turn, never reused: a tracker object carries
state beside its events (a test showed a reused one answering differently).
Its events are shared from turn to turn, as Rasa shares them between a
tracker and its copies (``DialogueStateTracker.copy``): the only events that
change another event (``DefinePrevUserUtteredFeaturization`` and
``EntitiesAdded``, on the latest user message) set what their replay sets.
The gateway's pool sends all turns of a conversation to one process, so the
cache hits while a process lives; the validation keeps it right when not.

The writes and Rasa's own statements run in a worker thread: Rasa's store
makes them on the event loop, so every other conversation of the process
waits for each round trip (and for PostgreSQL's commit), which is what kept
one process from using its core. The one look-up every turn starts with (the
highest event id) is made on the event loop: one round trip with nothing to
commit costs the loop less than the hand-off to a thread and back costs the
process's CPU. Rasa's lock store still orders the turns of one conversation.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot import rasa_speedups

#: events kept per process, of every conversation (least recently used
#: forgotten first; a forgotten one is read back from its rows): 4.3 KiB each
#: measured in a Rasa process with what is carried beside them (a pickle
#: of them takes 0.6), so at most about 250 MiB
MAX_CACHED_EVENTS = 60_000


@dataclass(frozen=True)
class Chunk:
    """Events stored together (one save), as Rasa's store would read them back
    from their rows (built once: decoding the rows' JSON and rebuilding each
    event on every turn was most of Rasa's store's cost)."""

    events: Tuple[Event, ...]
    #: each event's row timestamp (``None`` when the row has none) and whether it starts a session
    marks: Tuple[Tuple[Optional[float], bool], ...]

    @classmethod
    def of_rows(cls, rows: Sequence[str]) -> "Chunk":
        """The events Rasa's store builds from these rows (their JSON text)."""
        decoded = [json.loads(row) for row in rows]
        built: List[Event] = []
        marks: List[Tuple[Optional[float], bool]] = []
        for data in decoded:
            events = deserialise_events([data])  # Rasa's way: a row it cannot read is left out
            built += events
            marks += [(data.get("timestamp"), data.get("event") == SessionStarted.type_name)] * len(events)
        return cls(tuple(built), tuple(marks))


@dataclass(frozen=True)
class Entry:
    """What the cache keeps of a conversation."""

    #: the latest session's events, in order
    chunks: Tuple[Chunk, ...]
    #: the highest event id stored (0: the table has no row of it)
    last_id: int
    #: the tracker handed out last (weakly: it is Rasa's for one turn), and how many of its events are stored
    tracker: Optional["weakref.ReferenceType[DialogueStateTracker]"]
    stored: int
    #: what the last turn worked out from its events, for the next tracker built from ``chunks``
    carried: Optional[rasa_speedups.Carried] = None
    #: whether ``tracker`` was saved already (what it worked out then covers events not renamed now)
    saved: bool = False

    @cached_property  # (a chunk a turn: summed once, not on every turn's take and remember)
    def size(self) -> int:
        return sum(len(chunk.events) for chunk in self.chunks)

    def handed_out(self, tracker: DialogueStateTracker) -> bool:
        return self.tracker is not None and self.tracker() is tracker


#: the cache entry of a conversation the table has no row of: whatever is saved next is new
NEW_CONVERSATION = Entry((), 0, None, 0)


def _columns(event: Any) -> Dict[str, Any]:
    """An event's row, as Rasa's store writes it."""
    data: Dict[str, Any] = event.as_dict()
    return {"type_name": event.type_name, "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"), "data": json.dumps(data)}


def _rows(connection: Any, sql: str, parameters: Tuple[Any, ...]) -> List[Tuple[Any, ...]]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return list(cursor.fetchall())
    finally:
        cursor.close()


#: the row's columns in the order of the statements below
COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


def _autocommit_engine(engine: sa.engine.Engine) -> sa.engine.Engine:
    """Where the per-turn statements run, autocommitted: an engine of its
    own. Rasa's engine, told AUTOCOMMIT per connection, sets the connection's
    isolation level on every checkout and back on every checkin (11% of a
    process's busy samples on PostgreSQL, 10% on SQLite: README "Assistant
    at scale")."""
    if engine.dialect.name == "sqlite":
        if not _sqlite_file(engine):
            return engine.execution_options(isolation_level="AUTOCOMMIT")
        return _held_sqlite_engine(engine.url, isolation_level="AUTOCOMMIT")
    # no transaction to roll back when a connection goes back to the pool
    return sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                            **create_engine_kwargs(engine.url))


def _sqlite_file(engine: sa.engine.Engine) -> bool:
    """A SQLite database in a file (an in-memory one lives in its one connection)."""
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def _held_sqlite_engine(url: sa.engine.URL, **options: Any) -> sa.engine.Engine:
    """A SQLite engine whose connections are held between turns.
    SQLAlchemy 1.4 gives a SQLite file no pool: every statement of a turn
    opened the file, set the pragmas, and on closing the last connection
    SQLite checkpointed the WAL into the file and deleted it (6.5% of a
    process's busy samples at 10 conversations in ``do_close``). A pool, as
    SQLAlchemy 2 has for SQLite files; a connection may serve another thread
    than the one that opened it (reads of cache misses run in a worker
    thread), one at a time as the pool hands it out."""
    held = sa.create_engine(url, poolclass=sa.pool.QueuePool, connect_args={"check_same_thread": False},
                            **options)
    sa.event.listen(held, "connect", _sqlite_pragmas)
    return held


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite as the gateway's database runs (``handoff/engines.py``): WAL, so
    another Rasa process reads while this one saves; a commit that reaches
    the OS, not the disk (a crashed or killed process loses nothing; 0.75 ms
    of fsyncs a turn with Rasa's default journal, 0.03 ms so)."""
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class CachedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: "OrderedDict[str, Entry]" = OrderedDict()
        self._cached_events = 0
        if _sqlite_file(self.engine):  # (Rasa's store made its table)
            self.engine.dispose()
            self.engine = _held_sqlite_engine(self.engine.url)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self._autocommit = _autocommit_engine(self.engine)
        #: the event loop's own connection, for the look-up of :meth:`_last_id`
        self._reader: Any = None
        # The per-turn statements as the driver's own SQL: SQLAlchemy compiled
        # the multi-row INSERT afresh on every turn (a new statement shape per
        # row count), 8% of a process's busy samples at 50 conversations.
        table = self.SQLEvent.__table__
        mark = "%s" if self.engine.dialect.name == "postgresql" else "?"
        self._max_id_sql = f"SELECT max(id) FROM {table.name} WHERE sender_id = {mark}"
        self._insert_sql = f"INSERT INTO {table.name} ({', '.join(COLUMNS)}) VALUES "
        self._row_marks = "(" + ", ".join([mark] * len(COLUMNS)) + ")"

    def _driver_rows(self, sql: str, parameters: Tuple[Any, ...]) -> List[Tuple[Any, ...]]:
        """One autocommitted statement on the driver's own cursor of a pooled
        connection, in a worker thread (a write: see :meth:`_insert`)."""
        connection = self._autocommit.raw_connection()
        try:
            return _rows(connection, sql, parameters)
        except self._dbapi_error as exc:
            self._dropped(connection, exc)
            raise
        finally:
            connection.close()

    def _last_id(self, sender_id: str) -> int:
        """The conversation's highest event id (0: no row), the look-up every
        turn starts with. On the event loop's thread, on a connection it holds
        (no pool check-out and check-in), with the driver's own cursor: a read
        has no commit to wait for, and its one round trip (about 50 µs here)
        costs the loop less than handing it to a worker thread and back costs
        the CPU (170 µs; SQLAlchemy's ``Connection`` 60 µs more). A connection
        the server dropped (a restart, an idle timeout) is replaced and the
        look-up made once more."""
        for attempt in (1, 2):
            if self._reader is None:
                self._reader = self._autocommit.raw_connection()
            try:
                return int(_rows(self._reader, self._max_id_sql, (sender_id,))[0][0] or 0)
            except self._dbapi_error as exc:
                reader, self._reader = self._reader, None
                disconnected = self._dropped(reader, exc)
                reader.close()
                if not disconnected or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def _dbapi_error(self) -> Any:
        return self._autocommit.dialect.dbapi.Error  # type: ignore[union-attr]

    def _dropped(self, connection: Any, exc: Exception) -> bool:
        """Whether ``exc`` says the server dropped ``connection``: then it is
        invalidated and both pools emptied, as SQLAlchemy does on a disconnect
        (a restart ended every connection, Rasa's own too)."""
        if not self._autocommit.dialect.is_disconnect(exc, connection.dbapi_connection, None):
            return False
        connection.invalidate(exc)
        self._autocommit.dispose()
        if self.engine is not self._autocommit:
            self.engine.dispose()
        return True

    def _insert(self, sender_id: str, rows: List[Tuple[Any, ...]]) -> int:
        """Store ``rows`` (values in :data:`COLUMNS` order); the conversation's highest event id after."""
        if self.engine.dialect.name == "postgresql":  # one statement, autocommitted: one round trip
            sql = self._insert_sql + ", ".join([self._row_marks] * len(rows)) + " RETURNING id"
            return int(max(row[0] for row in self._driver_rows(sql, tuple(itertools.chain(*rows)))))
        with self.engine.begin() as connection:  # SQLite: one transaction
            connection.exec_driver_sql(self._insert_sql + self._row_marks, rows)
            return int(connection.exec_driver_sql(self._max_id_sql, (sender_id,)).scalar() or 0)

    def _save_rasa_way(self, tracker: DialogueStateTracker) -> None:
        """``SQLTrackerStore.save`` without its event broker call: count the
        session's rows, store the events after them."""
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                session.add(self.SQLEvent(sender_id=tracker.sender_id, **_columns(event)))
            session.commit()

    def _session_rows(self, sender_id: str) -> List[str]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
            return [row.data for row in rows]

    def _remember(self, sender_id: str, entry: Entry) -> None:
        self._take(sender_id)
        self._cache[sender_id] = entry
        self._cached_events += entry.size
        while self._cached_events > MAX_CACHED_EVENTS and len(self._cache) > 1:
            self._take(next(iter(self._cache)))

    def _take(self, sender_id: str) -> Optional[Entry]:
        entry = self._cache.pop(sender_id, None)
        if entry is not None:
            self._cached_events -= entry.size
        return entry

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        cached = self._take(sender_id)
        last_id = self._last_id(sender_id)
        carried = None
        if cached is not None and cached.last_id == last_id:
            chunks, carried = cached.chunks, cached.carried
        elif last_id == 0:  # no row at all: nothing to read (Rasa's ORM query for it was
            chunks = ()  # 3.8% of a process's busy samples at 10 conversations)
        else:  # what Rasa's store reads: the latest session's rows, in order
            rows = await asyncio.to_thread(self._session_rows, sender_id)
            chunks = (Chunk.of_rows(rows),) if rows else ()
        if not chunks or not self.domain:
            if last_id == 0:  # a new conversation: its first saves are all new rows
                self._remember(sender_id, NEW_CONVERSATION)
            return None
        events = list(itertools.chain.from_iterable(chunk.events for chunk in chunks))
        # Rasa's from_events, from what the last turn carried when it can (handed on, not shared)
        tracker = rasa_speedups.tracker_of(sender_id, events, self.domain.slots, carried)
        self._remember(sender_id, Entry(chunks, last_id, weakref.ref(tracker), len(events)))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        cached = self._take(sender_id)
        if cached is None or (not cached.handed_out(tracker) and cached is not NEW_CONVERSATION):
            # not a tracker this store handed out (the HTTP API): Rasa's way
            await asyncio.to_thread(self._save_rasa_way, tracker)
            return
        new_events = list(itertools.islice(tracker.events, cached.stored, None))
        columns = [_columns(event) for event in new_events]
        chunks, last_id = cached.chunks, cached.last_id
        stored: Tuple[Event, ...] = ()
        if columns:
            rows = [(sender_id, *(c[name] for name in COLUMNS[1:])) for c in columns]
            last_id = await asyncio.to_thread(self._insert, sender_id, rows)
            chunk = Chunk.of_rows([c["data"] for c in columns])
            chunks, stored = chunks + (chunk,), chunk.events
        carried = None
        if any(isinstance(event, SessionStarted) for event in new_events):
            chunks = latest_session(chunks)
        elif not cached.saved and len(stored) == len(new_events):  # (a row Rasa cannot read back leaves its event out)
            # the next turn's tracker holds the kept events where this one holds its own
            carried = rasa_speedups.carry(tracker, {id(live): kept for live, kept in zip(new_events, stored)})
        # the same tracker may be saved again in this turn: its events after these are new then
        self._remember(sender_id, Entry(chunks, last_id, weakref.ref(tracker), len(tracker.events), carried,
                                        saved=True))


def latest_session(chunks: Tuple[Chunk, ...]) -> Tuple[Chunk, ...]:
    """The events Rasa's store reads back of a conversation: those whose rows
    are at or after the latest ``session_started`` timestamp, every one if
    there is none (``SQLTrackerStore._event_query``: a row without a
    timestamp is never "at or after")."""
    starts = [at for chunk in chunks for at, starts in chunk.marks if starts and at is not None]
    if not starts:
        return chunks
    since = max(starts)
    kept: List[Chunk] = []
    for chunk in chunks:
        keep = [at is not None and at >= since for at, _ in chunk.marks]
        if all(keep):
            kept.append(chunk)
        elif any(keep):
            events = tuple(event for event, wanted in zip(chunk.events, keep) if wanted)
            marks = tuple(mark for mark, wanted in zip(chunk.marks, keep) if wanted)
            kept.append(Chunk(events, marks))
    return tuple(kept)
