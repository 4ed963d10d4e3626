"""Handoff flows through a real gateway with real websocket clients.

Rasa is on a closed port here, so a shopper's ``/request_human`` makes the
gateway hand off by itself (the "assistant unavailable" path); the flows with
the real assistant are in ``test_with_rasa.py``. Each flow runs with the
in-memory live state and with real Redis.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import AsyncIterator, List, Tuple

import pytest
from aiohttp import web

from handoff.storage import Storage

from .helpers import Client, add_agent, agent, claimed_chat, handed_off, login, serving, shopper, wait_for


@contextlib.asynccontextmanager
async def page_receiver() -> AsyncIterator[Tuple[str, List[dict], asyncio.Event]]:
    """A local on-call pager webhook: (its URL, the pages it got, set on each)."""
    received: List[dict] = []
    got_page = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        got_page.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/page", receive)
    async with serving(app) as url:
        yield f"{url}/page", received, got_page


async def test_whole_handoff_flow(make_gateway, live, tmp_path) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "amaka", "Amaka")
    a = await agent(gw, "amaka")

    s = await shopper(gw)
    await s.send(type="message", text="Where is my order?", client_id="c1")
    echo = await s.expect("message", sender="shopper", client_id="c1")
    assert echo["text"] == "Where is my order?" and echo["id"] and echo["ts"].endswith("Z")
    error = await s.expect("error", code="unavailable")
    offer = await s.expect_message("assistant is unavailable", sender="system")
    assert offer["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]

    # the shopper takes the offered button: queued, position and wait shown
    await s.send(type="message", text=offer["buttons"][0]["payload"])
    await s.expect("state", state="waiting", queue="general")
    queue = await s.expect("queue")
    assert queue == {"type": "queue", "queue": "general", "position": 1, "estimated_wait_s": 180}

    # the online agent is told at once and sees the queue with waiting times
    ring = await a.expect("handoff")
    cid = ring["entry"]["conversation_id"]
    assert ring["entry"]["queue"] == "general" and ring["entry"]["reason"] == "assistant_unavailable"
    queues = await a.expect("queues", where=lambda f: bool(f["queues"]["general"]))
    assert [e["conversation_id"] for e in queues["queues"]["general"]] == [cid]
    assert queues["queues"]["general"][0]["waited_s"] >= 0

    await a.send(type="claim", conversation_id=cid, ref="r1")
    claimed = await a.expect("claimed", ref="r1")
    transcript = [(m["sender"], m["text"]) for m in claimed["chat"]["transcript"]]
    assert ("shopper", "Where is my order?") in transcript
    assert any(sender == "system" and "unavailable" in text for sender, text in transcript)
    assert ("system", "Amaka joined the chat.") == transcript[-1]
    assert claimed["chat"]["handoff"]["queue"] == "general"
    assert claimed["chat"]["claimed_at"].endswith("Z")
    assert (await s.expect("agent_joined"))["agent"] == {"name": "Amaka"}
    await s.expect("state", state="agent")

    # chat both ways, with typing indicators
    await a.send(type="typing", conversation_id=cid, on=True)
    assert (await s.expect("typing", who="agent"))["on"] is True
    await a.send(type="message", conversation_id=cid, text="Hello, I am Amaka. Let me check.")
    got = await s.expect("message", sender="agent")
    assert got["text"] == "Hello, I am Amaka. Let me check." and got["agent_name"] == "Amaka"
    await a.expect("message", sender="agent", conversation_id=cid)  # the agent's own echo
    await s.send(type="typing", on=True)
    assert (await a.expect("typing", conversation_id=cid, who="shopper"))["on"] is True
    await s.send(type="message", text="Thank you!")
    assert (await a.expect("message", sender="shopper", conversation_id=cid))["text"] == "Thank you!"

    # close: the shopper is asked for a rating, which is stored
    await a.send(type="close", conversation_id=cid)
    await a.expect("chat_ended", conversation_id=cid, why="closed")
    await s.expect("state", state="closed")
    await s.expect("rating_request")
    await s.send(type="rating", score=5, comment="great", ref="rate")
    assert (await s.expect("rating_saved", ref="rate"))["score"] == 5
    await s.send(type="rating", score=1)
    assert (await s.expect("error"))["code"] == "bad_state"
    # writing again after a closed chat: back with the bot (here: unavailable, so offered a person)
    await s.send(type="message", text="one more question")
    await s.expect("state", state="bot")
    await s.expect("error", code="unavailable")

    storage = Storage(db)
    try:
        [handoff] = await storage.handoffs(cid)
        assert handoff.queue == "general" and handoff.outcome == "closed" and handoff.rating == 5
        assert handoff.rating_comment == "great" and handoff.agent_id is not None
        assert handoff.enqueued_at <= handoff.claimed_at <= handoff.closed_at
        senders = [m.sender for m in await storage.history(cid)]
        assert {"shopper", "agent", "system"} <= set(senders)
        texts = [m.text for m in await storage.history(cid)]
        assert "Thank you!" in texts and "Where is my order?" in texts
    finally:
        await storage.close()
    assert error["message"]


async def test_a_shopper_who_writes_again_after_the_close_can_still_rate_it(make_gateway, live) -> None:
    """"Thanks!" typed as (or after) the agent closes takes the chat back to
    the assistant; the rating card the shopper was shown still works, once."""
    gw = await make_gateway(**live)
    s, a, cid, _ = await claimed_chat(gw)
    await a.send(type="close", conversation_id=cid)
    await s.expect("rating_request")
    await s.send(type="message", text="thanks, bye")
    await s.expect("state", state="bot")
    await s.send(type="rating", score=4, comment="quick", ref="rate")
    assert (await s.expect("rating_saved", ref="rate"))["score"] == 4
    await s.send(type="rating", score=1, ref="again")
    assert (await s.expect("error", ref="again"))["code"] == "bad_state"
    storage = Storage(gw.gateway.config.db_url)
    try:
        [handoff] = await storage.handoffs(cid)
        assert (handoff.outcome, handoff.rating, handoff.rating_comment) == ("closed", 4, "quick")
    finally:
        await storage.close()


async def test_claim_race_has_one_winner(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    for name in ("a1", "a2", "a3"):
        await add_agent(db, name, name.upper())
    agents = [await agent(gw, name) for name in ("a1", "a2", "a3")]
    s = await handed_off(gw)
    cid = (await agents[0].expect("handoff"))["entry"]["conversation_id"]

    await asyncio.gather(*(a.send(type="claim", conversation_id=cid) for a in agents))

    async def outcome(a: Client) -> str:
        while True:
            frame = await a.next()
            if frame["type"] == "claimed":
                return "won"
            if frame["type"] == "error":
                assert frame["code"] == "already_claimed"
                return "lost"

    results = await asyncio.gather(*(outcome(a) for a in agents))
    assert sorted(results) == ["lost", "lost", "won"]
    winner = agents[results.index("won")]
    await s.expect("state", state="agent")
    await winner.send(type="message", conversation_id=cid, text="mine")
    await s.expect("message", sender="agent", text="mine")
    loser = agents[results.index("lost")]
    await loser.send(type="message", conversation_id=cid, text="not mine")
    assert (await loser.expect("error"))["code"] == "not_owner"


async def test_queue_order_and_positions_move(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    first = await handed_off(gw)
    second = await handed_off(gw)
    await handed_off(gw, line="emergency", role="provider")
    # the emergency line jumps ahead of both
    await wait_for(lambda: _position(first, 2))
    await wait_for(lambda: _position(second, 3))
    a = await agent(gw, "ag")
    welcome_queues = a.received[0]["queues"]
    assert [len(welcome_queues[q]) for q in ("emergency", "security", "disputes", "general")] == [1, 0, 0, 2]
    em_id = welcome_queues["emergency"][0]["conversation_id"]
    await a.send(type="claim", conversation_id=em_id)
    await a.expect("claimed")
    await wait_for(lambda: _position(first, 1))
    await wait_for(lambda: _position(second, 2))


async def _position(client: Client, position: int) -> bool:
    frames = await client.quiet(0.05)
    client._unread.extend(frames)
    queue_frames = [f for f in client.received if f["type"] == "queue"]
    return bool(queue_frames) and queue_frames[-1]["position"] == position


async def test_reconnect_restores_history_and_state(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    await add_agent(gw.gateway.config.db_url, "ag", "Agnes")
    other = await handed_off(gw)  # someone ahead in the queue
    s = await handed_off(gw)
    welcome = s.received[0]
    token, cid = welcome["token"], welcome["conversation_id"]
    await s.close()

    # waiting, with position
    back = await shopper(gw, token=token)
    again = back.received[0]
    assert again["conversation_id"] == cid and again["state"] == "waiting" and again["queue"] == "general"
    texts = [m["text"] for m in again["history"]]
    assert "/request_human" in texts and any("waiting for a person" in t for t in texts)
    assert (await back.expect("queue"))["position"] == 2
    await back.close()

    # with an agent
    a = await agent(gw, "ag")
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await a.send(type="message", conversation_id=cid, text="Hi from Agnes")
    await a.expect("message", conversation_id=cid)
    back = await shopper(gw, token=token)
    again = back.received[0]
    assert again["state"] == "agent" and again["agent"] == {"name": "Agnes"}
    assert again["history"][-1]["text"] == "Hi from Agnes"
    await back.send(type="message", text="still here")
    assert (await a.expect("message", conversation_id=cid, sender="shopper"))["text"] == "still here"

    # a token never reads another conversation
    other_token = other.received[0]["token"]
    assert other.received[0]["conversation_id"] != cid
    peek = await shopper(gw, token=other_token)
    assert all(m["text"] != "Hi from Agnes" for m in peek.received[0]["history"])
    await a.send(type="message", conversation_id=cid, text="private")
    await back.expect("message", text="private")
    assert not [f for f in await peek.quiet(0.3) if f.get("text") == "private"]


async def test_transfer_to_another_queue(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "ag", "Ag")
    await add_agent(db, "sec", "Sec")
    a = await agent(gw, "ag")
    b = await agent(gw, "sec")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await a.send(type="transfer", conversation_id=cid, queue="security")
    # the first agent keeps the chat until someone takes it (revision 2026-12-06)
    await a.expect("transfer_pending", conversation_id=cid, queue="security", offered_to=None)
    await s.expect_message("transferred your chat to the security queue", sender="system")
    await s.expect("state", state="waiting", queue="security")
    ring = await b.expect("handoff", timeout=5)
    while ring["entry"]["queue"] != "security":
        ring = await b.expect("handoff")
    assert ring["entry"]["conversation_id"] == cid
    assert ring["entry"]["context"]["transferred_from"] == "general"
    await b.send(type="claim", conversation_id=cid)
    await b.expect("claimed")
    await s.expect("agent_joined")
    await a.expect("chat_ended", conversation_id=cid, why="transferred")
    # the first agent no longer owns it
    await a.send(type="message", conversation_id=cid, text="x")
    assert (await a.expect("error"))["code"] == "not_owner"
    storage = Storage(db)
    try:
        stints = await storage.handoffs(cid)
        assert [(h.queue, h.outcome) for h in stints] == [("general", "transferred"), ("security", None)]
    finally:
        await storage.close()


async def test_agent_drop_requeues_at_front_after_grace(make_gateway, live) -> None:
    gw = await make_gateway(grace_seconds=0.5, **live)
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    a = await agent(gw, "ag")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    later = await handed_off(gw)
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await s.expect("state", state="agent")
    dropped_at = time.monotonic()
    await a.ws.close()

    await s.expect_message("agent was disconnected", sender="system", timeout=5)
    assert time.monotonic() - dropped_at >= 0.45
    await s.expect("state", state="waiting", queue="general")
    await wait_for(lambda: _position(s, 1))
    await wait_for(lambda: _position(later, 2))
    # a returning agent sees it at the front, flagged as requeued
    a2 = await agent(gw, "ag")
    general = a2.received[0]["queues"]["general"]
    assert general[0]["conversation_id"] == cid and general[0]["requeued"] is True
    assert a2.received[0]["chats"] == []


async def test_a_console_back_as_the_grace_period_ends_is_told_its_chat_was_requeued(
        make_gateway, live, monkeypatch) -> None:
    """The agent's console reconnects just as the grace period ends: the
    requeue, decided while the agent was away, reaches it as ``chat_ended``
    (its welcome had listed the chat as theirs)."""
    gw = await make_gateway(grace_seconds=0.5, **live)
    s, a, cid, _ = await claimed_chat(gw)
    core = gw.gateway.core
    online = core.live.online_agents
    await a.ws.close()
    back = await agent(gw, "ada")  # within the grace period: the chat is still theirs
    assert [chat["conversation_id"] for chat in back.received[0]["chats"]] == [cid]

    async def as_when_the_grace_check_ran() -> List[int]:  # (that check saw nobody)
        monkeypatch.setattr(core.live, "online_agents", online)
        return []

    monkeypatch.setattr(core.live, "online_agents", as_when_the_grace_check_ran)
    await gw.gateway._desk.grace_over((await core.storage.agent_by_username("ada")))
    await back.expect("chat_ended", conversation_id=cid, why="requeued")
    await s.expect("state", state="waiting", queue="general")


async def test_a_close_that_lost_to_the_agents_other_socket_says_the_chat_is_gone(
        make_gateway, live, monkeypatch) -> None:
    """Two consoles of one agent close the same chat at once: the one that
    lost is told the chat is no longer with an agent (``not_found``), not
    that another agent has it."""
    gw = await make_gateway(**live)
    s, a, cid, _ = await claimed_chat(gw)
    core, desk = gw.gateway.core, gw.gateway._desk
    ada = await core.storage.agent_by_username("ada")
    release = core.live.release

    async def the_other_socket_first(*args, **kwargs):  # its close lands between our check and ours
        monkeypatch.setattr(core.live, "release", release)
        await desk.close_chat(ada, cid)
        return await release(*args, **kwargs)

    monkeypatch.setattr(core.live, "release", the_other_socket_first)
    await a.send(type="close", conversation_id=cid, ref="mine")
    await a.expect("chat_ended", conversation_id=cid, why="closed")
    assert (await a.expect("error", ref="mine"))["code"] == "not_found"
    await s.expect("rating_request")


async def test_agent_back_within_grace_keeps_chat(make_gateway, live) -> None:
    gw = await make_gateway(grace_seconds=0.6, **live)
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    a = await agent(gw, "ag")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    # signed in before the drop: the way back (a reconnect) fits in the grace even on a busy machine
    token = (await login(gw, "ag", "correct horse"))["token"]
    await a.ws.close()
    a = await agent(gw, "ag", token=token)
    [chat] = a.received[0]["chats"]
    assert chat["conversation_id"] == cid and chat["transcript"]
    await asyncio.sleep(1.0)
    assert not [f for f in await s.quiet(0.2) if "disconnected" in f.get("text", "")]
    await a.send(type="message", conversation_id=cid, text="back")
    await s.expect("message", text="back")


async def test_offline_ticket(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    s = await handed_off(gw)
    await s.expect("offline")
    await s.expect_message("leave a message", sender="system")
    await s.send(type="ticket", email="not-an-email", text="help")
    assert (await s.expect("error", field="email"))["code"] == "bad_value"
    await s.send(type="ticket", email="ada@example.com", text="Please call me about KH-204518", ref="t")
    saved = await s.expect("ticket_saved", ref="t")
    await s.expect("state", state="bot")
    cid = s.received[0]["conversation_id"]
    storage = Storage(gw.gateway.config.db_url)
    try:

        from sqlalchemy.orm import Session

        from handoff import models
        from handoff.storage import make_engine

        with Session(make_engine(storage.url)) as session:
            ticket = session.get(models.Ticket, saved["ticket_id"])
            assert (ticket.conversation_id, ticket.email, ticket.text) == (
                cid, "ada@example.com", "Please call me about KH-204518")
        [stint] = await storage.handoffs(cid)
        assert stint.outcome == "ticket"
    finally:
        await storage.close()
    assert (await gw.gateway.live.snapshot())["general"] == []


async def test_emergency_page_posts_webhook(make_gateway, live) -> None:
    async with page_receiver() as (webhook, received, got_page):
        gw = await make_gateway(emergency_page_after=0.5, page_webhook=webhook, **live)
        s = await handed_off(gw, line="emergency", role="provider")
        cid = s.received[0]["conversation_id"]
        # a general chat is never paged
        await handed_off(gw)
        await asyncio.wait_for(got_page.wait(), 10)
        await s.expect("paged")
        await s.expect_message("paged the on-call person", sender="system")
        await asyncio.sleep(0.7)
        assert len(received) == 1
        page = received[0]
        assert page["conversation_id"] == cid and page["queue"] == "emergency" and page["waited_s"] >= 0
        storage = Storage(gw.gateway.config.db_url)
        try:
            from sqlalchemy.orm import Session

            from handoff import models
            from handoff.storage import make_engine

            with Session(make_engine(storage.url)) as session:
                pages = session.query(models.Page).all()
                assert [(p.conversation_id, p.status) for p in pages] == [(cid, "sent")]
        finally:
            await storage.close()


async def test_claimed_emergency_is_not_paged(make_gateway, live) -> None:
    gw = await make_gateway(emergency_page_after=0.4, **live)
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    a = await agent(gw, "ag")
    s = await handed_off(gw, line="emergency", role="provider")
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await asyncio.sleep(0.8)
    assert not [f for f in await s.quiet(0.2) if f["type"] == "paged"]
    storage = Storage(gw.gateway.config.db_url)
    try:
        from sqlalchemy.orm import Session

        from handoff import models
        from handoff.storage import make_engine

        with Session(make_engine(storage.url)) as session:
            assert session.query(models.Page).count() == 0
    finally:
        await storage.close()


async def test_emergency_with_nobody_online_pages_at_once_and_offers_no_ticket(make_gateway, live) -> None:
    """A provider's emergency is never answered with "leave a message": with no
    agent online the on-call person is paged straight away, long before the
    usual claim window ends."""
    async with page_receiver() as (webhook, received, _):
        gw = await make_gateway(emergency_page_after=60, page_webhook=webhook, **live)
        s = await handed_off(gw, line="emergency", role="provider")
        await s.expect("paged")
        assert [p["queue"] for p in received] == ["emergency"]
        assert "offline" not in [f["type"] for f in s.received]
        # A general chat in the same situation is offered a ticket.
        g = await handed_off(gw)
        await g.expect("offline")


async def test_emergency_line_queues_even_without_the_assistant(make_gateway, live) -> None:
    """The emergency line opens by itself; with the assistant down the gateway
    still puts the provider in the emergency queue."""
    gw = await make_gateway(**live)
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    a = await agent(gw, "ag")
    s = await Client.connect(gw.ws_url + "/ws/shopper")
    await s.send(type="hello", v=1, role="provider", line="emergency")
    welcome = await s.expect("welcome")
    assert (welcome["role"], welcome["line"]) == ("provider", "emergency")
    await s.expect("state", state="waiting", queue="emergency")
    ring = await a.expect("handoff")
    assert ring["entry"]["queue"] == "emergency" and ring["entry"]["line"] == "emergency"
    assert ring["entry"]["priority"] == 3


async def test_welcome_is_always_the_first_frame(make_gateway, live) -> None:
    """Even while the queues churn, a (re)connecting socket gets its welcome first."""
    gw = await make_gateway(**live)
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    waiting = await handed_off(gw)
    token = waiting.received[0]["token"]
    stop = asyncio.Event()

    async def churn() -> None:
        while not stop.is_set():
            await handed_off(gw)

    agent_token = (await login(gw, "ag", "correct horse"))["token"]  # one login (Argon2 is slow by design)
    churning = asyncio.ensure_future(churn())
    try:
        for _ in range(15):
            client = await Client.connect(gw.ws_url + "/ws/shopper")
            await client.send(type="hello", v=1, token=token)
            assert (await client.next())["type"] == "welcome"
            console = await Client.connect(gw.ws_url + "/ws/agent")
            await console.send(type="hello", v=1, token=agent_token)
            assert (await console.next())["type"] == "welcome"
            await client.close()
            await console.close()
    finally:
        stop.set()
        await churning


async def test_bursts_are_relayed_in_order_and_stored_once(make_gateway, live) -> None:
    """Messages sent back to back (taken off the socket in batches) reach the
    other side in order, each stored once; a resend (same client_id) inside a
    burst is acknowledged again, not stored twice; a frame sent after a burst
    is handled after it."""
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "bo", "Bo")
    a = await agent(gw, "bo")
    s = await handed_off(gw)
    cid = (await a.expect("handoff"))["entry"]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await s.expect("state", state="agent")

    count = 300
    for i in range(count):
        await s.send(type="message", text=f"burst {i}", client_id=f"b{i}")
    await s.send(type="message", text="burst 7", client_id="b7")  # a resend
    await s.send(type="typing", on=True)
    got = [(await a.expect("message", sender="shopper", conversation_id=cid))["text"] for _ in range(count)]
    assert got == [f"burst {i}" for i in range(count)]
    assert (await a.expect("typing", conversation_id=cid))["on"] is True
    echoes = [await s.expect("message", sender="shopper", where=lambda f: "client_id" in f) for _ in range(count + 1)]
    assert [e["client_id"] for e in echoes] == [f"b{i}" for i in range(count)] + ["b7"]
    assert echoes[-1]["id"] == echoes[7]["id"]  # acknowledged again, same message

    for i in range(50):
        await a.send(type="message", conversation_id=cid, text=f"reply {i}")
    replies = [(await s.expect("message", sender="agent"))["text"] for _ in range(50)]
    assert replies == [f"reply {i}" for i in range(50)]
    own = [(await a.expect("message", sender="agent", conversation_id=cid))["text"] for _ in range(50)]
    assert own == replies  # the agent's own echoes, in order
    await s.close()
    await a.close()

    storage = Storage(db)
    try:
        texts = [m.text for m in await storage.history(cid, 1000)]
    finally:
        await storage.close()
    burst = [t for t in texts if t.startswith("burst ")]
    assert burst == [f"burst {i}" for i in range(count)]
    assert [t for t in texts if t.startswith("reply ")] == [f"reply {i}" for i in range(50)]


async def stored_texts(gw, s: Client) -> List[str]:
    """The texts the gateway stored in the shopper ``s``'s conversation."""
    storage = Storage(gw.gateway.config.db_url)
    try:
        return [m.text for m in await storage.history(s.received[0]["conversation_id"])]
    finally:
        await storage.close()


@pytest.mark.parametrize("says_first", [False, True], ids=["plain", "first-sending"])
async def test_resend_to_the_bot_is_only_acknowledged_again(make_gateway, live, says_first) -> None:
    """With the bot, a message is sent to the assistant while it is committed;
    a resend (same client_id) is acknowledged again and not asked twice,
    whether or not its first sending said ``first`` (as the widget's does)."""
    gw = await make_gateway(**live)
    s = await shopper(gw)
    await s.send(type="message", text="Where is my order?", client_id="x1", **({"first": True} if says_first else {}))
    first = await s.expect("message", sender="shopper", client_id="x1")
    await s.expect("error", code="unavailable")
    await s.quiet(0.2)  # the rest of that turn
    await s.send(type="message", text="Where is my order?", client_id="x1", ref="again")
    again = await s.expect("message", sender="shopper", client_id="x1")
    assert again["id"] == first["id"]
    assert not [f for f in await s.quiet(0.3) if f.get("type") in ("error", "typing")]
    assert (await stored_texts(gw, s)).count("Where is my order?") == 1
    await s.close()


async def test_a_resend_that_says_first_is_still_stored_once(make_gateway, live) -> None:
    """``first`` is the client's word, not trusted for storage: a resend that
    wrongly says it is acknowledged with the stored message, stored once."""
    gw = await make_gateway(**live)
    s = await shopper(gw)
    await s.send(type="message", text="hello there", client_id="x2", first=True)
    first = await s.expect("message", sender="shopper", client_id="x2")
    await s.quiet(0.3)
    await s.send(type="message", text="hello there", client_id="x2", first=True, ref="again")
    again = await s.expect("message", sender="shopper", client_id="x2")
    assert again["id"] == first["id"]
    await s.send(type="message", text="hello there", client_id="x3", first="yes", ref="bad")
    error = await s.expect("error", code="bad_value")
    assert (error["field"], error["ref"]) == ("first", "bad")
    assert (await stored_texts(gw, s)).count("hello there") == 1
    await s.close()
