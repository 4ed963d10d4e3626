"""Private notes: agents see them (owner, the next owner after a transfer,
welcome and claim transcripts); no shopper socket, history or export ever
carries one. Real gateway, real websocket clients, memory and Redis."""
from __future__ import annotations

from typing import Any, Dict, List

from handoff import transcript
from handoff.storage import Storage, sync_url

from .helpers import add_agent, agent, claimed_chat, handed_off, shopper


def _notes(frames: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every note anywhere in these frames (live or inside a history/transcript)."""
    found = []
    for frame in frames:
        if frame.get("sender") == "note":
            found.append(frame)
        for key in ("history",):
            found += [m for m in frame.get(key) or [] if m.get("sender") == "note"]
        chat = frame.get("chat") or {}
        found += [m for m in chat.get("transcript") or [] if m.get("sender") == "note"]
        for c in frame.get("chats") or []:
            found += [m for m in c.get("transcript") or [] if m.get("sender") == "note"]
    return found


async def test_notes_reach_agents_only(make_gateway, live) -> None:
    gw = await make_gateway(**live)
    db = gw.gateway.config.db_url
    await add_agent(db, "ada", "Ada")
    await add_agent(db, "ben", "Ben")
    a = await agent(gw, "ada")
    b = await agent(gw, "ben")
    s = await handed_off(gw)
    cid, token = s.received[0]["conversation_id"], s.received[0]["token"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await a.send(type="note", conversation_id=cid, text="Refund already issued on 28 Nov")
    note = await a.expect("message", sender="note", conversation_id=cid)
    assert note["text"] == "Refund already issued on 28 Nov" and note["agent_name"] == "Ada"
    # a second socket of the same agent gets it too; the other agent does not own the chat
    a2 = await agent(gw, "ada")
    assert [m["text"] for m in _notes(a2.received)] == ["Refund already issued on 28 Nov"]
    await a.send(type="message", conversation_id=cid, text="Let me check that for you")
    await s.expect_message("Let me check", sender="agent")
    # the shopper goes and comes back: the resumed history has the reply, not the note
    await s.close()
    s2 = await shopper(gw, token=token)
    history = s2.received[0]["history"]
    assert any(m["text"] == "Let me check that for you" for m in history)
    # a note by a non-owner is refused
    await b.send(type="note", conversation_id=cid, text="not mine", ref="n1")
    assert (await b.expect("error", ref="n1"))["code"] == "not_owner"
    # transfer with a note: the next agent reads both notes on claim
    await a.send(type="transfer", conversation_id=cid, queue="security", note="Wants a supervisor")
    await a.expect("transfer_pending", conversation_id=cid)
    await s2.expect("state", state="waiting", queue="security")
    await b.send(type="claim", conversation_id=cid)
    claimed = await b.expect("claimed")
    await a.expect("chat_ended", conversation_id=cid, why="transferred")
    assert [(m["text"], m["agent_name"]) for m in _notes([claimed])] == [
        ("Refund already issued on 28 Nov", "Ada"), ("Wants a supervisor", "Ada")
    ]
    await b.send(type="note", conversation_id=cid, text="Called the courier")
    await b.expect("message", sender="note", text="Called the courier")
    b2 = await agent(gw, "ben")  # the welcome's chats carry the notes
    assert len(_notes(b2.received)) == 3
    await b.send(type="message", conversation_id=cid, text="Your courier is on the way")
    await s2.expect_message("courier is on the way", sender="agent")
    s3 = await shopper(gw, token=token)
    await s2.quiet(0.5)
    await s3.quiet(0.3)
    # no shopper socket ever got a note: not live, not in a history
    assert _notes(s.received) == [] and _notes(s2.received) == [] and _notes(s3.received) == []
    assert all("Refund already" not in str(f) and "supervisor" not in str(f) for f in s2.received + s3.received)
    # nor the shopper-facing reads of the transcript (the e-mailed transcript uses history())
    storage = Storage(db)
    try:
        assert all(m.sender != "note" for m in await storage.history(cid))
        assert len([m for m in await storage.history(cid, notes=True) if m.sender == "note"]) == 3
    finally:
        await storage.close()
    exported = transcript.export(sync_url(db), cid)
    assert exported is not None and all(m["sender"] != "note" for m in exported["messages"])


async def test_note_frame_is_checked(make_gateway) -> None:
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "ada", "Ada")
    a = await agent(gw, "ada")
    await a.send(type="note", conversation_id="nope", text="x", ref="r1")
    assert (await a.expect("error", ref="r1"))["code"] == "not_found"
    await a.send(type="note", conversation_id="nope", ref="r2")
    error = await a.expect("error", ref="r2")
    assert error["code"] == "missing_field" and error["field"] == "text"


async def test_the_emailed_transcript_has_no_notes(make_gateway, monkeypatch) -> None:
    from .smtp import SmtpServer
    from .test_transcript_mail import post

    server = SmtpServer()
    try:
        for name, value in (("HOST", "127.0.0.1"), ("PORT", str(server.port)), ("TLS", "none"),
                            ("FROM", "support@example.com"), ("TIMEOUT_S", "5")):
            monkeypatch.setenv("KARA_SMTP_" + name, value)
        gw = await make_gateway()
        s, a, cid, token = await claimed_chat(gw)
        await a.send(type="note", conversation_id=cid, text="Shopper sounds upset, go gently")
        await a.expect("message", sender="note")
        await a.send(type="message", conversation_id=cid, text="Hello, I am Ada")
        await s.expect_message("Hello, I am Ada", sender="agent")
        status, _, _ = await post(gw, {"token": token, "email": "ngozi@example.com"})
        assert status == 200
        (mail,) = server.wait(1)
        assert "Hello, I am Ada" in mail.text and "go gently" not in mail.text
    finally:
        server.stop()
