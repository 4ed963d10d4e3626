"""The ticket inbox and ratings of the agent desk (handoff/desk/), through a
real gateway on SQLite and PostgreSQL: a shopper leaves a ticket on the
websocket and is told when to expect the answer, an agent lists the inbox,
reads the conversation, replies (a real SMTP server, aiosmtpd, receives the
email) and closes it; a reply the mail server refuses is kept and says it
was not sent; agents see the ratings of the chats they closed."""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, Optional, Tuple

import aiohttp
import pytest

from actions.policy import load_policy

from .helpers import add_agent, agent, handed_off, login, shopper
from .smtp import SmtpServer

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return str(request.getfixturevalue("fresh_pg"))


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """The gateway's mail goes to this server (KARA_SMTP_*, read at start)."""
    server = SmtpServer()
    monkeypatch.setenv("KARA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KARA_SMTP_PORT", str(server.port))
    monkeypatch.setenv("KARA_SMTP_TLS", "none")
    monkeypatch.setenv("KARA_SMTP_FROM", "Kara support <support@example.com>")
    monkeypatch.setenv("KARA_SMTP_TIMEOUT_S", "5")
    yield server
    server.stop()


async def call(gw: Any, path: str, token: Optional[str] = None, *, method: str = "GET",
               body: Any = None, raw: Optional[bytes] = None) -> Tuple[int, Dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    async with aiohttp.ClientSession() as session:
        async with session.request(method, gw.url + path, headers=headers, data=data) as r:
            return r.status, await r.json(content_type=None)


async def leave_ticket(gw: Any, email: str, text: str) -> Tuple[str, int, str]:
    """A shopper asks for a person, nobody is online, a ticket is left: (conversation, ticket id, confirmation)."""
    s = await handed_off(gw)
    await s.expect("offline")
    await s.send(type="ticket", email=email, text=text, ref="t")
    saved = await s.expect("ticket_saved", ref="t")
    note = await s.expect_message("saved as ticket", sender="system")
    cid = s.received[0]["conversation_id"]
    await s.close()
    assert saved["reply_within"] == load_policy().window("general_response").text()  # the widget's card says it
    return cid, int(saved["ticket_id"]), note["text"]


async def test_an_agent_answers_a_ticket_by_email(make_gateway, db_url: str, smtp: SmtpServer) -> None:
    gw = await make_gateway(db_url=db_url)
    _, first, said = await leave_ticket(gw, "ada@example.com", "My order KH-204518 came damaged, please help")
    _, second, _ = await leave_ticket(gw, "bola@example.com", "Where is my refund?")
    window = load_policy().window("general_response").text()  # "24-48 hours" in policy.yml
    assert said == f"Thank you. Your message was saved as ticket #{first}; we will reply by email within {window}."
    await add_agent(db_url, "amaka", "Amaka Eze")
    token = (await login(gw, "amaka", "correct horse"))["token"]

    status, inbox = await call(gw, "/api/tickets?status=open", token)
    assert status == 200 and inbox["counts"] == {"open": 2, "answered": 0, "closed": 0}
    assert [(t["id"], t["email"], t["status"], t["queue"]) for t in inbox["tickets"]] == [
        (first, "ada@example.com", "open", "general"), (second, "bola@example.com", "open", "general")]
    status, one = await call(gw, f"/api/tickets/{first}", token)
    assert status == 200 and one["ticket"]["text"] == "My order KH-204518 came damaged, please help"
    senders = [(m["sender"], m["text"]) for m in one["transcript"]]
    assert ("shopper", "/request_human") in senders and senders[-1][0] == "system" and "within" in senders[-1][1]

    reply = "Sorry about that! A replacement leaves our Yaba store today."
    status, done = await call(gw, f"/api/tickets/{first}/reply", token, method="POST", body={"text": reply})
    assert status == 200 and done["sent"] is True, done
    assert done["ticket"]["status"] == "answered" and done["ticket"]["answered_by"] == "Amaka Eze"
    (mail,) = smtp.wait(1)
    company = load_policy().company_name
    assert mail.recipients == ["ada@example.com"] and mail.message["From"] == "Kara support <support@example.com>"
    assert mail.message["Subject"] == f"Re: your message to {company} (ticket #{first})"
    assert mail.text.startswith(reply + "\n\nAmaka Eze\n") and "> My order KH-204518 came damaged" in mail.text

    _, answered = await call(gw, "/api/tickets?status=answered", token)
    assert [t["id"] for t in answered["tickets"]] == [first] and answered["counts"]["open"] == 1
    status, closed = await call(gw, f"/api/tickets/{first}/close", token, method="POST")
    assert status == 200 and closed["ticket"]["status"] == "closed" and closed["ticket"]["closed_at"]
    assert (await call(gw, f"/api/tickets/{first}/close", token, method="POST"))[0] == 409
    status, refused = await call(gw, f"/api/tickets/{first}/reply", token, method="POST", body={"text": "again"})
    assert status == 409 and refused["error"] == f"ticket #{first} is closed"
    _, listed = await call(gw, "/api/tickets?status=closed", token)
    assert [t["id"] for t in listed["tickets"]] == [first] and len(smtp.arrived) == 1
    _, one = await call(gw, f"/api/tickets/{first}", token)
    assert [(r["agent"], r["text"], r["sent"]) for r in one["replies"]] == [("Amaka Eze", reply, True)]


async def test_a_reply_the_mail_server_refuses_is_kept(make_gateway, db_url: str, smtp: SmtpServer) -> None:
    gw = await make_gateway(db_url=db_url)
    _, ticket, _ = await leave_ticket(gw, "ada@example.com", "Please call me")
    await add_agent(db_url, "amaka", "Amaka Eze")
    token = (await login(gw, "amaka", "correct horse"))["token"]
    smtp.stop()  # the mail server goes away
    status, failed = await call(gw, f"/api/tickets/{ticket}/reply", token, method="POST", body={"text": "First try"})
    assert status == 502 and failed["sent"] is False
    assert failed["error"].startswith("not sent: the mail server SMTP 127.0.0.1:")
    assert failed["error"].endswith("(the reply is kept; try again)")
    assert failed["reply"]["text"] == "First try" and failed["reply"]["sent_at"] is None
    assert failed["ticket"]["status"] == "open" and failed["ticket"]["answered_at"] is None

    smtp.start()  # back, on the same port
    status, done = await call(gw, f"/api/tickets/{ticket}/reply", token, method="POST", body={"text": "Second try"})
    assert status == 200 and done["ticket"]["status"] == "answered"
    assert [m.text.split("\n")[0] for m in smtp.wait(1)] == ["Second try"]
    _, one = await call(gw, f"/api/tickets/{ticket}", token)
    assert [(r["text"], r["sent"], bool(r["error"])) for r in one["replies"]] == [
        ("First try", False, True), ("Second try", True, False)]


async def test_only_agents_and_only_good_requests(make_gateway, db_url: str, smtp: SmtpServer) -> None:
    gw = await make_gateway(db_url=db_url)
    _, ticket, _ = await leave_ticket(gw, "ada@example.com", "Hello")
    await add_agent(db_url, "amaka", "Amaka Eze")
    token = (await login(gw, "amaka", "correct horse"))["token"]
    s = await shopper(gw)
    shopper_token = s.received[0]["token"]
    await s.close()

    status, body = await call(gw, "/api/tickets")
    assert status == 401 and body["error"].startswith("sign in")
    assert (await call(gw, "/api/tickets", "forged.token"))[0] == 401
    assert (await call(gw, "/api/tickets", shopper_token))[0] == 403
    assert (await call(gw, f"/api/tickets/{ticket}", shopper_token))[0] == 403
    assert (await call(gw, "/api/ratings", shopper_token))[0] == 403
    assert (await call(gw, f"/api/tickets/{ticket}/reply", shopper_token, method="POST",
                       body={"text": "hi"}))[0] == 403
    assert (await call(gw, "/api/tickets?status=pending", token)) == (
        400, {"error": "status: one of open, answered, closed"})
    assert (await call(gw, "/api/tickets?limit=0", token))[0] == 400
    assert (await call(gw, "/api/tickets/999", token)) == (404, {"error": "no ticket #999"})
    assert (await call(gw, f"/api/tickets/{ticket}/reply", token))[0] == 405
    for bad in (b"not json", b"[1]", b'{"text": ""}', b'{"text": 5}', json.dumps({"text": "x" * 4001}).encode()):
        status, body = await call(gw, f"/api/tickets/{ticket}/reply", token, method="POST", raw=bad)
        assert status == 400 and body["error"], bad
    assert (await call(gw, f"/api/tickets/{ticket}/reply", token, method="POST", raw=b"x" * 5000))[0] == 413
    _, one = await call(gw, f"/api/tickets/{ticket}", token)
    assert one["ticket"]["status"] == "open" and one["replies"] == [] and smtp.arrived == []


async def test_agents_see_the_ratings_of_the_chats_they_closed(make_gateway, db_url: str) -> None:
    gw = await make_gateway(db_url=db_url)
    await add_agent(db_url, "amaka", "Amaka Eze")
    await add_agent(db_url, "tunde", "Tunde Ola")
    a = await agent(gw, "amaka")
    for score, comment in ((4, "Quick and kind"), (2, None)):
        s = await handed_off(gw)
        ring = await a.expect("handoff")
        cid = ring["entry"]["conversation_id"]
        await a.send(type="claim", conversation_id=cid)
        await a.expect("claimed", where=lambda f, cid=cid: f["chat"]["conversation_id"] == cid)
        await a.send(type="close", conversation_id=cid)
        await s.expect("rating_request")
        await s.send(type="rating", score=score, comment=comment, ref="r") if comment else await s.send(
            type="rating", score=score, ref="r")
        await s.expect("rating_saved", ref="r")
        await s.close()
    token = (await login(gw, "amaka", "correct horse"))["token"]
    status, mine = await call(gw, "/api/ratings", token)
    assert status == 200
    assert [(r["score"], r["comment"], r["queue"]) for r in mine["ratings"]] == [(2, None, "general"),
                                                                             (4, "Quick and kind", "general")]
    assert mine["summary"] == {"rated": 2, "mean": 3.0, "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}}
    status, theirs = await call(gw, "/api/ratings", (await login(gw, "tunde", "correct horse"))["token"])
    assert status == 200 and theirs == {"summary": {"rated": 0, "mean": None, "distribution": {
        "1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}, "ratings": []}
    await a.close()
