"""The bot part with the real, trained assistant (the lead's ``rasa_stack``)."""
from __future__ import annotations

import asyncio
import os
import time
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from .helpers import Client, add_agent, agent, serving, shopper, wait_for


async def tracker(rasa_url: str, cid: str) -> dict:
    async with aiohttp.ClientSession() as http:
        params = {"token": os.environ["KARA_RASA_TOKEN"]}
        async with http.get(f"{rasa_url}/conversations/{cid}/tracker", params=params) as r:
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
    async def paused() -> bool:  # the pause runs alongside the queueing (handoff/handoffs.py): wait for it
        return (await tracker(rasa_url, cid))["paused"] is True

    assert await wait_for(paused)

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
    snapshot = await gw.gateway.live.snapshot()
    assert [e.conversation_id for e in snapshot["security"]] == [s.received[0]["conversation_id"]]


@pytest.fixture
async def slow_rasa(rasa_url: str) -> AsyncIterator[str]:
    """The real assistant behind a proxy that takes 2 s more over each answer."""
    http = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == "/webhooks/rest/webhook":
            await asyncio.sleep(SLOW_TURN_S)
        async with http.request(request.method, rasa_url + request.path_qs, data=body,
                                headers={"Content-Type": request.content_type}) as up:
            return web.Response(body=await up.read(), status=up.status, content_type=up.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    async with serving(app) as url:
        yield url
    await http.close()


SLOW_TURN_S = 2.0


async def test_a_message_sent_while_the_bot_answers_is_acknowledged_at_once(make_gateway, slow_rasa, rasa_url) -> None:
    gw = await make_gateway(rasa_url=slow_rasa, rasa_timeout=60)
    s = await shopper(gw, role="shopper")
    cid = s.received[0]["conversation_id"]

    await s.send(type="message", text="hello", client_id="m1")
    await s.expect("message", sender="shopper", text="hello")
    sent = time.monotonic()
    await s.send(type="message", text="what is your email address?", client_id="m2")
    await s.expect("message", sender="shopper", text="what is your email address?", timeout=SLOW_TURN_S)
    assert time.monotonic() - sent < SLOW_TURN_S / 2  # not held behind the first answer
    assert not [f for f in s.received if f["type"] == "message" and f["sender"] == "bot"]

    # both are answered, one after the other, in the order they were sent
    await s.expect("typing", on=False, timeout=60)
    await s.expect("typing", on=False, timeout=60)
    await s.quiet(0.5)  # the second answer's messages follow its typing off
    frames = [(f["type"], f.get("sender", f.get("on"))) for f in s.received if f["type"] in ("message", "typing")]
    assert frames[:3] == [("message", "shopper"), ("typing", True), ("message", "shopper")]
    first_off = frames.index(("typing", False))
    second_on = frames.index(("typing", True), first_off)
    assert frames[3:first_off] == []  # nothing else while the first answer was awaited
    assert ("message", "bot") in frames[first_off:second_on]  # the first answer, then the second turn
    second = [f["text"] for f in s.received if f["type"] == "message" and f["sender"] == "bot"][-1]
    assert "@" in second  # the email question got the email answer
    assert user_texts(await tracker(rasa_url, cid)) == ["hello", "what is your email address?"]
    stored = [m.text for m in await gw.gateway.storage.history(cid) if m.sender == "shopper"]
    assert stored == ["hello", "what is your email address?"]
