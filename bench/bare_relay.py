"""A bare relay between a shopper's websocket and Rasa: the bot-turn benchmark's floor.

    python -m bench.bare_relay --port P --rasa-url http://127.0.0.1:5005

What a bot turn through any websocket gateway has to do, and nothing else:
read the ``message`` frame, ask Rasa's REST channel for a streamed answer
(as the gateway does, :mod:`handoff.rasa_client`), echo the message and show
the bot's ``typing`` on meanwhile, then ``typing`` off and the bot's messages.
It stores nothing, keeps no state and checks nothing. Same libraries and
event loop as the gateway (websockets' asyncio server, aiohttp, uvloop), one
process; prints ``bare relay listening`` when ready. :mod:`bench.bot_latency`
times it beside the gateway: the gap between the two is what the gateway's
own work costs a turn (storing both messages, live state, ordering).

A ``{"type": "stats"}`` frame is answered with how long its requests to Rasa
took so far (``rasa_s``: sum and count, as the gateway's
``kara_bot_turn_seconds`` histogram counts them): the benchmark splits a turn
into Rasa's part and the relay's own with it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any, Dict, List

import aiohttp
from websockets.asyncio.server import ServerConnection, serve

from handoff.cli import LOOPS, event_loop_policy


def _frame(**fields: Any) -> str:
    return json.dumps(fields)


async def _answer(session: aiohttp.ClientSession, rasa_url: str, cid: str, text: str) -> List[Dict[str, Any]]:
    body = {"sender": cid, "message": text, "metadata": {"role": "shopper", "line": "chat"}}
    replies: List[Dict[str, Any]] = []
    async with session.post(rasa_url + "/webhooks/rest/webhook", json=body, params={"stream": "true"}) as response:
        async for line in response.content:
            if line.strip():
                replies.append(json.loads(line))
    return replies


async def main(port: int, rasa_url: str) -> None:
    asked = [0.0, 0]  # seconds spent waiting for Rasa's answers, answers

    async def answer(session: aiohttp.ClientSession, cid: str, text: str) -> List[Dict[str, Any]]:
        started = time.monotonic()
        replies = await _answer(session, rasa_url, cid, text)
        asked[0] += time.monotonic() - started
        asked[1] += 1
        return replies

    async with aiohttp.ClientSession() as session:

        async def shopper(ws: ServerConnection) -> None:
            cid = uuid.uuid4().hex
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "hello":
                    await ws.send(_frame(type="welcome", conversation_id=cid))
                    continue
                if frame.get("type") == "stats":
                    await ws.send(_frame(type="stats", rasa_s=asked))
                    continue
                asking = asyncio.ensure_future(answer(session, cid, frame["text"]))
                await ws.send(_frame(type="message", sender="shopper", text=frame["text"]))
                await ws.send(_frame(type="typing", who="bot", on=True))
                replies = await asking
                await ws.send(_frame(type="typing", who="bot", on=False))
                for reply in replies:
                    await ws.send(_frame(type="message", sender="bot", text=reply.get("text", "")))

        async with serve(shopper, "127.0.0.1", port, compression=None, ping_interval=None):
            print("bare relay listening", flush=True)
            await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rasa-url", required=True)
    parser.add_argument("--loop", choices=LOOPS, default="uvloop")
    args = parser.parse_args()
    asyncio.set_event_loop_policy(event_loop_policy(args.loop))
    try:
        asyncio.run(main(args.port, args.rasa_url.split(",")[0].rstrip("/")))
    except KeyboardInterrupt:
        pass
