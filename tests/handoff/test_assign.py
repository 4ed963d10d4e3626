"""Assignment (issue 14): automatic assignment within capacity, agent status,
transfers kept by their agent until taken (to a queue or a named agent).

Real gateways and websocket clients, on the memory store and on Redis; two
gateway processes sharing Redis assign each chat once.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List, cast

from sqlalchemy import Table, update

from handoff import models
from handoff.live_state import WAITING
from handoff.storage import Storage

from .helpers import Client, add_agent, agent, handed_off

agents_t = cast(Table, models.Agent.__table__)


async def set_capacity(db: str, agent_id: int, capacity: int) -> None:
    storage = Storage(db)
    try:
        async with storage.engine.begin() as connection:
            await connection.execute(update(agents_t).where(agents_t.c.id == agent_id).values(capacity=capacity))
    finally:
        await storage.close()


async def staff(db: str, *people: Any) -> Dict[str, int]:
    """Agents (username, capacity): their ids."""
    ids = {}
    for username, capacity in people:
        ids[username] = await add_agent(db, username, username.title())
        await set_capacity(db, ids[username], capacity)
    return ids


def claimed_ids(client: Client) -> List[str]:
    """The chats ``client`` was given so far (of the frames read)."""
    return [f["chat"]["conversation_id"] for f in client.received if f.get("type") == "claimed"]


async def claims(client: Client, within: float = 0.3) -> List[str]:
    """The chats ``client`` was given, once nothing more arrives for ``within`` seconds."""
    await client.quiet(within)
    return claimed_ids(client)


async def test_least_busy_first_within_capacity(make_gateway, live) -> None:
    gw = await make_gateway(auto_assign=True, **live)
    db = gw.gateway.config.db_url
    await staff(db, ("ada", 1), ("ben", 2))
    a, b = await agent(gw, "ada"), await agent(gw, "ben")
    chats = []
    for _ in range(4):
        s = await handed_off(gw)
        chats.append((s, s.received[0]["conversation_id"]))
        if len(chats) < 4:
            await s.expect("agent_joined")
    # ada (idle longest on the tie) gets the first, then is full; ben takes two; the fourth waits
    await b.expect("claimed", where=lambda f: f["chat"]["conversation_id"] == chats[2][1])
    assert await claims(a) == [chats[0][1]]
    assert await claims(b) == [chats[1][1], chats[2][1]]
    s4, c4 = chats[3]
    assert not [f for f in await s4.quiet(0.5) if f.get("type") == "agent_joined"]
    assert (await gw.gateway.live.get(c4)).state == WAITING
    # exactly what a manual claim shows the shopper
    await chats[0][0].expect_message("Ada joined the chat", sender="system")
    # ada closes hers: the slot goes to the chat still waiting
    await a.send(type="close", conversation_id=chats[0][1])
    await a.expect("claimed", where=lambda f: f["chat"]["conversation_id"] == c4)
    await s4.expect("state", state="agent", agent={"name": "Ada"})


async def test_a_claim_of_a_chat_already_assigned_to_me_holds(make_gateway, live) -> None:
    """The console's Claim click arrives after the gateway assigned that chat
    to the same agent: the agent has it, so the claim is answered as one (not
    "another agent claimed it first"), and nothing changes for the shopper."""
    gw = await make_gateway(auto_assign=True, **live)
    await staff(gw.gateway.config.db_url, ("ada", 3))
    a = await agent(gw, "ada")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    assigned = await a.expect("claimed")
    assert assigned["chat"]["conversation_id"] == cid and "ref" not in assigned
    await s.expect("state", state="agent", agent={"name": "Ada"})
    await s.quiet(0.2)  # the rest of what the assignment told the shopper

    await a.send(type="claim", conversation_id=cid, ref="click")
    again = await a.expect("claimed", timeout=5, ref="click")
    assert again["chat"]["conversation_id"] == cid
    assert again["chat"]["transcript"] == assigned["chat"]["transcript"]
    assert not [f for f in await a.quiet(0.3) if f.get("type") == "error"]
    assert await s.quiet(0.3) == []  # no second "Ada joined the chat"
    await a.send(type="message", conversation_id=cid, text="Hello, I am here.")
    await s.expect("message", sender="agent", text="Hello, I am here.")


async def test_emergency_first_and_away_gets_nothing(make_gateway, live) -> None:
    gw = await make_gateway(auto_assign=True, **live)
    db = gw.gateway.config.db_url
    await staff(db, ("ada", 1))
    a = await agent(gw, "ada")
    await a.send(type="status", status="away")
    status = await a.expect("agent_status", status="away")
    assert status["agent"]["name"] == "Ada"
    general = await handed_off(gw)
    emergency = await handed_off(gw, line="emergency", role="provider")
    assert await claims(a) == []
    # away still counts as logged in: a reconnect keeps the status
    again = await agent(gw, "ada")
    assert again.received[0]["agent"]["status"] == "away"
    await again.close()
    # back online: the emergency goes first, though the general chat waited longer
    await a.send(type="status", status="online")
    got = await a.expect("claimed")
    assert got["chat"]["conversation_id"] == emergency.received[0]["conversation_id"]
    assert len(await claims(a)) == 1  # capacity 1
    assert (await gw.gateway.live.get(general.received[0]["conversation_id"])).state == WAITING


async def test_bad_status_is_refused_and_the_roster(make_gateway) -> None:
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "ada", "Ada")
    ben_id = await add_agent(gw.gateway.config.db_url, "ben", "Ben")
    a = await agent(gw, "ada")
    b = await agent(gw, "ben")
    assert [x["name"] for x in b.received[0]["agents"]] == ["Ada", "Ben"]  # who is online
    await a.expect("agent_status", agent={"id": ben_id, "name": "Ben"}, status="online")
    await b.close()
    await a.expect("agent_status", agent={"id": ben_id, "name": "Ben"}, status="offline")
    await a.send(type="status", status="asleep", ref="s1")
    error = await a.expect("error", ref="s1")
    assert error["code"] == "bad_value" and error["field"] == "status"


async def test_two_gateways_assign_each_chat_once(make_gateway, redis_url, redis_prefix, tmp_path) -> None:
    shared = dict(redis_url=redis_url, redis_prefix=redis_prefix, db_url=f"sqlite:///{tmp_path / 'shared.db'}",
                  auto_assign=True)
    gw1 = await make_gateway(**shared)
    gw2 = await make_gateway(**shared)
    await staff(shared["db_url"], ("ada", 2), ("ben", 2))
    shoppers = [await handed_off(gw1 if i % 2 else gw2) for i in range(5)]
    cids = {s.received[0]["conversation_id"] for s in shoppers}
    # both agents come online at once, on different processes: both run assignment over the same chats
    a, b = await asyncio.gather(agent(gw1, "ada"), agent(gw2, "ben"))
    for client in (a, b):
        for _ in range(2):
            await client.expect("claimed")
    got_a, got_b = await claims(a, 0.5), await claims(b)
    assert len(got_a) == 2 and len(got_b) == 2 and not set(got_a) & set(got_b)
    [left] = cids - set(got_a) - set(got_b)
    assert (await gw1.gateway.live.get(left)).state == WAITING
    for s in shoppers:
        await s.quiet(0.1)
    joined = [f for s in shoppers for f in s.received if f.get("type") == "agent_joined"]
    assert len(joined) == 4


async def test_transfer_kept_until_taken(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await staff(db, ("ada", 3), ("ben", 3))
    a, b = await agent(gw, "ada"), await agent(gw, "ben")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await a.send(type="transfer", conversation_id=cid, queue="disputes")
    pending = await a.expect("transfer_pending", conversation_id=cid)
    assert pending["queue"] == "disputes" and pending["offered_to"] is None
    ring = await b.expect("handoff", where=lambda f: f["entry"]["queue"] == "disputes")
    assert ring["entry"]["kept_by"] == {"id": a.received[0]["agent"]["id"], "name": "Ada"}
    # the transferring agent still has the chat and may write
    await a.send(type="message", conversation_id=cid, text="A colleague will join shortly")
    await s.expect_message("colleague will join", sender="agent")
    await s.send(type="message", text="ok thanks")
    await a.expect("message", conversation_id=cid, text="ok thanks")
    # they cannot take it back from the queue themselves
    await a.send(type="claim", conversation_id=cid, ref="c1")
    assert (await a.expect("error", ref="c1"))["code"] == "bad_state"
    again = await agent(gw, "ada")  # a reload shows it pending
    assert again.received[0]["chats"][0]["transfer_pending"] == {"queue": "disputes", "offered_to": None}
    await b.send(type="claim", conversation_id=cid)
    await b.expect("claimed")
    await a.expect("chat_ended", conversation_id=cid, why="transferred")
    await s.expect_message("Ben joined the chat", sender="system")


async def test_transfer_to_a_named_agent(make_gateway, live) -> None:
    gw = await make_gateway(transfer_offer_s=0.6, **live)
    db = gw.gateway.config.db_url
    ids = await staff(db, ("ada", 3), ("ben", 3), ("cy", 3), ("dee", 3))
    a, b, c = await agent(gw, "ada"), await agent(gw, "ben"), await agent(gw, "cy")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    # an agent who is not online cannot be named: nothing changes
    await a.send(type="transfer", conversation_id=cid, queue="general", agent_id=ids["dee"], ref="t0")
    assert (await a.expect("error", ref="t0"))["code"] == "unavailable"
    await a.send(type="transfer", conversation_id=cid, queue="general", agent_id=ids["ben"])
    pending = await a.expect("transfer_pending", conversation_id=cid)
    assert pending["offered_to"] == {"id": ids["ben"], "name": "Ben"}
    await s.expect_message("Ada transferred your chat to Ben", sender="system")
    # only Ben may take it while it is offered to him
    await c.send(type="claim", conversation_id=cid, ref="c1")
    refused = await c.expect("error", ref="c1")
    assert refused["code"] == "not_owner" and "Ben" in refused["message"]
    # Ben lets it lapse: after transfer_offer_s it is open to the queue, Ada still keeps it
    lapsed = await a.expect("transfer_pending", conversation_id=cid, offered_to=None, timeout=5)
    assert lapsed["queue"] == "general"
    await c.send(type="claim", conversation_id=cid)
    await c.expect("claimed")
    await a.expect("chat_ended", conversation_id=cid, why="transferred")
    assert await claims(b) == []


async def test_named_agent_takes_the_transfer(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    ids = await staff(gw.gateway.config.db_url, ("ada", 3), ("ben", 3))
    a, b = await agent(gw, "ada"), await agent(gw, "ben")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await a.send(type="transfer", conversation_id=cid, queue="security", agent_id=ids["ben"], note="VIP")
    offer = await b.expect("handoff", where=lambda f: f["entry"]["offered_to"] is not None)
    assert offer["entry"]["offered_to"]["id"] == ids["ben"]
    await b.send(type="claim", conversation_id=cid)
    chat = (await b.expect("claimed"))["chat"]
    assert chat["handoff"]["queue"] == "security" and any(m["text"] == "VIP" for m in chat["transcript"])
    await a.expect("chat_ended", conversation_id=cid, why="transferred")
    storage = Storage(gw.gateway.config.db_url)
    try:
        stints = await storage.handoffs(cid)
        assert [(h.queue, h.outcome) for h in stints] == [("general", "transferred"), ("security", None)]
    finally:
        await storage.close()


async def test_a_pending_transfer_goes_with_its_lost_agent(make_gateway, live) -> None:
    gw = await make_gateway(grace_seconds=0.3, **live)
    db = gw.gateway.config.db_url
    await staff(db, ("ada", 3), ("ben", 3))
    a = await agent(gw, "ada")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await a.send(type="transfer", conversation_id=cid, queue="disputes")
    await a.expect("transfer_pending")
    await a.close()  # lost: after the grace period the chat is requeued, its transfer withdrawn
    await s.expect_message("back at the front of the queue", sender="system", timeout=5)
    b = await agent(gw, "ben")
    queues = b.received[0]["queues"]
    assert queues["disputes"] == []
    [entry] = queues["general"]
    assert entry["conversation_id"] == cid and entry["requeued"] and entry["kept_by"] is None
    await b.send(type="claim", conversation_id=cid)
    await b.expect("claimed")
    storage = Storage(db)
    try:
        outcomes = [(h.queue, h.outcome) for h in await storage.handoffs(cid)]
        assert outcomes == [("general", "requeued"), ("disputes", "abandoned"), ("general", None)]
    finally:
        await storage.close()
