"""SQL storage on SQLite and PostgreSQL: migrations, messages, handoffs."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from handoff.contract import Handoff
from handoff.desk.search import not_compared
from handoff.models import metadata
from handoff.message_writes import SMALL_BATCH
from handoff.storage import MessageRecord, Storage, make_engine, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gw.db'}"
    return request.getfixturevalue("fresh_pg")


async def test_migrations_match_the_models(db_url) -> None:
    migrate(db_url)
    migrate(db_url)  # idempotent
    storage = Storage(db_url)
    try:
        with make_engine(db_url).connect() as connection:
            # the search index (FTS5 tables, an expression index) is the migration's alone
            context = MigrationContext.configure(connection, opts={"include_name": not_compared})
            assert compare_metadata(context, metadata) == []
            tables = set(inspect(connection).get_table_names())
        assert {"agents", "conversations", "messages", "handoffs", "tickets", "pages"} <= tables
    finally:
        await storage.close()


async def test_messages_handoffs_and_agents(db_url) -> None:
    migrate(db_url)
    storage = Storage(db_url)
    try:
        await storage.create_conversation("c1", "shopper", "chat")
        await storage.create_conversation("c2", "provider", "emergency")
        # many concurrent writes: grouped, all kept, in order
        records = [MessageRecord("c1", "shopper", f"m{i}") for i in range(50)]
        results = await asyncio.gather(*(storage.add_message(r) for r in records))
        assert all(new for _, new in results)
        history = await storage.history("c1")
        assert [m.text for m in history] == [f"m{i}" for i in range(50)]
        assert history[0].created_at.tzinfo is not None
        assert [m.text for m in await storage.history("c1", limit=3)] == ["m47", "m48", "m49"]
        assert await storage.history("c2") == []
        # resends with the same client_id are stored once
        first, new = await storage.add_message(MessageRecord("c2", "shopper", "hello", client_id="k1"))
        again, new_again = await storage.add_message(MessageRecord("c2", "shopper", "hello", client_id="k1"))
        assert new and not new_again and again.id == first.id
        both = await asyncio.gather(storage.add_message(MessageRecord("c2", "shopper", "x", client_id="k2")),
                                    storage.add_message(MessageRecord("c2", "shopper", "x", client_id="k2")))
        assert [n for _, n in both] == [True, False]
        assert len(await storage.history("c2")) == 2
        # bot extras survive
        buttons = {"buttons": [{"title": "A", "payload": "/a"}]}
        await storage.add_message(MessageRecord("c2", "bot", "pick", extra=buttons))
        assert (await storage.history("c2"))[-1].extra == {"buttons": [{"title": "A", "payload": "/a"}]}

        agent = await storage.create_agent("amaka", "Amaka", "$argon2id$fake")
        assert (await storage.agent_by_username("amaka")).id == agent.id
        assert (await storage.agent(agent.id)).name == "Amaka"
        h = await storage.open_handoff("c2", Handoff("emergency", "provider_emergency", "urgent", {"role": "provider"}))
        await storage.claim_handoff(h.id, agent.id)
        await storage.end_handoff(h.id, "closed")
        await storage.rate_handoff(h.id, 4, "ok")
        got = await storage.handoff(h.id)
        assert (got.queue, got.agent_id, got.outcome, got.rating, got.context) == (
            "emergency", agent.id, "closed", 4, {"role": "provider"})
        assert got.enqueued_at <= got.claimed_at <= got.closed_at
        assert got.closed_at - got.enqueued_at < dt.timedelta(seconds=30)
        assert await storage.add_ticket("c2", h.id, "a@b.co", "call me") > 0
        assert await storage.add_page("c2", h.id, None, "no_webhook") > 0
        # a message of an unknown conversation is refused, and does not sink others
        with pytest.raises(Exception):  # noqa: B017 (the foreign key: the driver's error on COPY, DBAPIError else)
            await storage.add_message(MessageRecord("nope", "shopper", "x"))
        await storage.add_message(MessageRecord("c1", "shopper", "after"))
        assert (await storage.history("c1"))[-1].text == "after"
    finally:
        await storage.close()


async def test_any_text_round_trips(db_url) -> None:
    """What the database keeps is exactly what was sent: tabs, newlines,
    backslashes, a literal \\N, quotes, SQL and emoji (PostgreSQL's COPY text
    format escapes some of them)."""
    migrate(db_url)
    storage = Storage(db_url)
    texts = ["tab\there", "two\nlines\r\n", "back\\slash \\N \\t", "\\N", "'; DROP TABLE messages; --",
             'quote " and \\" ', "Ẹ káàbọ̀ 👋🏾", " leading and trailing "]
    try:
        await storage.create_conversation("c1", "shopper", "chat")
        records = [MessageRecord("c1", "shopper", text, client_id=f"k\t{i}\\") for i, text in enumerate(texts)]
        records.append(MessageRecord("c1", "agent", "done", agent_name="Ada\tObi\\", extra={"note": "a\\b\n\"c\"\t"}))
        await asyncio.gather(*(storage.add_message(r) for r in records))
        history = await storage.history("c1")
        assert [m.text for m in history] == texts + ["done"]
        assert [m.client_id for m in history][:2] == ["k\t0\\", "k\t1\\"]
        assert (history[-1].agent_name, history[-1].extra) == ("Ada\tObi\\", {"note": "a\\b\n\"c\"\t"})
        # a resend is found by its client id, escapes and all
        again, new = await storage.add_message(MessageRecord("c1", "shopper", texts[0], client_id="k\t0\\"))
        assert not new and again.id == history[0].id
    finally:
        await storage.close()


def test_processes_migrating_at_once_on_postgresql(fresh_pg) -> None:
    """Gateways started together all migrate at start: the advisory lock serialises them."""
    import os
    import subprocess

    from .helpers import PYTHON, REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([PYTHON, "-m", "handoff", "migrate", "--db-url", fresh_pg], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, text

    engine = create_engine(fresh_pg)
    with engine.connect() as connection:
        head = ScriptDirectory(str(REPO / "handoff" / "migrations")).get_current_head()
        assert connection.execute(text("select version_num from alembic_version")).scalar() == head
    engine.dispose()


async def test_a_message_an_earlier_attempt_stored_is_stored_once_and_new(fresh_pg) -> None:
    """PostgreSQL: a write sent again after its answer was lost (the same
    messages, same ids) stores nothing twice and answers each message as new,
    with or without a client_id, alone or beside a resend and a new message."""
    migrate(fresh_pg)
    storage = Storage(fresh_pg)
    try:
        await storage.create_conversation("c1", "shopper", "chat")
        plain, keyed = MessageRecord("c1", "shopper", "plain"), MessageRecord("c1", "shopper", "keyed", client_id="k")
        first = await storage.submit_messages([plain, keyed])
        again = await storage.submit_messages([plain, keyed])  # what _insert_messages retries
        assert [(m.id, new) for m, new in first] == [(m.id, new) for m, new in again] == [(plain.id, True),
                                                                                          (keyed.id, True)]
        resend, fresh = MessageRecord("c1", "shopper", "keyed", client_id="k"), MessageRecord("c1", "shopper", "more")
        mixed = await storage.submit_messages([keyed, resend, fresh])
        assert [(m.id, new) for m, new in mixed] == [(keyed.id, True), (keyed.id, False), (fresh.id, True)]
        twice = await storage.submit_messages([MessageRecord("c1", "shopper", "keyed", client_id="k"),
                                               MessageRecord("c1", "shopper", "keyed", client_id="k")])
        assert [(m.id, new) for m, new in twice] == [(keyed.id, False), (keyed.id, False)]  # both the stored one
        assert [m.text for m in await storage.history("c1")] == ["plain", "keyed", "more"]
    finally:
        await storage.close()


@pytest.mark.parametrize("size", [2, SMALL_BATCH + 2], ids=["small batch", "burst"])
async def test_a_client_id_twice_in_one_batch_answers_the_second_as_the_first(db_url, size: int) -> None:
    """A client_id twice in one batch (on PostgreSQL a small batch is its
    INSERT, a burst its COPY) is stored once, and the second answers with
    what the first resolved to, not new: the earlier stored message when the
    first is a resend, the first when it is new or this very message, stored
    by an attempt whose answer was lost."""
    migrate(db_url)
    storage = Storage(db_url)

    def batch(first: MessageRecord, second: MessageRecord, name: str) -> list:
        return [first] + [MessageRecord("c1", "shopper", f"{name} {i}") for i in range(size - 2)] + [second]

    try:
        await storage.create_conversation("c1", "shopper", "chat")
        [(stored, _)] = await storage.submit_messages([MessageRecord("c1", "shopper", "hi", client_id="k")])
        resends = batch(MessageRecord("c1", "shopper", "hi", client_id="k"),
                        MessageRecord("c1", "shopper", "hi", client_id="k"), "a")
        news = batch(MessageRecord("c1", "shopper", "new", client_id="n"),
                     MessageRecord("c1", "shopper", "new", client_id="n"), "b")
        retried = batch(stored, stored, "c")
        got = [await storage.submit_messages(messages) for messages in (resends, news, retried)]
        assert [[(m.id, m.text, new) for m, new in results] for results in got] == [
            [(stored.id, "hi", False)] + [(m.id, m.text, True) for m in resends[1:-1]] + [(stored.id, "hi", False)],
            [(news[0].id, "new", True)] + [(m.id, m.text, True) for m in news[1:-1]] + [(news[0].id, "new", False)],
            [(stored.id, "hi", True)] + [(m.id, m.text, True) for m in retried[1:-1]] + [(stored.id, "hi", False)],
        ]
        history = await storage.history("c1")
        assert [m.id for m in history] == [stored.id] + [m.id for m in resends[1:-1] + news[:-1] + retried[1:-1]]
    finally:
        await storage.close()


@pytest.mark.parametrize("size", [1, SMALL_BATCH + 2], ids=["small batch", "burst"])
async def test_two_gateways_storing_the_same_resend_at_once_store_it_once(fresh_pg, size: int) -> None:
    """Two gateway processes (two writers) get the same client ids at the same
    moment (a shopper's resend after a reconnect landed on the other one while
    the first attempt was still being written): each is stored once, one
    writer answers it as new, the other with that same stored message."""
    migrate(fresh_pg)
    one, two = Storage(fresh_pg), Storage(fresh_pg)
    try:
        await one.create_conversation("c1", "shopper", "chat")
        def burst(attempt: int) -> list:
            return [MessageRecord("c1", "shopper", f"m{attempt}.{i}", client_id=f"k{attempt}.{i}") for i in range(size)]

        for attempt in range(10):
            a, b = await asyncio.gather(one.submit_messages(burst(attempt)), two.submit_messages(burst(attempt)))
            for (first, first_new), (second, second_new) in zip(a, b):
                assert first.id == second.id and {first_new, second_new} == {True, False}
        history = await one.history("c1", limit=1000)
        assert sorted(m.client_id for m in history) == sorted(f"k{a}.{i}" for a in range(10) for i in range(size))
    finally:
        await one.close()
        await two.close()


async def test_messages_stored_twice_before_unique_client_ids_are_all_kept(db_url) -> None:
    """A resend stored twice by two gateways before client ids were unique
    (migration 0007): the migration keeps every row, in order; the first of
    them keeps its client id, so a later resend still finds it."""
    from sqlalchemy import create_engine, text

    migrate(db_url, "0006")
    admin = create_engine(db_url, future=True)
    try:
        with admin.begin() as connection:
            connection.execute(text("INSERT INTO conversations (id, role, line, created_at) "
                                    "VALUES ('c1', 'shopper', 'chat', CURRENT_TIMESTAMP)"))
            for n, (mid, client_id) in enumerate([("a", "k"), ("b", "k"), ("c", None), ("d", "k"), ("e", "j")]):
                connection.execute(text("INSERT INTO messages (id, conversation_id, sender, text, client_id, "
                                        "created_at) VALUES (:id, 'c1', 'shopper', :text, :client_id, "
                                        "CURRENT_TIMESTAMP)"),
                                   {"id": mid, "text": f"text {n}", "client_id": client_id})
        migrate(db_url)
    finally:
        admin.dispose()
    storage = Storage(db_url)
    try:
        history = await storage.history("c1")
        assert [(m.id, m.text, m.client_id) for m in history] == [
            ("a", "text 0", "k"), ("b", "text 1", None), ("c", "text 2", None), ("d", "text 3", None),
            ("e", "text 4", "j")]
        again, new = await storage.add_message(MessageRecord("c1", "shopper", "text 0", client_id="k"))
        assert (again.id, new) == ("a", False)
    finally:
        await storage.close()


async def test_a_bursts_client_id_look_up_reads_no_more_of_the_chat_as_it_grows(fresh_pg) -> None:
    """PostgreSQL: the writer looks up a resent burst's client ids many times
    while the chat is short, then the chat grows to 20,000 messages (the table
    not analyzed, as before autovacuum comes round): a resent burst's look-up
    still reads only the rows of its own client ids, not every message of the
    chat."""
    from sqlalchemy import create_engine, text

    migrate(fresh_pg)
    storage = Storage(fresh_pg)
    admin = create_engine(fresh_pg, future=True)

    def rows_read() -> int:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(connection.execute(text(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables "
                "WHERE relname = 'messages'")).scalar())

    async def rows_read_by_now() -> int:
        # A backend reports its reads when a transaction ends a second or more after its last
        # report (else up to 10 s later, once idle): a second, then one more write, then read them.
        await asyncio.sleep(1.1)
        await storage.add_message(MessageRecord("c1", "bot", "x"))
        return rows_read()

    def burst(n: int) -> list:
        return [MessageRecord("c1", "shopper", "x", client_id=f"b{n}-{i}") for i in range(SMALL_BATCH + 2)]

    try:
        await storage.create_conversation("c1", "shopper", "chat")
        for n in range(20):  # the chat short: each burst, then its resend (looked up)
            await storage.submit_messages(burst(n))
            await storage.submit_messages(burst(n))
        with admin.begin() as connection:
            connection.execute(text(
                "INSERT INTO messages (id, conversation_id, sender, text, client_id, created_at) "
                "SELECT md5(g::text), 'c1', 'shopper', 'x', 'g' || g, now() FROM generate_series(1, 20000) g"))
        before = await rows_read_by_now()
        results = [await storage.submit_messages(burst(100 + n)) for n in range(5)]
        resent = [await storage.submit_messages(burst(100 + n)) for n in range(5)]  # found again, one row each
        assert all(new for stored in results for _, new in stored)
        assert not any(new for stored in resent for _, new in stored)
        assert 5 * len(burst(0)) <= await rows_read_by_now() - before < 100  # a scan would read 20,000 a burst
    finally:
        admin.dispose()
        await storage.close()


@pytest.mark.parametrize("following", [1, 5], ids=["lone message", "burst"])
async def test_messages_survive_postgresql_dropping_idle_connections(fresh_pg, following: int) -> None:
    """PostgreSQL ends every connection of the gateway (a restart, an idle
    timeout, an administrator): the next messages (a lone one: the small-batch
    INSERT; a burst) are stored all the same, with no error for their
    senders, and nothing is stored twice."""
    from sqlalchemy import create_engine, text

    migrate(fresh_pg)
    storage = Storage(fresh_pg)
    admin = create_engine(fresh_pg, future=True)
    try:
        await storage.create_conversation("c1", "shopper", "chat")
        await storage.add_message(MessageRecord("c1", "shopper", "before", client_id="b"))
        assert await storage.find_message("c1", "a") is None  # the reads' connection, open and idle

        with admin.connect() as connection:
            ended = connection.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalar()
        assert ended >= 1  # at least the message writer's connection

        results = await asyncio.gather(*(storage.add_message(MessageRecord("c1", "shopper", f"after {i}"))
                                         for i in range(following)))
        assert all(new for _, new in results)
        assert await storage.conversation("c1") is not None  # the other connections come back too
        assert (await storage.find_message("c1", "b")).text == "before"  # type: ignore[union-attr]
        assert [m.text for m in await storage.history("c1")] == ["before"] + [f"after {i}" for i in range(following)]
    finally:
        admin.dispose()
        await storage.close()
