"""The shopper's "Email me this conversation" (handoff/desk/transcript_mail.py)
through a real gateway (live state in memory and in Redis): authorised by
the conversation's own token, sent through the mailer to a real SMTP server
(aiosmtpd), limited per conversation, refused for a foreign Origin."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, Optional, Tuple

import aiohttp
import pytest

from actions.policy import load_policy

from .helpers import add_agent, login, shopper
from .smtp import SmtpServer

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    server = SmtpServer()
    for name, value in (("HOST", "127.0.0.1"), ("PORT", str(server.port)), ("TLS", "none"),
                        ("FROM", "support@example.com"), ("TIMEOUT_S", "5")):
        monkeypatch.setenv("KARA_SMTP_" + name, value)
    yield server
    server.stop()


async def post(gw: Any, body: Any, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(gw.url + "/api/transcript-email", data=body if isinstance(body, bytes) else None,
                                json=None if isinstance(body, bytes) else body, headers=headers or {}) as r:
            return r.status, dict(r.headers), await r.json(content_type=None)


async def test_the_shopper_gets_the_conversation_by_email(make_gateway, live, smtp: SmtpServer) -> None:
    gw = await make_gateway(**live)
    s = await shopper(gw)
    token = s.received[0]["token"]
    await s.send(type="message", text="Where is my order KH-204518?")
    await s.expect_message("assistant is unavailable", sender="system")

    status, headers, body = await post(gw, {"token": token, "email": "ngozi@example.com"},
                                       {"Origin": gw.url, "Content-Type": "text/plain"})
    assert (status, body) == (200, {"sent": True, "email": "ngozi@example.com"})
    assert headers["Access-Control-Allow-Origin"] == gw.url
    (mail,) = smtp.wait(1)
    policy = load_policy()
    assert mail.recipients == ["ngozi@example.com"]
    assert mail.message["Subject"] == f"Your conversation with {policy.company_name} support"
    assert f"(times in {policy.local_timezone_name})" in mail.text
    assert re.search(r"^\[\d\d:\d\d\] You: Where is my order KH-204518\?$", mail.text, re.M)
    assert re.search(r"^\[\d\d:\d\d\] Note: Sorry, the assistant is unavailable", mail.text, re.M)

    # two more this hour, then the limit (an attempt counts even if the mail server refused it)
    for _ in range(2):
        assert (await post(gw, {"token": token, "email": "ngozi@example.com"}))[0] == 200
    status, headers, body = await post(gw, {"token": token, "email": "ngozi@example.com"})
    assert status == 429 and int(headers["Retry-After"]) > 3000 and body["error"].startswith(
        "This conversation was emailed several times already")
    assert len(smtp.wait(3)) == 3
    await s.close()


async def test_only_the_conversations_own_token_and_origin(make_gateway, smtp: SmtpServer) -> None:
    gw = await make_gateway()
    s = await shopper(gw)
    token = s.received[0]["token"]
    await add_agent(gw.gateway.config.db_url, "amaka", "Amaka Eze")
    agent_token = (await login(gw, "amaka", "correct horse"))["token"]
    assert (await post(gw, {"token": token, "email": "a@example.com"}))[2] == {
        "error": "There is nothing in this conversation yet."}
    await s.send(type="message", text="hello")
    await s.expect_message("assistant is unavailable", sender="system")

    assert (await post(gw, {"email": "a@example.com"}))[0] == 401
    assert (await post(gw, {"token": agent_token, "email": "a@example.com"}))[0] == 401  # an agent's is not it
    assert (await post(gw, {"token": token + "x", "email": "a@example.com"}))[0] == 401
    assert (await post(gw, {"token": token, "email": "not an email"}))[:3:2] == (
        400, {"error": "Please enter a valid email address."})
    assert (await post(gw, b"not json"))[0] == 400
    status, headers, _ = await post(gw, {"token": token, "email": "a@example.com"}, {"Origin": "https://evil.example"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    # the header form works too, for tools that are not browsers
    status, _, body = await post(gw, {"email": "a@example.com"}, {"Authorization": f"Bearer {token}"})
    assert (status, body["sent"]) == (200, True)
    assert [m.recipients for m in smtp.wait(1)] == [["a@example.com"]]

    smtp.stop()
    status, _, body = await post(gw, {"token": token, "email": "a@example.com"})
    assert status == 502 and body["sent"] is False and body["error"].startswith("not sent: the mail server")
    await s.close()
