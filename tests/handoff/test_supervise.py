"""Supervisors on the agent socket (issue 14): every live chat, reading one
without joining, reassigning, all in the audit log; agents are refused."""
from __future__ import annotations

from handoff.ops import db as ops_db
from handoff.ops.roles import set_role
from handoff.desk import audit

from .helpers import add_agent, agent, handed_off


def make_supervisor(db_url: str, username: str) -> None:
    engine = ops_db.engine(db_url)
    try:
        assert set_role(engine, username, "supervisor")
    finally:
        engine.dispose()


def audit_log(db_url: str) -> list:
    engine = ops_db.engine(db_url)
    try:
        with engine.connect() as connection:
            return audit.entries(connection)
    finally:
        engine.dispose()


async def test_supervisor_lists_and_reads_a_chat_without_joining(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "ada", "Ada")
    await add_agent(db, "sue", "Sue")
    make_supervisor(db, "sue")
    a, sup = await agent(gw, "ada"), await agent(gw, "sue")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    waiting = await handed_off(gw)
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await sup.send(type="list_chats", ref="l1")
    desk = await sup.expect("live_chats", ref="l1")
    chats = {c["conversation_id"]: c for c in desk["chats"]}
    assert chats[cid]["state"] == "agent" and chats[cid]["agent"]["name"] == "Ada"
    assert chats[waiting.received[0]["conversation_id"]]["state"] == "waiting"
    staff = {(x["name"], x["status"], x["chats"]) for x in desk["agents"]}
    assert staff == {("Ada", "online", 1), ("Sue", "online", 0)}

    await s.send(type="message", text="where is my refund")
    await a.expect("message", conversation_id=cid, text="where is my refund")
    await s.quiet(0.2)
    await a.quiet(0.1)  # (Sue's agent_status when she came online)
    before = len(s.received)
    await sup.send(type="watch", conversation_id=cid, ref="w1")
    view = await sup.expect("watching", ref="w1")
    assert view["chat"]["conversation_id"] == cid
    assert any(m["text"] == "where is my refund" for m in view["chat"]["transcript"])
    # live: both sides' messages reach the supervisor
    await s.send(type="message", text="order KH-1")
    seen = await sup.expect("message", conversation_id=cid, sender="shopper")
    assert seen["text"] == "order KH-1"
    await a.send(type="message", conversation_id=cid, text="Checking KH-1")
    await sup.expect("message", conversation_id=cid, sender="agent", text="Checking KH-1")
    # the shopper got nothing about it: only the two messages
    await s.quiet(0.3)
    assert [(f["type"], f.get("text")) for f in s.received[before:]] == [
        ("message", "order KH-1"), ("message", "Checking KH-1")]
    # nor the owner
    assert not [f for f in await a.quiet(0.2) if "Sue" in str(f)]
    await sup.send(type="unwatch", conversation_id=cid)
    await s.send(type="message", text="after unwatch")
    await a.expect("message", conversation_id=cid, text="after unwatch")
    assert not [f for f in await sup.quiet(0.3) if f.get("text") == "after unwatch"]
    [entry] = [e for e in audit_log(db) if e["action"] == "chat.watch"]
    assert entry["actor"]["name"] == "Sue" and entry["target"] == cid and entry["at"]


async def test_reassign_is_audited_and_agents_are_refused(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "ada", "Ada")
    ben_id = await add_agent(db, "ben", "Ben")
    await add_agent(db, "sue", "Sue")
    make_supervisor(db, "sue")
    a, b, sup = await agent(gw, "ada"), await agent(gw, "ben"), await agent(gw, "sue")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    # an agent who is not a supervisor: forbidden, and nothing changes
    for i, frame in enumerate([dict(type="list_chats"), dict(type="watch", conversation_id=cid),
                               dict(type="reassign", conversation_id=cid, agent_id=ben_id)]):
        await b.send(**frame, ref=f"x{i}")
        assert (await b.expect("error", ref=f"x{i}"))["code"] == "forbidden"
    assert (await gw.gateway.live.get(cid)).agent_id != ben_id
    await sup.send(type="reassign", conversation_id=cid, ref="bad")
    assert (await sup.expect("error", ref="bad"))["code"] == "missing_field"

    await sup.send(type="reassign", conversation_id=cid, agent_id=ben_id, ref="r1")
    done = await sup.expect("reassigned", ref="r1")
    assert done["agent"] == {"id": ben_id, "name": "Ben"}
    await b.expect("claimed", where=lambda f: f["chat"]["conversation_id"] == cid)
    await a.expect("chat_ended", conversation_id=cid, why="transferred")
    await s.expect_message("Ben joined the chat", sender="system")
    # back to a queue: Ben keeps it until someone takes it
    await sup.send(type="reassign", conversation_id=cid, queue="disputes", ref="r2")
    await sup.expect("reassigned", ref="r2")
    await b.expect("transfer_pending", conversation_id=cid, queue="disputes")
    actions = [(e["action"], e["actor"]["name"], e["target"], e["detail"].get("to_name"), e["detail"].get("queue"))
               for e in reversed(audit_log(db))]
    assert actions == [("chat.reassign", "Sue", cid, "Ben", None), ("chat.reassign", "Sue", cid, None, "disputes")]
