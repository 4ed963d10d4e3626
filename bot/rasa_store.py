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
events (the rows' JSON text) stay in memory after a turn, and
the next turn of that conversation rebuilds its tracker from them, as Rasa's
store does from the rows, when the table says nobody wrote since (its
highest event id for the conversation is the one this process wrote last:
one indexed query). The turn's new events are the ones after those it was
built from. Everything else, and every doubt, goes to Rasa's code:

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
The gateway's pool sends all turns of a conversation to one process, so the
cache hits while a process lives; the validation keeps it right when not.

The database calls run in a worker thread: Rasa's store makes them on the
event loop, so every other conversation of the process waits for each round
trip (and for PostgreSQL's commit), which is what kept one process from using
its core. Rasa's lock store still orders the turns of one conversation.
"""
from __future__ import annotations

import asyncio
import itertools
import json
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

#: conversations kept per process (least recently used forgotten first)
MAX_CACHED = 5000
#: the cache entry of a conversation the table has no row of: whatever is saved next is new
NEW_CONVERSATION: Tuple[List[str], int, None, int] = ([], 0, None, 0)


def _columns(event: Any) -> Dict[str, Any]:
    """An event's row, as Rasa's store writes it."""
    data: Dict[str, Any] = event.as_dict()
    return {"type_name": event.type_name, "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"), "data": json.dumps(data)}


def _autocommit_engine(engine: sa.engine.Engine) -> sa.engine.Engine:
    """Where the per-turn statements run, autocommitted. On PostgreSQL an
    engine of its own: Rasa's engine, told AUTOCOMMIT per connection, sets the
    connection's isolation level on every checkout and back on every checkin
    (11% of a process's busy samples, README "Assistant at scale")."""
    if engine.dialect.name != "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    # no transaction to roll back when a connection goes back to the pool
    return sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                            **create_engine_kwargs(engine.url))


class CachedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: sender -> (the session's rows' JSON, highest event id stored, tracker handed
        #: out, how many of its events are stored), or NEW_CONVERSATION
        self._cache: "OrderedDict[str, Tuple[List[str], int, Optional[DialogueStateTracker], int]]" = OrderedDict()
        self._autocommit = _autocommit_engine(self.engine)

    def _last_id(self, sender_id: str) -> int:
        # autocommit: one round trip, no BEGIN / ROLLBACK around it
        table = self.SQLEvent.__table__
        with self._autocommit.connect() as connection:
            return int(connection.execute(
                sa.select(sa.func.max(table.c.id)).where(table.c.sender_id == sender_id)).scalar() or 0)

    def _insert(self, sender_id: str, rows: List[Dict[str, Any]]) -> int:
        """Store ``rows``; the conversation's highest event id after."""
        table = self.SQLEvent.__table__
        if self.engine.dialect.name == "postgresql":  # one statement, autocommitted: one round trip
            with self._autocommit.connect() as connection:
                ids = connection.execute(sa.insert(table).values(rows).returning(table.c.id)).scalars().all()
            return int(max(ids))
        with self.engine.begin() as connection:  # SQLite (no RETURNING in SQLAlchemy 1.4): one transaction
            connection.execute(sa.insert(table), rows)
            return int(connection.execute(
                sa.select(sa.func.max(table.c.id)).where(table.c.sender_id == sender_id)).scalar() or 0)

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

    def _remember(self, sender_id: str, events: List[str], last_id: int,
                  tracker: Optional[DialogueStateTracker], stored: int) -> None:
        self._cache[sender_id] = (events, last_id, tracker, stored)
        self._cache.move_to_end(sender_id)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        cached = self._cache.pop(sender_id, None)
        last_id = await asyncio.to_thread(self._last_id, sender_id)
        if cached is not None and cached[1] == last_id:
            events = cached[0]
        else:  # what Rasa's store reads: the latest session's rows, in order
            events = await asyncio.to_thread(self._session_rows, sender_id)
        if not events or not self.domain:
            if last_id == 0:  # a new conversation: its first saves are all new rows
                self._remember(sender_id, *NEW_CONVERSATION)
            return None
        # decoded afresh each turn: events keep (and Rasa may change) the dicts they are built from
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(e) for e in events], self.domain.slots)
        self._remember(sender_id, events, last_id, tracker, len(events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        cached = self._cache.pop(sender_id, None)
        if cached is None or (cached[2] is not tracker and cached != NEW_CONVERSATION):
            # not a tracker this store handed out (the HTTP API): Rasa's way
            await asyncio.to_thread(self._save_rasa_way, tracker)
            return
        events, last_id, _, stored = cached
        new_events = list(itertools.islice(tracker.events, stored, None))
        rows = [{"sender_id": sender_id, **_columns(event)} for event in new_events]
        if rows:
            last_id = await asyncio.to_thread(self._insert, sender_id, rows)
        events = events + [row["data"] for row in rows]
        if any(isinstance(event, SessionStarted) for event in new_events):
            events = latest_session(events)
        # the same tracker may be saved again in this turn: its events after these are new then
        self._remember(sender_id, events, last_id, tracker, len(tracker.events))


def latest_session(events: List[str]) -> List[str]:
    """The rows (JSON) Rasa's store reads back of a conversation: those at or
    after the latest ``session_started`` timestamp, every row if there is none
    (``SQLTrackerStore._event_query``: a row without a timestamp is never
    "at or after")."""
    decoded = [json.loads(event) for event in events]
    starts = [d["timestamp"] for d in decoded if d.get("event") == SessionStarted.type_name
              and d.get("timestamp") is not None]
    if not starts:
        return events
    since = max(starts)
    return [event for event, d in zip(events, decoded) if d.get("timestamp") is not None and d["timestamp"] >= since]
