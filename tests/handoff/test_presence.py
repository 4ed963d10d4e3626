"""Shopper presence: agents are told when a waiting or claimed chat's shopper
closes their last socket (anywhere) and when they come back. Real gateways,
real websocket clients, memory and Redis; across two processes with Redis.
And read receipts (`seen`), relayed from the owning agent to the shopper."""
from __future__ import annotations

from .helpers import add_agent, agent, handed_off, shopper


async def test_agents_see_the_shopper_leave_and_return(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    await add_agent(gw.gateway.config.db_url, "ada", "Ada")
    a = await agent(gw, "ada")
    s = await handed_off(gw)
    cid, token = s.received[0]["conversation_id"], s.received[0]["token"]
    tab = await shopper(gw, token=token)  # a second tab: closing one is not leaving
    await tab.close()
    assert not [f for f in await a.quiet(0.5) if f.get("type") == "presence"]
    await s.close()
    assert (await a.expect("presence", conversation_id=cid))["shopper"] == "left"
    await a.send(type="claim", conversation_id=cid)
    claimed = await a.expect("claimed")
    assert claimed["chat"]["shopper_present"] is False  # claimed while gone: the header says so
    back = await shopper(gw, token=token)
    assert (await a.expect("presence", conversation_id=cid))["shopper"] == "present"
    a2 = await agent(gw, "ada")  # the welcome's chats say it too
    assert a2.received[0]["chats"][0]["shopper_present"] is True
    await back.close()
    assert (await a.expect("presence", conversation_id=cid))["shopper"] == "left"


async def test_presence_across_processes(make_gateway, redis_url, redis_prefix) -> None:
    one = await make_gateway(redis_url=redis_url, redis_prefix=redis_prefix)
    two = await make_gateway(redis_url=redis_url, redis_prefix=redis_prefix)
    await add_agent(one.gateway.config.db_url, "ada", "Ada")
    a = await agent(one, "ada")
    s = await handed_off(one)
    token = s.received[0]["token"]
    other = await shopper(two, token=token)  # the same shopper on the other process
    await s.close()
    assert not [f for f in await a.quiet(0.8) if f.get("type") == "presence"]
    await other.close()
    assert (await a.expect("presence"))["shopper"] == "left"


async def test_a_console_connecting_later_learns_a_waiting_shopper_left(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    await add_agent(gw.gateway.config.db_url, "ada", "Ada")
    gone = await handed_off(gw)
    stays = await handed_off(gw)
    gone_id, stays_id = gone.received[0]["conversation_id"], stays.received[0]["conversation_id"]
    await gone.close()  # left while waiting, before any console was there
    a = await agent(gw, "ada")
    entries = {e["conversation_id"]: e for e in a.received[0]["queues"]["general"]}
    assert entries[gone_id]["shopper_present"] is False
    assert entries[stays_id]["shopper_present"] is True


async def test_no_presence_while_with_the_bot(make_gateway) -> None:
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "ada", "Ada")
    a = await agent(gw, "ada")
    s = await shopper(gw)
    await s.close()
    assert not [f for f in await a.quiet(0.5) if f.get("type") == "presence"]


async def test_seen_reaches_the_shoppers_sockets_only_from_the_owner(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "ada", "Ada")
    await add_agent(db, "ben", "Ben")
    a = await agent(gw, "ada")
    b = await agent(gw, "ben")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await s.send(type="message", text="Is anyone there?", client_id="q1")
    mine = await s.expect("message", client_id="q1")
    await b.send(type="seen", conversation_id=cid, up_to=mine["id"], ref="x")
    assert (await b.expect("error", ref="x"))["code"] == "not_owner"
    assert not [f for f in await s.quiet(0.3) if f.get("type") == "seen"]
    await a.send(type="seen", conversation_id=cid, up_to=mine["id"])
    assert (await s.expect("seen"))["up_to"] == mine["id"]
    await a.send(type="seen", conversation_id=cid, ref="y")
    error = await a.expect("error", ref="y")
    assert error["code"] == "missing_field" and error["field"] == "up_to"
