"""The shopper's earlier conversations (handoff/desk/shopper_history.py) through a
real gateway (SQLite with live state in memory, PostgreSQL with Redis): listed
and read by their own tokens only, private notes never, a foreign Origin refused."""
from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

import aiohttp
import pytest

from .helpers import add_agent, agent, handed_off, shopper

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["sqlite+memory", "postgresql+redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Any) -> Dict[str, Any]:
    """The gateway's SQL database and live state under test."""
    if request.param == "sqlite+memory":
        return {"db_url": f"sqlite:///{tmp_path / 'history.db'}"}
    return {"db_url": request.getfixturevalue("fresh_pg"), "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": request.getfixturevalue("redis_prefix")}


async def post(gw: Any, path: str, body: Any, origin: Optional[str] = None,
               method: str = "POST") -> Tuple[int, Dict[str, str], Any]:
    headers = {"Content-Type": "text/plain"}  # as the widget sends it: no CORS preflight
    if origin:
        headers["Origin"] = origin
    data = None if method == "GET" else body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session:
        async with session.request(method, gw.url + path, data=data, headers=headers) as r:
            return r.status, dict(r.headers), await r.json(content_type=None)


async def test_a_browser_lists_and_reads_its_own_conversations(make_gateway, stores) -> None:
    gw = await make_gateway(**stores)
    await add_agent(gw.gateway.config.db_url, "ada", "Ada")
    first = await handed_off(gw)  # "/request_human": a payload, not the first line
    first_id, first_token = first.received[0]["conversation_id"], first.received[0]["token"]
    await first.send(type="message", text="My parcel   KH-204518 never came", client_id="m1")
    await first.expect("message", client_id="m1")
    a = await agent(gw, "ada")
    await a.send(type="claim", conversation_id=first_id)
    await a.expect("claimed")
    await a.send(type="note", conversation_id=first_id, text="NOTE-ONLY-FOR-AGENTS")
    await a.expect("message", sender="note")
    await a.send(type="message", conversation_id=first_id, text="Sorry! Checking the courier now.")
    await first.expect("message", sender="agent")
    await first.close()
    second = await shopper(gw)
    second_id, second_token = second.received[0]["conversation_id"], second.received[0]["token"]
    await second.send(type="message", text="Do you sell glucose strips?", client_id="m2")
    await second.expect("message", client_id="m2")
    other = await shopper(gw)  # someone else's conversation: not in this browser's list
    await other.close()

    status, headers, body = await post(gw, "/api/shopper/conversations",
                                       {"tokens": [first_token, second_token, "forged.token", 42]},
                                       origin=gw.url)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == gw.url
    listed = {c["conversation_id"]: c for c in body["conversations"]}
    assert list(listed) == [second_id, first_id]  # newest first, nobody else's
    assert listed[first_id]["first_line"] == "My parcel KH-204518 never came"
    assert listed[first_id]["state"] == "agent" and listed[second_id]["state"] == "bot"
    assert listed[second_id]["first_line"] == "Do you sell glucose strips?"
    assert "NOTE-ONLY-FOR-AGENTS" not in json.dumps(body)

    status, _, read = await post(gw, "/api/shopper/transcript", {"token": first_token})
    assert status == 200 and read["conversation"]["id"] == first_id
    texts = [m["text"] for m in read["messages"]]
    assert "Sorry! Checking the courier now." in texts and "My parcel   KH-204518 never came" in texts
    assert {m["sender"] for m in read["messages"]} <= {"shopper", "bot", "agent", "system"}
    assert "NOTE-ONLY-FOR-AGENTS" not in json.dumps(read)  # a private note never reaches a shopper
    assert listed[first_id]["messages"] == len(read["messages"])
    status, _, read = await post(gw, "/api/shopper/transcript", {"token": second_token})
    assert [m["text"] for m in read["messages"] if m["sender"] == "shopper"] == ["Do you sell glucose strips?"]


async def test_only_valid_tokens_and_the_own_origin(make_gateway) -> None:
    gw = await make_gateway()
    s = await shopper(gw)
    token = s.received[0]["token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await post(gw, "/api/shopper/transcript", {"token": forged}))[0] == 401
    assert (await post(gw, "/api/shopper/transcript", {"token": None}))[0] == 401
    elsewhere = await make_gateway(secret="another-secret")  # a token of another gateway
    other = await shopper(elsewhere)
    assert (await post(gw, "/api/shopper/transcript", {"token": other.received[0]["token"]}))[0] == 401
    assert (await post(gw, "/api/shopper/conversations", {"tokens": [forged]}))[2] == {"conversations": []}
    status, headers, body = await post(gw, "/api/shopper/conversations", {"tokens": [token]},
                                       origin="https://evil.example")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert (await post(gw, "/api/shopper/conversations", {"tokens": [token] * 21}))[0] == 400
    assert (await post(gw, "/api/shopper/conversations", b"not json"))[0] == 400
    assert (await post(gw, "/api/shopper/transcript", {"token": token}, method="GET"))[0] == 405
