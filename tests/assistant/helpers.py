"""Talking to the assistant's processes and reading its tracker store."""
from __future__ import annotations

from typing import List

import aiohttp
from sqlalchemy import create_engine, text

from bot.processes import BotStack


async def rasa_tracker(stack: BotStack, rasa_url: str, cid: str) -> str:
    """Everything one Rasa process holds of a conversation, as JSON text."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rasa_url}/conversations/{cid}/tracker",
                            params={"include_events": "ALL", "token": stack.rasa_token}) as r:
            assert r.status == 200, r.status
            return await r.text()


def stored_events(stack: BotStack, cid: str) -> List[str]:
    """The ``data`` of every row of ``cid`` in Rasa's SQL tracker store, in order."""
    engine = create_engine(stack.tracker_db_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("select data from events where sender_id = :c order by id"), {"c": cid})
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def user_texts(events: List[str]) -> List[str]:
    import json

    return [e["text"] for e in map(json.loads, events) if e.get("event") == "user"]
