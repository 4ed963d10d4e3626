"""The agent desk's API (handoff/desk/) on a real gateway, SQLite and PostgreSQL:
canned replies that follow policy.yml, the supervisors' audit log, agent
administration (a disabled agent is locked out at once) and conversation labels."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import aiohttp
import pytest
import websockets
import yaml

from actions.policy import DEFAULT_POLICY_FILE, load_policy
from handoff.ops import db
from handoff.ops.roles import set_role

from .helpers import REPO, Client, add_agent, handed_off, login

Reply = Tuple[int, Dict[str, Any]]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.db'}"
    return str(request.getfixturevalue("fresh_pg"))


async def call(gw: Any, path: str, token: Optional[str] = None, body: Any = None,
               method: Optional[str] = None) -> Reply:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method or ("GET" if body is None else "POST"), gw.url + path,
                                   headers=headers, json=body) as r:
            return r.status, await r.json(content_type=None)


async def desk(make_gateway: Any, db_url: str, **gateway: Any) -> Tuple[Any, str, str]:
    """A gateway (``gateway``: more settings) with the supervisor sade and the agent tunde; their tokens."""
    gw = await make_gateway(db_url=db_url, **gateway)
    await add_agent(db_url, "sade", "Sade Bello")
    await add_agent(db_url, "tunde", "Tunde Ola")
    engine = db.engine(db_url)
    try:
        set_role(engine, "sade", "supervisor")
    finally:
        engine.dispose()
    return gw, (await login(gw, "sade", "correct horse"))["token"], (await login(gw, "tunde", "correct horse"))["token"]


async def test_canned_replies_are_seeded_from_the_policy_and_edited_by_supervisors(make_gateway, db_url) -> None:
    gw, sade, tunde = await desk(make_gateway, db_url)
    facts = load_policy().template_vars()
    status, body = await call(gw, "/api/canned", tunde)
    assert status == 200
    by_shortcut = {r["shortcut"]: r for r in body["replies"]}
    assert {"refund", "order", "email", "phone", "thanks"} <= set(by_shortcut)
    refund = by_shortcut["refund"]
    assert "{refund_processing_time}" in refund["text"]
    assert facts["refund_processing_time"] in refund["rendered"] and "{" not in refund["rendered"]
    assert "refund_processing_time" in body["facts"]

    assert (await call(gw, "/api/canned"))[0] == 401
    assert (await call(gw, "/api/canned", "not-a-token"))[0] == 401
    new = {"shortcut": "late", "title": "Late delivery",
           "text": "Sorry! We answer emails within {general_response_time}."}
    status, body = await call(gw, "/api/canned", tunde, new)
    assert (status, body["error"]) == (403, "this is for supervisors")
    assert (await call(gw, f"/api/canned/{refund['id']}/delete", tunde, {}))[0] == 403

    status, made = await call(gw, "/api/canned", sade, new)
    assert status == 201, made
    assert made["rendered"] == f"Sorry! We answer emails within {facts['general_response_time']}."
    status, body = await call(gw, "/api/canned", sade, {**new, "title": "again"})
    assert (status, body["error"]) == (409, "shortcut /late is taken")
    status, edited = await call(gw, f"/api/canned/{made['id']}", sade, {"text": "Call {phone}, {phone_hours}."})
    assert status == 200 and edited["rendered"] == f"Call {facts['phone']}, {facts['phone_hours']}."
    assert edited["title"] == "Late delivery"
    status, body = await call(gw, f"/api/canned/{made['id']}/delete", sade, {})
    assert (status, body) == (200, {"deleted": made["id"]})
    assert "late" not in {r["shortcut"] for r in (await call(gw, "/api/canned", tunde))[1]["replies"]}
    assert (await call(gw, f"/api/canned/{made['id']}", sade, {"title": "x"}))[0] == 404

    entries = (await call(gw, "/api/audit", sade))[1]["entries"]
    assert [(e["action"], e["target"], e["actor"]["name"]) for e in entries] == [
        ("canned.delete", "/late", "Sade Bello"), ("canned.edit", "/late", "Sade Bello"),
        ("canned.create", "/late", "Sade Bello")]
    assert entries[1]["detail"]["changes"]["text"] == [new["text"], "Call {phone}, {phone_hours}."]
    assert entries[0]["at"].endswith("Z")
    assert (await call(gw, "/api/audit", tunde))[0] == 403
    assert (await call(gw, "/api/audit"))[0] == 401
    assert [e["action"] for e in (await call(gw, f"/api/audit?limit=1&before={entries[0]['id']}", sade))[1][
        "entries"]] == ["canned.edit"]
    assert (await call(gw, "/api/audit?limit=0", sade))[0] == 400


@pytest.mark.parametrize("body, message", [
    ({"shortcut": "Bad shortcut!", "title": "t", "text": "x"}, "shortcut: 1-32 characters"),
    ({"shortcut": "ok", "title": "", "text": "x"}, "title: give some text"),
    ({"shortcut": "ok", "title": "t", "text": "x" * 2001}, "text: at most 2000 characters"),
    ({"shortcut": "ok", "title": "t", "text": "within {refund_window}"}, "text: {refund_window} is not a policy fact"),
    ([1, 2], "send one JSON object"),
])
async def test_bad_canned_replies_get_a_clear_400(make_gateway, tmp_path, body, message) -> None:
    gw, sade, _ = await desk(make_gateway, f"sqlite:///{tmp_path / 'desk.db'}")
    status, answer = await call(gw, "/api/canned", sade, body)
    assert status == 400 and answer["error"].startswith(message), answer
    assert "late" not in json.dumps((await call(gw, "/api/canned", sade))[1])


async def test_a_canned_reply_follows_a_policy_change(make_gateway, tmp_path, monkeypatch) -> None:
    policy = tmp_path / "policy.yml"
    shutil.copy(DEFAULT_POLICY_FILE, policy)
    monkeypatch.setenv("KARA_POLICY_FILE", str(policy))
    gw, _, tunde = await desk(make_gateway, f"sqlite:///{tmp_path / 'desk.db'}")

    async def refund() -> str:
        replies = (await call(gw, "/api/canned", tunde))[1]["replies"]
        return str(next(r["rendered"] for r in replies if r["shortcut"] == "refund"))

    before = await refund()
    assert load_policy().window("refund_processing").text() in before
    raw = yaml.safe_load(policy.read_text())
    raw["windows"]["refund_processing"] = {"min": 3, "max": 4, "unit": "business days"}
    policy.write_text(yaml.safe_dump(raw))  # a one-line edit of the policy, no restart
    after = await refund()
    assert "within 3-4 business days" in after and after != before
    load_policy.cache_clear()  # type: ignore[attr-defined]


async def test_supervisors_create_and_disable_agents(make_gateway, db_url) -> None:
    gw, sade, tunde = await desk(make_gateway, db_url)
    new = {"username": "bisi", "name": "Bisi Ade", "password": "a long password", "capacity": 4}
    assert (await call(gw, "/api/agents", tunde, new))[0] == 403
    assert (await call(gw, "/api/agents", tunde))[0] == 403
    status, made = await call(gw, "/api/agents", sade, new)
    assert status == 201, made
    assert (made["username"], made["role"], made["capacity"], made["active"]) == ("bisi", "agent", 4, True)
    assert (await call(gw, "/api/agents", sade, new))[0] == 409
    for bad, field in [({**new, "username": "no spaces"}, "username"), ({**new, "password": "short"}, "password"),
                       ({**new, "username": "b2", "role": "boss"}, "role"),
                       ({**new, "username": "b3", "capacity": 0}, "capacity")]:
        status, body = await call(gw, "/api/agents", sade, bad)
        assert status == 400 and body["error"].startswith(field), body

    bisi = (await login(gw, "bisi", "a long password"))["token"]
    assert (await call(gw, "/api/canned", bisi))[0] == 200
    console = await Client.connect(gw.ws_url + "/ws/agent")
    await console.send(type="hello", v=1, token=bisi)
    await console.expect("welcome")

    status, changed = await call(gw, f"/api/agents/{made['id']}", sade, {"active": False, "capacity": 2})
    assert status == 200 and (changed["active"], changed["capacity"]) == (False, 2)
    with pytest.raises(websockets.ConnectionClosed) as closed:  # the open console is closed at once
        for _ in range(20):
            await console.next(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert (await call(gw, "/api/canned", bisi))[0] == 401  # the token stopped working
    async with aiohttp.ClientSession() as session:
        async with session.post(gw.url + "/api/login", json={"username": "bisi", "password": "a long password"}) as r:
            assert r.status == 401
    again = await Client.connect(gw.ws_url + "/ws/agent")
    await again.send(type="hello", v=1, token=bisi)
    assert (await again.expect("error"))["code"] == "unauthorized"

    me = next(a for a in (await call(gw, "/api/agents", sade))[1]["agents"] if a["username"] == "sade")
    for change in ({"active": False}, {"role": "agent"}):
        status, body = await call(gw, f"/api/agents/{me['id']}", sade, change)
        assert status == 400 and "your own account" in body["error"]
    assert (await call(gw, f"/api/agents/{made['id']}", sade, {"role": "supervisor", "active": True}))[0] == 200
    assert (await call(gw, "/api/agents/999", sade, {"active": True}))[0] == 404
    assert (await call(gw, f"/api/agents/{made['id']}", sade, {}))[0] == 400

    actions = [(e["action"], e["target"]) for e in (await call(gw, "/api/audit", sade))[1]["entries"]]
    assert actions == [("agent.update", "bisi"), ("agent.update", "bisi"), ("agent.create", "bisi")]
    latest = (await call(gw, "/api/audit?limit=1", sade))[1]["entries"][0]
    assert latest["detail"]["changes"] == {"role": ["agent", "supervisor"], "active": [False, True]}


async def test_create_agent_on_the_command_line_still_works(make_gateway, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    gw, sade, _ = await desk(make_gateway, url)
    done = subprocess.run([sys.executable, "-m", "handoff", "create-agent", "kemi", "--name", "Kemi",
                           "--password", "long enough", "--db-url", url], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    kemi = next(a for a in (await call(gw, "/api/agents", sade))[1]["agents"] if a["username"] == "kemi")
    assert (kemi["role"], kemi["capacity"], kemi["active"]) == ("agent", 3, True)
    assert (await login(gw, "kemi", "long enough"))["token"]


async def test_labels_on_a_conversation(make_gateway, db_url) -> None:
    gw, _, tunde = await desk(make_gateway, db_url)
    shopper = await handed_off(gw)
    cid = await _conversation_of(gw, tunde)
    path = f"/api/conversations/{cid}/labels"
    assert (await call(gw, path))[0] == 401
    assert (await call(gw, path, tunde))[1]["labels"] == []
    assert (await call(gw, path, tunde, {"label": "  Refund  "}))[1]["labels"] == ["refund"]
    assert (await call(gw, path, tunde, {"label": "damaged item"}))[1]["labels"] == ["damaged item", "refund"]
    assert (await call(gw, path, tunde, {"label": "refund"}))[1]["labels"] == ["damaged item", "refund"]
    status, body = await call(gw, path, tunde, {"label": "<b>"})
    assert status == 400 and body["error"].startswith("label:")
    assert (await call(gw, path + "/delete", tunde, {"label": "refund"}))[1]["labels"] == ["damaged item"]
    assert (await call(gw, "/api/labels", tunde))[1]["labels"] == [{"label": "damaged item", "conversations": 1}]
    assert (await call(gw, "/api/conversations/nope/labels", tunde))[0] == 404
    await shopper.close()


async def _conversation_of(gw: Any, token: str) -> str:
    """The one waiting chat, as an agent's console sees it."""
    console = await Client.connect(gw.ws_url + "/ws/agent")
    await console.send(type="hello", v=1, token=token)
    welcome = await console.expect("welcome")
    await console.close()
    waiting = [e for entries in welcome["queues"].values() for e in entries]
    assert len(waiting) == 1
    return str(waiting[0]["conversation_id"])


async def test_a_disabled_agent_is_closed_on_every_gateway_process(make_gateway, redis_url, redis_prefix,
                                                                   tmp_path: Path) -> None:
    """Two gateways on one Redis and one database: disabling through the first
    closes the agent's console on the second at once, not at its next hello."""
    db_url = f"sqlite:///{tmp_path / 'two.db'}"
    redis = {"redis_url": redis_url, "redis_prefix": redis_prefix}
    one, sade, _ = await desk(make_gateway, db_url, **redis)
    two = await make_gateway(db_url=db_url, **redis)
    tunde = (await login(two, "tunde", "correct horse"))["token"]
    console = await Client.connect(two.ws_url + "/ws/agent")
    await console.send(type="hello", v=1, token=tunde)
    tunde_id = (await console.expect("welcome"))["agent"]["id"]
    status, _ = await call(one, f"/api/agents/{tunde_id}", sade, {"active": False})
    assert status == 200
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(20):
            await console.next(timeout=2)  # well before any reconnect would notice
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
