"""Faults on real processes: nothing a shopper sent is lost, every chat comes back.

Each test starts its own gateway processes (``python -m handoff serve``) on a
PostgreSQL database of its own, and kills what it means to kill: the action
server, the Rasa server (both of this package's ``own_stack``), a Redis
server of its own, a gateway process, an agent's TCP connection.
"""
from __future__ import annotations

import asyncio
import signal
import time
from typing import Any, List

import pytest
import websockets

from handoff.storage import Storage
from actions.policy import template_vars
from tests.handoff import helpers
from tests.handoff.helpers import CLOSED_RASA, Client, add_agent, agent, login, shopper, wait_for

pytestmark = pytest.mark.timeout(300)


def common(db: str, *more: str) -> List[str]:
    return ["--db-url", db, "--secret", "faults-secret", "--ping-interval", "0", *more]


async def texts(db: str, cid: str) -> List[tuple]:
    storage = Storage(db)
    try:
        return [(m.sender, m.text) for m in await storage.history(cid, 1000)]
    finally:
        await storage.close()


async def hello(url: str, **fields: Any) -> Client:
    return await shopper(url, 20, **fields)


async def resume_agent(url: str, token: str) -> Client:
    client = await Client.connect(url + "/ws/agent")
    await client.send(type="hello", v=1, token=token)
    await client.expect("welcome", timeout=20)
    return client


async def handed_off(url: str) -> Client:
    return await helpers.handed_off(url, 20)


def cid_of(client: Client) -> str:
    return client.received[0]["conversation_id"]


def token_of(client: Client) -> str:
    return client.received[0]["token"]


# -- the assistant's processes ------------------------------------------------


@pytest.mark.kills_stack
async def test_action_server_dies_mid_conversation(stack, gateway_process, fresh_pg) -> None:
    """The action server is killed between two turns of the order form: the
    shopper is told it cannot be looked up now and offered a person; every
    message is stored, the person sees all of it. A new shopper's question
    meanwhile is answered: starting a conversation needs no action server."""
    gw = gateway_process(*common(fresh_pg, "--rasa-url", stack.rasa_url, "--rasa-timeout", "30"))
    await add_agent(fresh_pg, "amaka", "Amaka")
    a = await agent(gw, "amaka")
    s = await hello(gw.ws_url, role="shopper")
    cid = cid_of(s)
    await s.send(type="message", text="hello")
    await s.expect("message", sender="bot", timeout=60)
    await s.send(type="message", text="I want to track my order")
    await s.expect("message", sender="bot", timeout=60)  # asks for the order number

    stack.actions.stop(signal.SIGKILL)
    await s.send(type="message", text="KH-204518", client_id="order-1")
    await s.expect("message", sender="shopper", client_id="order-1", timeout=30)  # stored and acknowledged
    error = await s.expect("error", code="unavailable", timeout=60)
    assert "saved" in error["message"]
    offer = await s.expect("message", where=lambda f: bool(f.get("buttons")), timeout=5)
    assert "cannot look that up" in offer["text"].lower()
    assert {"title": "Talk to a person", "payload": "/request_human"} in offer["buttons"]

    # a new shopper meanwhile starts a chat (its session start runs in Rasa's process) and is answered
    newcomer = await hello(gw.ws_url, role="shopper")
    await newcomer.send(type="message", text="how long do refunds take?")
    answer = await newcomer.expect("message", sender="bot", timeout=60)
    assert template_vars()["refund_processing_time"] in answer["text"]

    # the shopper takes the offer; the assistant cannot run its handoff action, the gateway hands off
    await s.send(type="message", text="/request_human")
    await s.expect("state", state="waiting", queue="general", timeout=60)
    ring = await a.expect("handoff", timeout=20)
    assert ring["entry"]["conversation_id"] == cid
    await a.send(type="claim", conversation_id=cid)
    transcript = [(m["sender"], m["text"]) for m in (await a.expect("claimed"))["chat"]["transcript"]]
    for said in ("hello", "I want to track my order", "KH-204518", "/request_human"):
        assert ("shopper", said) in transcript
    assert transcript == (await texts(fresh_pg, cid))[-len(transcript):]
    assert sum(1 for sender, text in transcript if sender == "shopper" and text == "KH-204518") == 1
    assert gw.proc.poll() is None


@pytest.mark.kills_stack
async def test_rasa_dies(stack, gateway_process, fresh_pg) -> None:
    """Rasa is killed: shoppers (in a chat already, or new) are told the
    assistant is unavailable and offered a person, their messages stored; a
    person takes over; a shopper already with an agent does not notice."""
    gw = gateway_process(*common(fresh_pg, "--rasa-url", stack.rasa_url, "--rasa-timeout", "10"))
    await add_agent(fresh_pg, "amaka", "Amaka")
    a = await agent(gw, "amaka")
    talking = await hello(gw.ws_url)
    await talking.send(type="message", text="hello")
    await talking.expect("message", sender="bot", timeout=60)
    with_agent = await hello(gw.ws_url)
    await with_agent.send(type="message", text="/request_human")
    await with_agent.expect("state", state="waiting", timeout=60)
    await a.send(type="claim", conversation_id=cid_of(with_agent))
    await a.expect("claimed")

    stack.rasa.stop(signal.SIGKILL)
    newcomer = await hello(gw.ws_url)
    for s, text in ((talking, "where is my order KH-204518?"), (newcomer, "what are your hours?")):
        await s.send(type="message", text=text, client_id="q1")
        await s.expect("message", sender="shopper", client_id="q1", timeout=20)
        await s.expect("error", code="unavailable", timeout=30)
        offer = await s.expect_message("assistant is unavailable", sender="system", timeout=5)
        assert offer["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
        assert ("shopper", text) in await texts(fresh_pg, cid_of(s))
    # the chat with a person goes on as if nothing happened
    await with_agent.send(type="message", text="still there?")
    await a.expect("message", sender="shopper", text="still there?")
    await a.send(type="message", conversation_id=cid_of(with_agent), text="yes")
    await with_agent.expect("message", sender="agent", text="yes")
    # the shoppers take the offer: the gateway hands off without the assistant
    for s in (talking, newcomer):
        await s.send(type="message", text="/request_human")
        await s.expect("state", state="waiting", queue="general", timeout=30)
        await a.expect("handoff", where=lambda f, c=cid_of(s): f["entry"]["conversation_id"] == c)  # noqa: B008 (binds c now)
    await a.send(type="claim", conversation_id=cid_of(talking))
    chat = (await a.expect("claimed", where=lambda f: f["chat"]["conversation_id"] == cid_of(talking)))["chat"]
    assert ("shopper", "where is my order KH-204518?") in [(m["sender"], m["text"]) for m in chat["transcript"]]
    assert chat["handoff"]["reason"] == "assistant_unavailable"
    assert gw.proc.poll() is None


# -- Redis ------------------------------------------------------------------------


async def test_redis_restart_restores_waiting_and_claimed_chats(private_redis, gateway_process, fresh_pg) -> None:
    """Redis (no persistence) is killed and started again empty, under two
    gateway processes: the waiting chats are back in their queues in their
    order, the claimed chat is still its agent's, messages flow again."""
    args = common(fresh_pg, "--redis-url", private_redis.url, "--rasa-url", CLOSED_RASA)
    one = gateway_process(*args)
    two = gateway_process(*args)
    await add_agent(fresh_pg, "amaka", "Amaka")
    await add_agent(fresh_pg, "bola", "Bola")
    amaka_token = (await login(one, "amaka", "correct horse"))["token"]
    amaka = await resume_agent(two.ws_url, amaka_token)  # agent on two, shoppers on one
    claimed = await handed_off(one.ws_url)
    first = await handed_off(one.ws_url)
    second = await handed_off(one.ws_url)
    await amaka.send(type="claim", conversation_id=cid_of(claimed))
    await amaka.expect("claimed")
    await claimed.expect("state", state="agent")
    await wait_for(lambda: _queue_is(amaka, [cid_of(first), cid_of(second)]))

    private_redis.restart()

    # within a few seconds the live state is rebuilt from SQL
    async def queues_back() -> bool:
        bola = await agent(one, "bola")
        general = [e["conversation_id"] for e in bola.received[0]["queues"]["general"]]
        await bola.close()
        return general == [cid_of(first), cid_of(second)]

    await wait_for(queues_back, timeout=30, every=0.5)
    # the claimed chat is still Amaka's: both directions work (across the two processes)
    tries = iter(range(100))

    async def relayed() -> bool:
        ref = f"after-{next(tries)}"
        await amaka.send(type="message", conversation_id=cid_of(claimed), text="after the restart", ref=ref)
        frame = await _answer(amaka, ref)
        return frame.get("type") == "message"

    await wait_for(relayed, timeout=20, every=0.5)
    await claimed.expect("message", sender="agent", text="after the restart", timeout=10)
    await claimed.send(type="message", text="I see you", client_id="after-1")
    await amaka.expect("message", sender="shopper", text="I see you", timeout=10)
    # reconnecting shoppers find their state
    back = await hello(two.ws_url, token=token_of(first))
    assert back.received[0]["state"] == "waiting"
    assert (await back.expect("queue"))["position"] == 1
    again = await hello(two.ws_url, token=token_of(claimed))
    assert again.received[0]["state"] == "agent" and again.received[0]["agent"] == {"name": "Amaka"}
    # and the queue is served as before
    bola = await agent(one, "bola")
    await bola.send(type="claim", conversation_id=cid_of(first))
    await bola.expect("claimed")
    await first.expect("agent_joined", timeout=10)
    stored = await texts(fresh_pg, cid_of(claimed))
    assert stored.count(("shopper", "I see you")) == 1
    assert one.proc.poll() is None and two.proc.poll() is None


async def test_frames_missed_while_the_bus_was_away_are_delivered(private_redis, gateway_process, fresh_pg) -> None:
    """Redis drops every pub/sub connection (as in a restart, or a network
    blink) and a shopper writes before the gateways have subscribed again:
    pub/sub keeps nothing for them, yet the agent on the other process gets
    the message and the shopper its acknowledgement, from the database."""
    import redis

    args = common(fresh_pg, "--redis-url", private_redis.url, "--rasa-url", CLOSED_RASA)
    one = gateway_process(*args)
    two = gateway_process(*args)
    await add_agent(fresh_pg, "amaka", "Amaka")
    amaka = await resume_agent(two.ws_url, (await login(one, "amaka", "correct horse"))["token"])
    shopper = await handed_off(one.ws_url)
    cid = cid_of(shopper)
    await amaka.expect("handoff", timeout=20)
    await amaka.send(type="claim", conversation_id=cid)
    await amaka.expect("claimed")
    await shopper.expect("state", state="agent")

    admin = redis.Redis.from_url(private_redis.url)
    try:
        assert admin.client_kill_filter(_type="pubsub") >= 2  # both gateways' subscribers
    finally:
        admin.close()
    await shopper.send(type="message", text="written while the bus was away", client_id="away-1")

    seen = await amaka.expect_message("written while the bus was away", timeout=15, conversation_id=cid)
    echo = await shopper.expect_message("written while the bus was away", timeout=15, client_id="away-1")
    assert seen["id"] == echo["id"]
    assert (await texts(fresh_pg, cid)).count(("shopper", "written while the bus was away")) == 1
    # and live delivery runs again, both ways
    await amaka.send(type="message", conversation_id=cid, text="back live")
    await shopper.expect_message("back live", timeout=10, sender="agent")


async def _answer(client: Client, ref: str) -> dict:
    """The agent's own echo of a message sent with ``ref``, or the error naming it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = await client.next(timeout=10)
        if frame.get("type") == "error" and frame.get("ref") == ref:
            return frame
        if frame.get("type") == "message" and frame.get("sender") == "agent":
            return frame
    raise AssertionError("no answer")


async def _queue_is(agent_client: Client, expected: List[str]) -> bool:
    frames = [f for f in await agent_client.quiet(0.1) if f.get("type") == "queues"]
    frames = frames or [f for f in agent_client.received if f.get("type") in ("queues", "welcome")][-1:]
    return bool(frames) and [e["conversation_id"] for e in frames[-1]["queues"]["general"]] == expected


# -- gateway processes -------------------------------------------------------------


async def test_one_of_two_gateways_dies(gateway_process, fresh_pg, redis_url, redis_prefix) -> None:
    """Process one is killed (SIGKILL) under its shoppers and agent: they
    reconnect to process two with their tokens and carry on, with every
    message before the crash in the transcript."""
    args = common(fresh_pg, "--redis-url", redis_url, "--rasa-url", CLOSED_RASA)
    env = {"KARA_GATEWAY_REDIS_PREFIX": redis_prefix}
    one = gateway_process(*args, env=env)
    two = gateway_process(*args, env=env)
    await add_agent(fresh_pg, "amaka", "Amaka")
    token = (await login(one, "amaka", "correct horse"))["token"]
    a = await resume_agent(one.ws_url, token)
    chatting = await handed_off(one.ws_url)
    waiting = await handed_off(one.ws_url)
    cid = cid_of(chatting)
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    for i in range(5):
        await chatting.send(type="message", text=f"before {i}", client_id=f"b{i}")
        await a.send(type="message", conversation_id=cid, text=f"reply {i}")
    await chatting.expect("message", sender="agent", text="reply 4")
    # "accepted" is acknowledged: the shopper's own echo of its last message (its
    # group commit may finish after the agent's replies have been relayed)
    await chatting.expect("message", sender="shopper", client_id="b4")

    one.proc.send_signal(signal.SIGKILL)
    one.proc.wait(10)
    for client in (a, chatting, waiting):
        with pytest.raises(websockets.ConnectionClosed):
            for _ in range(1000):
                await asyncio.wait_for(client.ws.recv(), 10)

    a2 = await resume_agent(two.ws_url, token)
    [chat] = a2.received[0]["chats"]
    assert chat["conversation_id"] == cid
    said = [m["text"] for m in chat["transcript"]]
    assert [t for t in said if t.startswith("before")] == [f"before {i}" for i in range(5)]
    assert [t for t in said if t.startswith("reply")] == [f"reply {i}" for i in range(5)]
    assert [e["conversation_id"] for e in a2.received[0]["queues"]["general"]] == [cid_of(waiting)]
    s2 = await hello(two.ws_url, token=token_of(chatting))
    assert s2.received[0]["state"] == "agent"
    history_ids = [m["id"] for m in s2.received[0]["history"]]
    assert len(history_ids) == len(set(history_ids))
    # a resend of a message whose echo was lost is stored once
    await s2.send(type="message", text="before 4", client_id="b4")
    await s2.expect("message", client_id="b4")
    await s2.send(type="message", text="after the crash")
    await a2.expect("message", sender="shopper", text="after the crash", timeout=10)
    await a2.send(type="message", conversation_id=cid, text="welcome back")
    await s2.expect("message", sender="agent", text="welcome back", timeout=10)
    w2 = await hello(two.ws_url, token=token_of(waiting))
    assert w2.received[0]["state"] == "waiting"
    await a2.send(type="claim", conversation_id=cid_of(waiting))
    await w2.expect("agent_joined", timeout=10)
    stored = await texts(fresh_pg, cid)
    assert stored.count(("shopper", "before 4")) == 1
    assert two.proc.poll() is None


async def test_dead_process_agent_who_never_returns(gateway_process, fresh_pg, redis_url, redis_prefix) -> None:
    """Process one dies with an agent's chat on it and the agent does not come
    back: its grace timer died with it, yet process two requeues the chat
    (front of the queue) once the agent's presence expired and the grace
    period passed, and tells the shopper, who had moved to process two."""
    args = common(fresh_pg, "--redis-url", redis_url, "--rasa-url", CLOSED_RASA, "--grace-seconds", "1")
    env = {"KARA_GATEWAY_REDIS_PREFIX": redis_prefix, "KARA_GATEWAY_PRESENCE_TTL_S": "3"}
    one = gateway_process(*args, env=env)
    two = gateway_process(*args, env=env)
    await add_agent(fresh_pg, "amaka", "Amaka")
    await add_agent(fresh_pg, "bola", "Bola")
    a = await agent(one, "amaka")
    s = await handed_off(one.ws_url)
    cid = cid_of(s)
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    one.proc.send_signal(signal.SIGKILL)
    one.proc.wait(10)
    s2 = await hello(two.ws_url, token=token_of(s))
    assert s2.received[0]["state"] == "agent"
    await s2.expect_message("agent was disconnected", sender="system", timeout=30)
    await s2.expect("state", state="waiting", queue="general")
    b = await agent(two, "bola")
    [entry] = b.received[0]["queues"]["general"]
    assert entry["conversation_id"] == cid and entry["requeued"] is True
    await b.send(type="claim", conversation_id=cid)
    await b.expect("claimed")
    await s2.expect("agent_joined", timeout=10)


async def test_dropped_agent_connection_requeues_after_grace(gateway_process, fresh_pg) -> None:
    """The agent's TCP connection is cut (no closing handshake): after the
    grace period the chat is back at the front of its queue, the shopper is
    told, another agent takes it with the whole transcript."""
    gw = gateway_process(*common(fresh_pg, "--rasa-url", CLOSED_RASA, "--grace-seconds", "1.5"))
    await add_agent(fresh_pg, "amaka", "Amaka")
    await add_agent(fresh_pg, "bola", "Bola")
    a = await agent(gw, "amaka")
    s = await handed_off(gw.ws_url)
    behind = await handed_off(gw.ws_url)
    cid = cid_of(s)
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await s.send(type="message", text="are you there?")
    await a.expect("message", sender="shopper", text="are you there?")

    a.ws.transport.abort()  # RST, no close frame
    cut = time.monotonic()
    await s.expect_message("agent was disconnected", sender="system", timeout=15)
    assert time.monotonic() - cut >= 1.4
    await s.expect("state", state="waiting", queue="general")
    queue = await s.expect("queue", timeout=5)
    assert queue["position"] == 1
    b = await agent(gw, "bola")
    general = b.received[0]["queues"]["general"]
    assert [e["conversation_id"] for e in general] == [cid, cid_of(behind)]
    assert general[0]["requeued"] is True
    await b.send(type="claim", conversation_id=cid)
    chat = (await b.expect("claimed"))["chat"]
    assert "are you there?" in [m["text"] for m in chat["transcript"]]
    storage = Storage(fresh_pg)
    try:
        stints = await storage.handoffs(cid)
    finally:
        await storage.close()
    assert [h.outcome for h in stints] == ["requeued", None]
    assert gw.proc.poll() is None
