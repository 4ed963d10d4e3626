"""A timing proxy in front of the Rasa server, for the handoff benchmark.

    python -m bench.rasa_proxy --port P --upstream http://127.0.0.1:5005

Forwards every request to Rasa unchanged (a streamed answer whole, once it
has ended: the gateway starts a handoff only then). When a REST channel
reply carries the handoff payload (``custom.handoff``, :mod:`handoff.contract`), it notes the wall
clock (``time.time_ns()``) at the moment it hands that reply back to the
gateway, under the conversation id (``sender``). ``GET /_bench/stamps`` returns
``{sender: {"reply": ns, "pause_in": ns, "pause_out": ns}}`` (the latter two:
the gateway's ``pause`` call to Rasa, which is inside the measured span); the
benchmark compares them with the time the agent console
got the ``handoff`` frame. The proxy's own hop is outside the measured span.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Dict, List

import aiohttp
from aiohttp import web


def _replies(data: bytes, streamed: bool) -> List[object]:
    """A REST channel answer's replies: a JSON list, or with ``?stream=true``
    (what the gateway asks for) one JSON reply a line."""
    if streamed:
        return [json.loads(line) for line in data.splitlines() if line.strip()]
    replies = json.loads(data)
    return replies if isinstance(replies, list) else []


def _is_handoff(replies: List[object]) -> bool:
    return any(isinstance(r, dict) and isinstance(r.get("custom"), dict) and "handoff" in r["custom"]
               for r in replies)


def app(upstream: str) -> web.Application:
    stamps: Dict[str, Dict[str, int]] = {}
    session: Dict[str, aiohttp.ClientSession] = {}

    async def on_start(_: web.Application) -> None:
        session["s"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def on_stop(_: web.Application) -> None:
        await session["s"].close()

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def get_stamps(_: web.Request) -> web.Response:
        return web.json_response(stamps)

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        pause_of = None
        if request.path.endswith("/tracker/events") and b'"pause"' in body:
            pause_of = request.path.split("/")[2]
            stamps.setdefault(pause_of, {})["pause_in"] = time.time_ns()
        async with session["s"].request(request.method, upstream + request.path_qs, data=body,
                                        headers={"Content-Type": request.content_type}) as up:
            data = await up.read()
            status, kind = up.status, up.content_type
        response = web.Response(body=data, status=status, content_type=kind)
        if pause_of is not None:
            stamps[pause_of]["pause_out"] = time.time_ns()
        if request.path == "/webhooks/rest/webhook" and b'"handoff"' in data:
            try:
                sender = json.loads(body)["sender"]
                if _is_handoff(_replies(data, request.query.get("stream") == "true")):
                    await response.prepare(request)
                    stamps.setdefault(sender, {})["reply"] = time.time_ns()  # the reply goes back now
                    await response.write_eof()
            except (ValueError, KeyError, TypeError):
                pass
        return response

    application = web.Application()
    application.on_startup.append(on_start)
    application.on_cleanup.append(on_stop)
    application.router.add_get("/_bench/health", health)
    application.router.add_get("/_bench/stamps", get_stamps)
    application.router.add_route("*", "/{tail:.*}", forward)
    return application


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    web.run_app(app(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
