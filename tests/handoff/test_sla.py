"""SLA countdown and escalation (handoff/countdown.py, handoff/escalation.py)
on real gateways with real websocket clients, in memory and on Redis, with
targets of a few seconds (their own ops.yml, around the clock):

* the frames carry each chat's first-response deadline (``sla_due``);
* a chat nobody answers in time is escalated once: supervisors online get an
  ``sla_alert``, ``kara_sla_breaches_total`` counts it, an emergency pages the
  on-call person again;
* a claimed chat whose agent goes quiet is flagged to the agent and the
  supervisors, then returned to the front of its queue (an emergency pages
  again then too);
* two gateway processes sharing Redis escalate once, not once each;
* the login answer and the agent's welcome carry the agent's role.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from pathlib import Path
from typing import Any, Dict, List

import aiohttp
import pytest
import yaml

from handoff.escalation import REQUEUED_TEXT
from handoff.ops import db, roles
from handoff.storage import Storage

from .helpers import Client, add_agent, agent, handed_off, login
from .test_flows import page_receiver

TOKEN = "metrics-secret"
GENERAL_S, EMERGENCY_S, FLAG_S, REQUEUE_S = 2, 1, 2, 4


@pytest.fixture(autouse=True)
def short_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every queue staffed around the clock, targets and silences of seconds."""
    always = {"hours": "always"}
    settings = {
        "timezone": "Africa/Lagos",
        "team_hours": {"monday": ["10:00", "19:00"]},
        "queues": {
            "emergency": {"first_response_s": EMERGENCY_S, **always},
            "security": {"first_response_s": 30, **always},
            "general": {"first_response_s": GENERAL_S, **always},
            "disputes": {"first_response_s": 30, **always},
        },
        "agent_silence": {"flag_after_s": FLAG_S, "requeue_after_s": REQUEUE_S},
        "retention": {"transcript_days": 30},
    }
    path = tmp_path / "ops-sla.yml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    monkeypatch.setenv("KARA_OPS_FILE", str(path))
    return path


def make_supervisor(db_url: str, username: str) -> None:
    engine = db.engine(db_url)
    try:
        assert roles.set_role(engine, username, roles.SUPERVISOR)
    finally:
        engine.dispose()


async def team(gw: Any) -> Dict[str, Client]:
    """Sade the supervisor and Kemi the agent, both online."""
    url = gw.gateway.config.db_url
    await add_agent(url, "sade", "Sade")
    await add_agent(url, "kemi", "Kemi")
    make_supervisor(url, "sade")
    return {"sade": await agent(gw, "sade"), "kemi": await agent(gw, "kemi")}


def parse_iso(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def alerts(frames: List[Dict[str, Any]], kind: str, cid: str) -> List[Dict[str, Any]]:
    return [f for f in frames if f.get("type") == "sla_alert" and f["kind"] == kind and f["conversation_id"] == cid]


async def breaches(gw: Any) -> float:
    """``kara_sla_breaches_total`` for the general queue, scraped over HTTP."""
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
            assert answer.status == 200
            text = await answer.text()
    found = re.search(r'^kara_sla_breaches_total\{queue="general"\} (\S+)$', text, re.M)
    assert found, text
    return float(found.group(1))


async def start(make_gateway: Any, live: dict, **config: Any) -> Any:
    return await make_gateway(sla_check_s=0.2, metrics_token=TOKEN, **live, **config)


async def test_a_waiting_chat_past_its_target_alerts_the_supervisors_once(make_gateway, live) -> None:
    gw = await start(make_gateway, live)
    people = await team(gw)
    before = time.time()
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    ring = await people["kemi"].expect("handoff")
    due = parse_iso(ring["entry"]["sla_due"])
    assert before + GENERAL_S - 0.5 <= due <= time.time() + GENERAL_S + 0.5  # the queue's target, from the handoff
    assert parse_iso(ring["entry"]["enqueued_at"]) + GENERAL_S == pytest.approx(due, abs=0.01)

    alert = await people["sade"].expect("sla_alert", timeout=GENERAL_S + 3, kind="breach")
    assert alert["conversation_id"] == cid and alert["queue"] == "general" and alert["state"] == "waiting"
    assert alert["sla_due"] == ring["entry"]["sla_due"] and alert["agent"] is None
    await asyncio.sleep(1.0)  # several more rounds
    assert not alerts(await people["sade"].quiet(0.3), "breach", cid)  # once
    assert not [f for f in await people["kemi"].quiet(0.3) if f.get("type") == "sla_alert"]  # supervisors only
    assert await breaches(gw) == 1


async def test_a_claimed_chat_without_an_answer_is_flagged_then_requeued(make_gateway, live) -> None:
    gw = await start(make_gateway, live)
    people = await team(gw)
    kemi, sade = people["kemi"], people["sade"]
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await kemi.send(type="claim", conversation_id=cid)
    claimed = await kemi.expect("claimed")
    assert claimed["chat"]["sla_due"] is not None  # no answer yet: the countdown goes on

    breach = await sade.expect("sla_alert", timeout=GENERAL_S + 3, kind="breach")
    assert breach["state"] == "agent" and breach["agent"]["name"] == "Kemi"
    flagged = await kemi.expect("sla_alert", timeout=FLAG_S + 3, kind="silent")
    assert flagged["conversation_id"] == cid and flagged["silent_s"] >= FLAG_S
    assert (await sade.expect("sla_alert", kind="silent"))["conversation_id"] == cid

    ended = await kemi.expect("chat_ended", timeout=REQUEUE_S + 3, conversation_id=cid)
    assert ended["why"] == "requeued"
    assert (await kemi.expect("sla_alert", kind="requeued"))["state"] == "waiting"
    assert (await sade.expect("sla_alert", kind="requeued"))["agent"]["name"] == "Kemi"
    await s.expect_message(REQUEUED_TEXT, sender="system")
    await s.expect("state", state="waiting", queue="general")
    front = (await gw.gateway.live.snapshot())["general"][0]
    assert front.conversation_id == cid and front.requeued

    await asyncio.sleep(1.0)
    assert not alerts(await sade.quiet(0.3), "breach", cid)  # the same clock: not escalated twice
    assert await breaches(gw) == 1
    storage = Storage(gw.gateway.config.db_url)
    try:
        assert [h.outcome for h in await storage.handoffs(cid)] == ["requeued", None]
    finally:
        await storage.close()


async def test_an_answered_chat_counts_down_no_more_and_a_quiet_agent_is_flagged(make_gateway, live) -> None:
    gw = await start(make_gateway, live)
    people = await team(gw)
    kemi, sade = people["kemi"], people["sade"]
    s = await handed_off(gw)
    cid = s.received[0]["conversation_id"]
    await kemi.send(type="claim", conversation_id=cid)
    await kemi.expect("claimed")
    await kemi.send(type="message", conversation_id=cid, text="Hello, I am Kemi. How can I help?")
    await s.expect_message("I am Kemi", sender="agent")

    again = await agent(gw, "kemi")  # a reload: the chat comes back without a countdown
    [chat] = [c for c in (again.received[0]["chats"]) if c["conversation_id"] == cid]
    assert chat["sla_due"] is None

    await s.send(type="message", text="my order KH-204518 never came", client_id="q1")
    flagged = await kemi.expect("sla_alert", timeout=FLAG_S + 3, kind="silent")
    assert flagged["conversation_id"] == cid
    await kemi.send(type="message", conversation_id=cid, text="Let me look that up.")
    await s.expect_message("look that up", sender="agent")
    await asyncio.sleep(REQUEUE_S + 0.5 - FLAG_S)
    assert not [f for f in await kemi.quiet(0.3) if f.get("type") == "chat_ended"]  # answered in time: kept
    assert not alerts(sade.received, "breach", cid)  # answered within its target
    assert (await gw.gateway.live.get(cid)).state == "agent"
    await again.close()


async def test_an_emergency_past_its_target_pages_the_on_call_person_again(make_gateway, live) -> None:
    async with page_receiver() as (webhook, received, _):
        gw = await start(make_gateway, live, page_webhook=webhook, emergency_page_after=60)
        s = await handed_off(gw, line="emergency", role="provider")  # nobody online: paged at once
        cid = s.received[0]["conversation_id"]
        await s.expect("paged")
        deadline = time.monotonic() + EMERGENCY_S + 5
        while len(received) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert [p.get("escalation") for p in received] == [None, "sla_breach"]
        assert received[1]["conversation_id"] == cid and received[1]["waited_s"] >= EMERGENCY_S
        await asyncio.sleep(0.8)
        assert len(received) == 2  # once
        storage = Storage(gw.gateway.config.db_url)
        try:
            assert len(await storage_pages(storage, cid)) == 2
        finally:
            await storage.close()


async def test_an_emergency_requeued_from_a_quiet_agent_pages_again(make_gateway, live) -> None:
    async with page_receiver() as (webhook, received, _):
        gw = await start(make_gateway, live, page_webhook=webhook, emergency_page_after=60)
        people = await team(gw)
        s = await handed_off(gw, line="emergency", role="provider")  # agents online: no page at once
        cid = s.received[0]["conversation_id"]
        await people["kemi"].send(type="claim", conversation_id=cid)
        await people["kemi"].expect("claimed")
        await people["kemi"].expect("chat_ended", timeout=REQUEUE_S + 3, conversation_id=cid, why="requeued")
        deadline = time.monotonic() + 3
        while len(received) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert [p.get("escalation") for p in received] == ["sla_breach", "requeued"]
        assert all(p["conversation_id"] == cid for p in received)


async def storage_pages(storage: Storage, cid: str) -> List[Any]:
    from sqlalchemy import select

    from handoff import models

    async with storage.engine.connect() as connection:
        rows = await connection.execute(select(models.Page.__table__).where(
            models.Page.__table__.c.conversation_id == cid))
        return list(rows)


async def test_two_gateways_on_redis_escalate_once(make_gateway, redis_url, redis_prefix, tmp_path) -> None:
    shared = dict(redis_url=redis_url, redis_prefix=redis_prefix, db_url=f"sqlite:///{tmp_path / 'shared.db'}")
    one = await start(make_gateway, {}, **shared)
    two = await start(make_gateway, {}, **shared)
    url = one.gateway.config.db_url
    for username in ("sade", "bola", "kemi"):
        await add_agent(url, username, username.title())
    make_supervisor(url, "sade")
    make_supervisor(url, "bola")
    sade, bola, kemi = await agent(one, "sade"), await agent(two, "bola"), await agent(two, "kemi")
    s = await handed_off(two)
    cid = s.received[0]["conversation_id"]
    await sade.expect("sla_alert", timeout=GENERAL_S + 3, kind="breach", conversation_id=cid)
    await bola.expect("sla_alert", timeout=3, kind="breach", conversation_id=cid)
    await kemi.send(type="claim", conversation_id=cid)
    await kemi.expect("claimed")
    await kemi.expect("sla_alert", timeout=FLAG_S + 3, kind="silent")
    await asyncio.sleep(1.0)  # both processes keep looking
    for supervisor in (sade, bola):
        frames = supervisor.received
        assert len(alerts(frames, "breach", cid)) == 1
        assert len(alerts(frames, "silent", cid)) <= 1
    assert len(alerts(kemi.received, "silent", cid)) == 1
    assert await breaches(one) + await breaches(two) == 1


async def test_the_login_answer_and_the_welcome_carry_the_role(make_gateway) -> None:
    gw = await make_gateway()
    url = gw.gateway.config.db_url
    await add_agent(url, "sade", "Sade")
    await add_agent(url, "kemi", "Kemi")
    make_supervisor(url, "sade")
    assert (await login(gw, "sade", "correct horse"))["agent"]["role"] == "supervisor"
    assert (await login(gw, "kemi", "correct horse"))["agent"]["role"] == "agent"
    welcome = (await agent(gw, "sade")).received[0]
    assert welcome["type"] == "welcome" and welcome["agent"]["role"] == "supervisor"
