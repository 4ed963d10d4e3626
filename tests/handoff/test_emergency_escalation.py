"""A medical emergency written after the handoff, when Rasa is paused: the
gateway gives the emergency guidance at once and moves a waiting chat to the
front of the emergency queue (handoff/emergency.py). Real gateway, real
websocket clients, memory and Redis live state."""
from __future__ import annotations

import pytest

from actions.policy import load_policy
from handoff.storage import Storage

from .helpers import add_agent, agent, handed_off

EMERGENCIES = [
    "my son just swallowed a whole bottle of paracetamol",
    "abeg my mama no fit breathe, she don collapse",
]


def _numbers() -> tuple:
    policy = load_policy()
    return policy.emergency_number, policy.emergency_number_lagos


@pytest.mark.parametrize("text", EMERGENCIES)
async def test_emergency_while_waiting_gets_guidance_and_the_emergency_queue(make_gateway, live, text) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "ngozi", "Ngozi")
    a = await agent(gw, "ngozi")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    ring = await a.expect("handoff")
    assert ring["entry"]["queue"] == "general"

    await s.send(type="message", text=text, client_id="e1")
    note = await s.expect_message("nearest hospital", sender="system")
    national, lagos = _numbers()
    assert national in note["text"] and lagos in note["text"]
    await s.expect("state", state="waiting", queue="emergency")
    ring = await a.expect("handoff")
    while ring["entry"]["queue"] != "emergency":
        ring = await a.expect("handoff")
    assert ring["entry"]["conversation_id"] == cid
    assert ring["entry"]["reason"] == "medical_emergency"
    assert ring["entry"]["context"]["escalated_from"] == "general"

    storage = Storage(db)
    try:
        stints = await storage.handoffs(cid)
        assert [(h.queue, h.reason, h.outcome) for h in stints][-2:] == [
            ("general", stints[-2].reason, "transferred"), ("emergency", "medical_emergency", None)]
        texts = [m.text for m in await storage.history(cid, 50)]
        assert texts.index(text) < texts.index(note["text"])  # the shopper's words, then the guidance
    finally:
        await storage.close()


async def test_emergency_with_an_agent_shows_both_the_guidance(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    await add_agent(gw.gateway.config.db_url, "tunde", "Tunde")
    a = await agent(gw, "tunde")
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await s.send(type="message", text=EMERGENCIES[0], client_id="e2")
    await s.expect_message("nearest hospital", sender="system")
    seen = await a.expect_message("nearest hospital", sender="system", conversation_id=cid)
    assert _numbers()[0] in seen["text"]


async def test_an_ordinary_message_while_waiting_moves_nothing(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    s = await handed_off(gw)
    await s.send(type="message", text="hello, still waiting for my refund", client_id="o1")
    await s.expect_message("still waiting", sender="shopper")
    frames = await s.quiet(0.5)
    assert not [f for f in frames if f.get("type") == "state"]
    assert not [f for f in frames if "nearest hospital" in (f.get("text") or "")]
