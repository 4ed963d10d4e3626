"""bot/rasa_store.py reads back what Rasa's own SQL store reads, turn after turn.

Random conversations are played as Rasa plays them (retrieve, or create and
save at once when there is none; new events; save, sometimes twice; now and
then a new session), and before every turn the tracker the cached store hands
out must hold the same events as Rasa's ``SQLTrackerStore`` reading the same
table. On SQLite and PostgreSQL (the cached store writes differently on each).
"""
from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from bot import paths, rasa_speedups, rasa_store
from bot.rasa_store import CachedSQLTrackerStore, Chunk, latest_session

DOMAIN = Domain.load(str(paths.ROOT / "domain.yml"))


def _store_args(url: str) -> Dict[str, Any]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"dialect": "sqlite", "db": parsed.database}
    return {"dialect": "postgresql", "host": parsed.host or "127.0.0.1", "port": parsed.port,
            "db": parsed.database, "username": parsed.username}


def _events(tracker: DialogueStateTracker) -> List[Any]:
    """Each event as it serialises and every attribute it holds."""
    return [(event.as_dict(), type(event), vars(event)) for event in tracker.events]


def _turn(rng: random.Random, clock: List[float]) -> List[Event]:
    def at() -> float:
        clock[0] += rng.choice([0.001, 0.5, 3.0])
        return clock[0]

    events: List[Event] = []
    if rng.random() < 0.15:  # the session expired: Rasa's session start
        events += [ActionExecuted("action_session_start", timestamp=at()), SessionStarted(timestamp=at())]
        if rng.random() < 0.5:
            events.append(SlotSet("role", "shopper", timestamp=at()))
        events.append(ActionExecuted("action_listen", timestamp=at()))
    events.append(UserUttered(rng.choice(["hi", "where is my order", "thanks"]), timestamp=at()))
    if rng.random() < 0.3:
        events.append(SlotSet("order_id", f"KH-{rng.randint(1000, 9999)}", timestamp=at()))
    events += [ActionExecuted("utter_greet", timestamp=at()), BotUttered("hello", timestamp=at()),
               ActionExecuted("action_listen", timestamp=at())]
    return events


async def _play(url: str, seed: int) -> int:
    ours = CachedSQLTrackerStore(DOMAIN, **_store_args(url))
    rasas = SQLTrackerStore(DOMAIN, **_store_args(url))
    rng = random.Random(seed)
    clock = [1_700_000_000.0]
    compared = 0
    for conversation in range(6):
        sender = f"c{seed}-{conversation}"
        for _ in range(rng.randint(1, 8)):
            tracker = await ours.retrieve(sender)
            expected = await rasas.retrieve(sender)
            if expected is None:
                assert tracker is None
                tracker = await ours.create_tracker(sender)  # Rasa saves a new tracker at once
            else:
                assert tracker is not None
                assert _events(tracker) == _events(expected)
                compared += 1
            for event in _turn(rng, clock):
                tracker.update(event)
                if rng.random() < 0.2:  # Rasa saves again within a turn (e.g. before an action)
                    await ours.save(tracker)
            await ours.save(tracker)
        final = await rasas.retrieve(sender)
        cached = await ours.retrieve(sender)
        assert final is not None and cached is not None
        assert _events(cached) == _events(final)
    return compared


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_cached_store_reads_back_what_rasas_store_reads(database: str, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}" if database == "sqlite" else request.getfixturevalue("pg_url")
    compared = sum(asyncio.run(_play(url, seed)) for seed in range(4))
    assert compared > 40


def test_latest_session_keeps_the_rows_at_or_after_the_last_session_start() -> None:
    rows = [json.dumps(event.as_dict()) for event in [
        ActionExecuted("action_listen", timestamp=1.0),
        SessionStarted(timestamp=2.0),
        UserUttered("hi", timestamp=3.0),
        ActionExecuted("action_session_start", timestamp=4.0),
        SessionStarted(timestamp=5.0),
        BotUttered("same instant", timestamp=5.0),
        UserUttered("later", timestamp=6.0),
    ]]
    chunks = (Chunk.of_rows(rows[:2]), Chunk.of_rows(rows[2:5]), Chunk.of_rows(rows[5:]))
    kept = [event for chunk in latest_session(chunks) for event in chunk.events]
    assert [(type(event).__name__, event.timestamp) for event in kept] == [
        ("SessionStarted", 5.0), ("BotUttered", 5.0), ("UserUttered", 6.0)]
    no_start = (Chunk.of_rows(rows[:1] + rows[2:3]),)
    assert latest_session(no_start) == no_start


def test_the_next_turn_goes_on_from_the_last_turns_replay(tmp_path: Path) -> None:
    """The policies' replay of a conversation into states is handed on with
    its events: the next turn's tracker extends it (the same replay, covering
    the tracker's own event objects) and gets the states a fresh replay gets."""
    rasa_speedups.install()
    store = CachedSQLTrackerStore(DOMAIN, **_store_args(f"sqlite:///{tmp_path / 'tracker.db'}"))
    rng, clock = random.Random(7), [1_700_000_000.0]

    async def play() -> int:
        tracker = await store.create_tracker("s")
        went_on = 0
        for _ in range(8):
            for event in _turn(rng, clock):
                tracker.update(event)
                DOMAIN.states_for_tracker_history(tracker)
            await store.save(tracker)
            tracker = await store.retrieve("s")
            assert tracker is not None
            replay = tracker.__dict__.get("_kara_replays", {}).get(False)
            if replay is None:  # a new session: the replay starts again
                continue
            assert all(old is new for old, new in zip(replay.applied, tracker.applied_events()))
            held = {id(event) for event in tracker.events}  # the last turn's own events are not kept alive
            assert all(id(event) in held for event in replay.tracker.events)
            fresh = DialogueStateTracker.from_events("s", list(tracker.events), DOMAIN.slots)
            assert DOMAIN.states_for_tracker_history(tracker) == DOMAIN.states_for_tracker_history(fresh)
            assert tracker.__dict__["_kara_replays"][False] is replay  # extended, not replayed again
            went_on += 1
        return went_on

    assert asyncio.run(play()) >= 5


def test_a_full_cache_forgets_the_least_recent_conversations(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound on cached events the least recently used conversations
    are forgotten, and read back from their rows as Rasa's store reads them."""
    monkeypatch.setattr(rasa_store, "MAX_CACHED_EVENTS", 25)
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    ours, rasas = CachedSQLTrackerStore(DOMAIN, **_store_args(url)), SQLTrackerStore(DOMAIN, **_store_args(url))
    rng, clock = random.Random(11), [1_700_000_000.0]

    async def play() -> None:
        for turn in range(3):
            for sender in ("a", "b", "c"):
                tracker = await ours.retrieve(sender) if turn else await ours.create_tracker(sender)
                assert tracker is not None
                if turn:
                    expected = await rasas.retrieve(sender)
                    assert expected is not None and _events(tracker) == _events(expected)
                for event in _turn(rng, clock):
                    tracker.update(event)
                await ours.save(tracker)
                held = [entry.size for entry in ours._cache.values()]
                assert sum(held) <= 25 or len(held) == 1
        assert "a" not in ours._cache  # the least recent went first

    asyncio.run(play())


def test_on_sqlite_one_process_saves_a_turn_while_another_reads(tmp_path: Path) -> None:
    """Two Rasa processes on the embedded default share ``tracker.db``: one
    saving a turn while the other is in the middle of reading does not wait
    for it (SQLite in WAL mode, as the gateway's database), and the reader
    sees the new turn in its next read."""
    import sqlite3
    import time

    path = tmp_path / "tracker.db"
    store = CachedSQLTrackerStore(DOMAIN, **_store_args(f"sqlite:///{path}"))
    rng, clock = random.Random(3), [1_700_000_000.0]

    async def turn(tracker: DialogueStateTracker) -> float:
        for event in _turn(rng, clock):
            tracker.update(event)
        started = time.monotonic()
        await store.save(tracker)
        return time.monotonic() - started

    async def play() -> None:
        tracker = await store.create_tracker("s")
        await turn(tracker)
        reader = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        reader.execute("BEGIN")
        before = reader.execute("SELECT count(*) FROM events").fetchone()[0]
        took = await turn(tracker)  # with Rasa's default journal: "database is locked"
        assert took < 1.0
        assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == before  # its snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == len(tracker.events)
        reader.close()

    asyncio.run(play())


def test_on_sqlite_turns_reuse_the_open_database(tmp_path: Path) -> None:
    """The embedded default keeps ``tracker.db`` open from turn to turn: each
    statement used to open the file, set its pragmas and, closing it, fold
    the WAL back into the file. What a turn saves is on disk for another
    process all the same (Rasa's own store, reading the file)."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = CachedSQLTrackerStore(DOMAIN, **_store_args(url))
    opened: List[object] = []
    for engine in (store.engine, store._autocommit):  # Rasa's statements; the per-turn ones
        sa.event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
    rng, clock = random.Random(5), [1_700_000_000.0]

    async def play() -> DialogueStateTracker:
        tracker = await store.create_tracker("s")
        for _ in range(20):
            tracker = await store.retrieve("s")
            assert tracker is not None
            for event in _turn(rng, clock):
                tracker.update(event)
            await store.save(tracker)
        return tracker

    tracker = asyncio.run(play())
    assert len(opened) <= 2, f"{len(opened)} connections opened for 20 turns"
    rasas = SQLTrackerStore(DOMAIN, **_store_args(url))
    assert _events(asyncio.run(rasas.retrieve("s"))) == _events(tracker)
    assert (tmp_path / "tracker.db-wal").exists()  # the WAL stays while the store is up


def test_a_dropped_database_connection_costs_no_turn(pg_url: str) -> None:
    """The look-up made at the start of every turn runs on a connection the
    store holds, which the server may have dropped meanwhile (a restart, an
    idle timeout): it is made once more on a new one, and the conversation
    goes on."""
    rasa_speedups.install()
    store = CachedSQLTrackerStore(DOMAIN, **_store_args(pg_url))
    rng, clock = random.Random(3), [1_700_000_000.0]
    database = make_url(pg_url).database
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")

    async def play() -> None:
        assert await store.retrieve("s") is None  # as Rasa starts a conversation: looked for, then created
        tracker = await store.create_tracker("s")
        for event in _turn(rng, clock):
            tracker.update(event)
        await store.save(tracker)
        expected = _events(tracker)
        with admin.connect() as connection:  # every other connection to the database ends
            ended = connection.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).scalar()
        assert ended >= 1
        again = await store.retrieve("s")
        assert again is not None and _events(again) == expected

    try:
        asyncio.run(play())
    finally:
        admin.dispose()
