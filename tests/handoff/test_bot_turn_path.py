"""What a bot turn waits for, kept short: the assistant is asked before the
shopper's message is written, its replies are stored as they stream in (shown
once the answer has ended), and a small batch of messages (a lone message, a
turn's replies) is one statement that may be sent again (PostgreSQL)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from handoff.message_writes import SMALL_BATCH
from handoff.storage import MessageRecord, Storage, migrate

from .helpers import serving, shopper


async def test_the_assistant_is_asked_before_the_message_is_written(make_gateway, monkeypatch) -> None:
    """The request to Rasa (the turn's long wait) goes out first; the shopper's
    message is committed meanwhile and acknowledged with the bot's typing on;
    the replies are stored, then shown after the typing off."""
    gw = await make_gateway()
    core = gw.gateway.core
    log: List[str] = []

    async def send(sender: str, text: str, metadata: Dict[str, Any], each: Any) -> List[Dict[str, Any]]:
        log.append("rasa asked")
        await asyncio.sleep(0.05)
        replies = [{"text": f"you said {text}"}]
        for reply in replies:
            each(reply)
        return replies

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


async def test_replies_are_stored_while_the_assistant_finishes(make_gateway, monkeypatch) -> None:
    """Rasa's streamed replies are submitted to the group commit as they
    arrive: stored before Rasa's answer ends (Rasa still predicts and saves
    its tracker then), shown only once it has ended: typing off, then them."""
    gw = await make_gateway()
    core = gw.gateway.core
    stored_before_the_end: List[bool] = []

    async def send(sender: str, text: str, metadata: Dict[str, Any], each: Any) -> List[Dict[str, Any]]:
        replies = [{"text": "first"}, {"text": "second", "buttons": [{"title": "A", "payload": "/a"}]}]
        for reply in replies:
            each(reply)
        for _ in range(100):  # Rasa's turn goes on: the replies are written meanwhile
            if [m.text for m in await core.storage.history(sender) if m.sender == "bot"] == ["first", "second"]:
                stored_before_the_end.append(True)
                break
            await asyncio.sleep(0.01)
        assert not [f for f in s.received if f["type"] == "message" and f["sender"] == "bot"]  # not shown yet
        return replies

    monkeypatch.setattr(core.rasa, "send", send)
    s = await shopper(gw)
    await s.send(type="message", text="hello")
    seen = len(s.received)
    await s.expect("message", sender="bot", text="second")
    assert stored_before_the_end == [True]
    assert [(f["type"], f.get("text", f.get("on"))) for f in s.received[seen:]] == [
        ("message", "hello"), ("typing", True), ("typing", False), ("message", "first"), ("message", "second")]


async def test_an_answer_broken_off_shows_what_arrived(make_gateway, monkeypatch) -> None:
    """Rasa dropped the connection after one reply: that reply (stored) is
    shown, then the shopper is offered a person, as when Rasa does not answer."""
    from handoff.rasa_client import RasaUnavailable

    gw = await make_gateway()
    core = gw.gateway.core

    async def send(sender: str, text: str, metadata: Dict[str, Any], each: Any) -> List[Dict[str, Any]]:
        each({"text": "first"})
        await asyncio.sleep(0.05)
        raise RasaUnavailable("rasa did not answer /webhooks/rest/webhook: ClientPayloadError")

    monkeypatch.setattr(core.rasa, "send", send)
    s = await shopper(gw)
    await s.send(type="message", text="hello", ref="r1")
    seen = len(s.received)
    error = await s.expect("error", code="unavailable")
    assert error.get("ref") == "r1"
    assert [(f["type"], f.get("sender", f.get("on"))) for f in s.received[seen:]] == [
        ("message", "shopper"), ("typing", True), ("typing", False), ("message", "bot"), ("message", "system"),
        ("error", None)]
    cid = s.received[0]["conversation_id"]
    assert [m.sender for m in await core.storage.history(cid)] == ["shopper", "bot", "system"]


async def test_the_client_reads_a_streamed_answer_line_by_line() -> None:
    """``?stream=true``: each JSON line is handed over as soon as it is
    complete, wherever the chunks split it; the whole list is returned."""
    from aiohttp import web

    from handoff.rasa_client import RasaClient

    got: List[Dict[str, Any]] = []
    second_sent = asyncio.Event()
    first_seen = asyncio.Event()

    async def webhook(request: web.Request) -> web.StreamResponse:
        assert request.query.get("stream") == "true"
        body = await request.json()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'{"recipient_id": "%s", "text": "one"}\n{"text": "t' % body["sender"].encode())
        await asyncio.wait_for(first_seen.wait(), 5)  # the first reply is out before the answer ends
        await response.write(b'wo"}\n\n{"text": "three, no newline"}')
        second_sent.set()
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)

    def each(reply: Dict[str, Any]) -> None:
        got.append(reply)
        first_seen.set()
        if len(got) == 1:
            assert not second_sent.is_set()

    async with serving(app) as url:
        client = RasaClient(url)
        try:
            replies = await client.send("c1", "hi", {"role": "shopper"}, each)
        finally:
            await client.close()
    assert [r["text"] for r in replies] == ["one", "two", "three, no newline"]
    assert got == replies
