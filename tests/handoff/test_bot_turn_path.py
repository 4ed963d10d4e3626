"""What a bot turn waits for, kept short: the assistant is asked before the
shopper's message is written."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from handoff.storage import MessageRecord

from .helpers import shopper


async def test_the_assistant_is_asked_before_the_message_is_written(make_gateway, monkeypatch) -> None:
    """The request to Rasa (the turn's long wait) goes out first; the shopper's
    message is committed meanwhile and acknowledged with the bot's typing on;
    the replies are stored, then shown after the typing off."""
    gw = await make_gateway()
    core = gw.gateway.core
    log: List[str] = []

    async def send(sender: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        log.append("rasa asked")
        await asyncio.sleep(0.05)
        return [{"text": f"you said {text}"}]

    insert = core.storage._insert_messages

    async def insert_messages(batch: List[MessageRecord]) -> Any:
        log.append("write " + ",".join(m.sender for m in batch))
        return await insert(batch)

    monkeypatch.setattr(core.rasa, "send", send)
    monkeypatch.setattr(core.storage, "_insert_messages", insert_messages)
    s = await shopper(gw)
    await s.send(type="message", text="hello", client_id="m1")
    seen = len(s.received)
    reply = await s.expect("message", sender="bot")
    assert reply["text"] == "you said hello"
    assert [(f["type"], f.get("sender", f.get("on"))) for f in s.received[seen:]] == [
        ("message", "shopper"), ("typing", True), ("typing", False), ("message", "bot")]
    assert log == ["rasa asked", "write shopper", "write bot"]
