"""What a bot turn waits for, kept short: the assistant is asked before the
shopper's message is written, and a small batch of messages (a lone message,
a turn's replies) is one statement that may be sent again (PostgreSQL)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from handoff.message_writes import SMALL_BATCH
from handoff.storage import MessageRecord, Storage, migrate

from .helpers import shopper


async def test_the_assistant_is_asked_before_the_message_is_written(make_gateway, monkeypatch) -> None:
    """The request to Rasa (the turn's long wait) goes out first; the shopper's
    message is committed meanwhile and acknowledged with the bot's typing on;
    the replies are stored, then shown after the typing off."""
    gw = await make_gateway()
    core = gw.gateway.core
    log: List[str] = []

    async def send(sender: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        log.append("rasa asked")
        await asyncio.sleep(0.05)
        return [{"text": f"you said {text}"}]

    insert = core.storage._insert_messages

    async def insert_messages(batch: List[MessageRecord]) -> Any:
        log.append("write " + ",".join(m.sender for m in batch))
        return await insert(batch)

    monkeypatch.setattr(core.rasa, "send", send)
    monkeypatch.setattr(core.storage, "_insert_messages", insert_messages)
    s = await shopper(gw)
    await s.send(type="message", text="hello", client_id="m1")
    seen = len(s.received)
    reply = await s.expect("message", sender="bot")
    assert reply["text"] == "you said hello"
    assert [(f["type"], f.get("sender", f.get("on"))) for f in s.received[seen:]] == [
        ("message", "shopper"), ("typing", True), ("typing", False), ("message", "bot")]
    assert log == ["rasa asked", "write shopper", "write bot"]


async def test_a_small_batch_sent_again_is_stored_once(fresh_pg) -> None:
    """On PostgreSQL a batch of up to SMALL_BATCH messages is one INSERT that
    may be sent again (a connection lost before its answer came): what an
    earlier attempt stored is not stored twice, and counts as new, with or
    without a client id."""
    migrate(fresh_pg)
    storage = Storage(fresh_pg)
    try:
        await storage.create_conversation("c1", "shopper", "chat")
        lone = MessageRecord("c1", "shopper", "lone", client_id="k1")
        replies = [MessageRecord("c1", "bot", f"reply {i}") for i in range(SMALL_BATCH)]
        assert await storage.add_message(lone) == (lone, True)
        assert await storage.submit_messages(replies) == [(r, True) for r in replies]
        # the retry of an attempt whose answer was lost: the same records again
        assert await storage._insert_messages([lone]) == [(lone, True)]
        assert await storage._insert_messages(replies) == [(r, True) for r in replies]
        history = await storage.history("c1")
        assert [m.id for m in history] == [lone.id] + [r.id for r in replies]
        # a resend by the shopper (a new record, the same client id) is still the earlier message
        again, new = await storage.add_message(MessageRecord("c1", "shopper", "lone", client_id="k1"))
        assert (again.id, new) == (lone.id, False)
    finally:
        await storage.close()


async def test_a_lone_message_survives_postgresql_dropping_the_writer(fresh_pg) -> None:
    """The lone message (the small-batch INSERT) on a connection the server
    ended while idle: written once more on a new one, no error, stored once."""
    from sqlalchemy import create_engine, text

    migrate(fresh_pg)
    storage = Storage(fresh_pg)
    admin = create_engine(fresh_pg, future=True)
    try:
        await storage.create_conversation("c1", "shopper", "chat")
        await storage.add_message(MessageRecord("c1", "shopper", "before"))
        with admin.connect() as connection:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))
        record, new = await storage.add_message(MessageRecord("c1", "bot", "after"))
        assert new
        assert [m.text for m in await storage.history("c1")] == ["before", "after"]
    finally:
        admin.dispose()
        await storage.close()
