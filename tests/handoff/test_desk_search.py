"""Search across transcripts (SQLite FTS5 / PostgreSQL full-text search), a
conversation's transcript for agents, and the shopper's past conversations, on
a real gateway; retention takes the words out of the index too."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Dict, List

import pytest
from sqlalchemy import text

from handoff.contract import Handoff
from handoff.desk.search import PG_VECTOR
from handoff.ops import db, retention
from handoff.storage import MessageRecord, Storage, migrate

from .helpers import Client, handed_off, shopper
from .test_desk import call, desk

WORD = "zanzibarite"  # a word nobody else writes: the index probe


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'search.db'}"
    return str(request.getfixturevalue("fresh_pg"))


async def seed(url: str) -> None:
    """c1 and c3: one shopper (the same verified order); c4 names that order
    unverified; c2 and c5: one ticket email; c6 is someone else."""
    migrate(url)
    storage = Storage(url)
    day = dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc)
    chats: Dict[str, List[str]] = {
        "c1": ["My refund for KH-204518 has not arrived", "Refunds take a while, sorry"],
        "c2": ["Wetin happen to my refund abeg", f"I bought {WORD} powder"],
        "c3": ["Where is my order KH 204518?"],
        "c4": ["is KH-204518 mine?"],
        "c5": ["Leaving a message"],
        "c6": ["Pharmacy opening hours please"],
    }
    contexts = {"c1": {"order_number": "KH-204518", "order_verified": True},
                "c3": {"order_number": "kh 204518", "order_verified": True},
                "c4": {"order_number": "KH-204518", "order_verified": False}}
    try:
        for n, (cid, texts) in enumerate(chats.items()):
            await storage.create_conversation(cid, "shopper", "chat")
            for i, body in enumerate(texts):
                sender = "shopper" if i % 2 == 0 else "agent"
                when = day + dt.timedelta(hours=n, minutes=i)
                await storage.add_message(MessageRecord(cid, sender, body, created_at=when))
            stint = await storage.open_handoff(cid, Handoff("general", "requested_human", "", contexts.get(cid, {})),
                                               at=day + dt.timedelta(hours=n))
            await storage.end_handoff(stint.id, "closed", at=day + dt.timedelta(hours=n, minutes=5))
        await storage.add_ticket("c2", None, "Ada@Example.com", "call me")
        await storage.add_ticket("c5", None, "ada@example.com ", "me again")
    finally:
        await storage.close()


async def test_search_finds_conversations_by_their_words(make_gateway, db_url) -> None:
    await seed(db_url)
    gw, _, tunde = await desk(make_gateway, db_url)

    async def found(q: str) -> List[str]:
        status, body = await call(gw, "/api/search?q=" + q, tunde)
        assert status == 200, body
        return [r["conversation_id"] for r in body["results"]]

    assert await found("refund") == ["c2", "c1"]  # newest first
    assert await found("REFU") == ["c2", "c1"]  # the last word is a prefix; case does not matter
    assert await found("refund%20arrived") == ["c1"]  # every word
    assert await found("wetin%20abeg") == ["c2"]
    assert await found("204518") == ["c4", "c3", "c1"]
    assert await found("nothing%20like%20this") == []
    status, body = await call(gw, "/api/search?q=my%20refund", tunde)
    first = body["results"][0]
    assert (first["conversation_id"], first["hits"], first["message"]["sender"]) == ("c2", 1, "shopper")
    assert first["message"]["excerpt"] == "Wetin happen to my refund abeg"
    assert (await call(gw, "/api/search?q=refund"))[0] == 401
    for bad in ("", "%20%21%21", "x" * 201):
        status, body = await call(gw, "/api/search?q=" + bad, tunde)
        assert status == 400 and body["error"].startswith("q:"), body
    assert (await call(gw, "/api/search?q=refund&limit=1", tunde))[1]["results"][0]["conversation_id"] == "c2"

    status, body = await call(gw, "/api/conversations/c1/transcript", tunde)
    assert status == 200
    assert [(m["sender"], m["text"]) for m in body["messages"]] == [
        ("shopper", "My refund for KH-204518 has not arrived"), ("agent", "Refunds take a while, sorry")]
    assert body["handoffs"][0]["outcome"] == "closed" and body["conversation"]["line"] == "chat"
    assert (await call(gw, "/api/conversations/zz/transcript", tunde))[0] == 404
    assert (await call(gw, "/api/conversations/c1/transcript"))[0] == 401


async def test_the_shoppers_past_conversations(make_gateway, db_url) -> None:
    await seed(db_url)
    gw, _, tunde = await desk(make_gateway, db_url)

    async def related(cid: str) -> Dict[str, str]:
        status, body = await call(gw, f"/api/conversations/{cid}/related", tunde)
        assert status == 200, body
        return {r["conversation_id"]: r["match"] for r in body["conversations"]}

    assert await related("c1") == {"c3": "verified order KH-204518"}  # c4's order was not verified
    assert await related("c3") == {"c1": "verified order KH-204518"}
    assert await related("c4") == {}
    assert await related("c2") == {"c5": "ticket email ada@example.com"}
    assert await related("c6") == {}
    assert (await call(gw, "/api/conversations/nope/related", tunde))[0] == 404


async def test_past_conversations_by_verified_contact_and_browser(make_gateway, db_url) -> None:
    """e1/e2 verified the same email, p1/p2 the same phone (each its own order);
    u1 names that email unverified; two widget chats share a browser id."""
    migrate(db_url)
    storage = Storage(db_url)
    orders = iter(range(204520, 204530))

    def verified(contact: str, yes: bool = True) -> Dict[str, object]:
        return {"order_number": f"KH-{next(orders)}", "order_verified": yes, "verified_contact": contact}

    try:
        for cid, context in (("e1", verified("ada@example.com")), ("e2", verified("ada@example.com")),
                             ("p1", verified("08037462283")), ("p2", verified("08037462283")),
                             ("u1", verified("ada@example.com", yes=False))):
            await storage.create_conversation(cid, "shopper", "chat")
            for _ in range(2):  # a requeue opens a stint with the same context: the key is kept once
                await storage.open_handoff(cid, Handoff("general", "requested_human", "", context))
    finally:
        await storage.close()
    gw, _, tunde = await desk(make_gateway, db_url)
    browser = "Kb7x-" + "q" * 20
    chats: List[Client] = [await handed_off(gw, browser=browser), await shopper(gw, browser=browser),
                           await shopper(gw, browser="another_browser_id_0001"), await shopper(gw)]
    first, second, other, plain = (c.received[0]["conversation_id"] for c in chats)

    async def reasons(cid: str) -> Dict[str, List[str]]:
        status, body = await call(gw, f"/api/conversations/{cid}/related", tunde)
        assert status == 200, body
        return {r["conversation_id"]: r["reasons"] for r in body["conversations"]}

    assert await reasons("e1") == {"e2": ["verified email ada@example.com"]}  # u1's contact was not verified
    assert await reasons("p2") == {"p1": ["verified phone 08037462283"]}
    assert await reasons("u1") == {}
    assert await reasons(first) == {second: ["same browser"]}
    assert await reasons(other) == {} and await reasons(plain) == {}
    bad = await Client.connect(gw.ws_url + "/ws/shopper")
    await bad.send(type="hello", v=1, browser="<script>", ref="h")
    error = await bad.expect("error", ref="h")
    assert (error["code"], error["field"]) == ("bad_value", "browser")


def _index_holds(url: str, word: str) -> bool:
    """Whether the search index itself still holds ``word``: SQLite's FTS5 segments, byte for byte."""
    engine = db.engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                blocks = connection.execute(text("SELECT block FROM messages_fts_data")).scalars().all()
                return any(word.encode() in bytes(b) for b in blocks if b is not None)
            query = f"SELECT count(*) FROM messages WHERE {PG_VECTOR} @@ to_tsquery('simple', :w)"
            return bool(connection.execute(text(query), {"w": word}).scalar_one())
    finally:
        engine.dispose()


async def test_retention_takes_the_words_out_of_the_index(make_gateway, db_url) -> None:
    await seed(db_url)
    gw, _, tunde = await desk(make_gateway, db_url)
    assert [r["conversation_id"] for r in (await call(gw, f"/api/search?q={WORD}", tunde))[1]["results"]] == ["c2"]
    assert _index_holds(db_url, WORD)
    engine = db.engine(db_url)
    try:
        done = retention.apply(engine, 30, now=dt.datetime(2027, 1, 15, tzinfo=dt.timezone.utc))
    finally:
        engine.dispose()
    assert len(done.conversation_ids) == 6
    assert (await call(gw, f"/api/search?q={WORD}", tunde))[1]["results"] == []
    assert (await call(gw, "/api/search?q=refund", tunde))[1]["results"] == []
    assert not _index_holds(db_url, WORD)
    assert (await call(gw, "/api/conversations/c1/related", tunde))[1]["conversations"] == []  # context blanked
    # new messages are found again after the merge
    storage = Storage(db_url)
    try:
        await storage.add_message(MessageRecord("c6", "shopper", f"more {WORD} please"))
    finally:
        await storage.close()
    assert [r["conversation_id"] for r in (await call(gw, f"/api/search?q={WORD}", tunde))[1]["results"]] == ["c6"]
