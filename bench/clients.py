"""Small websocket and HTTP clients the benchmarks drive the gateway with."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable, Dict, List, Optional

import aiohttp
import websockets

from .system import AGENT_PASSWORD

Frame = Dict[str, Any]


class Client:
    """A websocket client; :meth:`expect` skips (and drops) other frames."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.cid: Optional[str] = None  # a shopper's conversation id

    @classmethod
    async def connect(cls, url: str) -> "Client":
        return cls(await websockets.connect(url, open_timeout=30, compression=None, max_queue=None))

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float = 30) -> Frame:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, type_: str, timeout: float = 30,
                     where: Optional[Callable[[Frame], bool]] = None) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {type_} frame within {timeout} s")
            frame = await self.recv(left)
            if frame.get("type") == "error":
                raise RuntimeError(f"gateway error while waiting for {type_}: {frame}")
            if frame.get("type") == type_ and (where is None or where(frame)):
                return frame

    async def close(self) -> None:
        await self.ws.close()


async def shopper(ws_url: str, **hello: Any) -> Client:
    client = await Client.connect(ws_url + "/ws/shopper")
    await client.send(type="hello", v=1, **hello)
    client.cid = (await client.expect("welcome"))["conversation_id"]
    return client


async def login(http_url: str, username: str, password: str = AGENT_PASSWORD) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(http_url + "/api/login", json={"username": username, "password": password}) as r:
            if r.status != 200:
                raise RuntimeError(f"login {username}: HTTP {r.status} {await r.text()}")
            return (await r.json())["token"]


async def agent(gw: Any, username: str) -> Client:
    token = await login(gw.url, username)
    client = await Client.connect(gw.ws_url + "/ws/agent")
    await client.send(type="hello", v=1, token=token)
    await client.expect("welcome")
    return client


async def claimed_chat(shop_gw: Any, agent_client: Client, timeout: float = 60) -> "tuple[Client, str]":
    """A new shopper on ``shop_gw`` asks for a person; ``agent_client`` claims the chat."""
    s = await shopper(shop_gw.ws_url)
    await s.send(type="message", text="/request_human")
    cid = s.cid
    await agent_client.expect("handoff", timeout, where=lambda f: f["entry"]["conversation_id"] == cid)
    await agent_client.send(type="claim", conversation_id=cid)
    await agent_client.expect("claimed", timeout, where=lambda f: f["chat"]["conversation_id"] == cid)
    await s.expect("agent_joined", timeout)
    return s, cid


async def drain(client: Client, seconds: float = 0.3) -> List[Frame]:
    """Read whatever arrives within ``seconds`` of quiet."""
    frames: List[Frame] = []
    try:
        while True:
            frames.append(await client.recv(seconds))
    except (asyncio.TimeoutError, TimeoutError):
        return frames
