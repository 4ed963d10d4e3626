"""The bot part with the real, trained assistant (the lead's ``rasa_stack``)."""
from __future__ import annotations

import aiohttp

from .helpers import Client, add_agent, agent, shopper


async def tracker(rasa_url: str, cid: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rasa_url}/conversations/{cid}/tracker") as r:
            assert r.status == 200
            return await r.json()


def user_texts(state: dict) -> list:
    return [e.get("text") for e in state.get("events", []) if e.get("event") == "user"]


async def test_bot_handoff_and_hand_back(make_gateway, rasa_url) -> None:
    gw = await make_gateway(rasa_url=rasa_url, rasa_timeout=60)
    await add_agent(gw.gateway.config.db_url, "amaka", "Amaka")
    a = await agent(gw, "amaka")
    s = await shopper(gw, role="shopper")
    cid = s.received[0]["conversation_id"]

    await s.send(type="message", text="hello")
    await s.expect("message", sender="shopper", text="hello")
    greeting = await s.expect("message", sender="bot", timeout=60)
    assert greeting["text"]

    await s.send(type="message", text="/request_human")
    next_steps = await s.expect("message", sender="bot", timeout=60)
    assert next_steps["text"] and "handoff" not in next_steps  # the payload is for the gateway, not shown
    await s.expect("state", state="waiting", queue="general")
    assert (await s.expect("queue"))["position"] == 1
    assert (await tracker(rasa_url, cid))["paused"] is True

    ring = await a.expect("handoff")
    assert ring["entry"]["conversation_id"] == cid and ring["entry"]["reason"] == "requested_human"
    await a.send(type="claim", conversation_id=cid)
    chat = (await a.expect("claimed"))["chat"]
    senders = [m["sender"] for m in chat["transcript"]]
    assert senders[:2] == ["shopper", "bot"] and "system" in senders  # the bot part is included
    assert chat["handoff"]["queue"] == "general"

    await s.send(type="message", text="my private human-part question")
    await a.expect("message", sender="shopper", text="my private human-part question")
    await a.send(type="message", conversation_id=cid, text="I can help.")
    await s.expect("message", sender="agent", text="I can help.")
    assert "my private human-part question" not in user_texts(await tracker(rasa_url, cid))

    await a.send(type="handback", conversation_id=cid)
    await a.expect("chat_ended", conversation_id=cid, why="handed_back")
    await s.expect_message("handed you back to the assistant", sender="system")
    await s.expect("state", state="bot")
    again = await s.expect("message", sender="bot", timeout=60)
    assert again["text"]  # the bot greets the shopper again
    state = await tracker(rasa_url, cid)
    assert state["paused"] is False
    assert "my private human-part question" not in user_texts(state)

    # the bot answers again
    await s.send(type="message", text="thank you")
    await s.expect("message", sender="bot", timeout=60)
    [stint] = await gw.gateway.storage.handoffs(cid)
    assert stint.outcome == "handed_back"


async def test_emergency_line_opens_with_a_handoff(make_gateway, rasa_url) -> None:
    gw = await make_gateway(rasa_url=rasa_url, rasa_timeout=60)
    s = await Client.connect(gw.ws_url + "/ws/shopper")
    await s.send(type="hello", v=1, role="provider", line="emergency")
    await s.expect("welcome")
    text = await s.expect("message", sender="bot", timeout=60)
    assert text["text"]
    await s.expect("state", state="waiting", queue="emergency")
    cid = s.received[0]["conversation_id"]
    [stint] = await gw.gateway.storage.handoffs(cid)
    assert stint.queue == "emergency"
    # the intent that opened the line is not shown as the provider's own message
    assert not [m for m in await gw.gateway.storage.history(cid) if m.sender == "shopper"]


async def test_security_report_goes_to_the_security_queue(make_gateway, rasa_url) -> None:
    gw = await make_gateway(rasa_url=rasa_url, rasa_timeout=60)
    s = await shopper(gw)
    await s.send(type="message", text="/report_security_issue")
    await s.expect("state", state="waiting", queue="security", timeout=60)
    snapshot = await gw.gateway.store.snapshot()
    assert [e.conversation_id for e in snapshot["security"]] == [s.received[0]["conversation_id"]]
