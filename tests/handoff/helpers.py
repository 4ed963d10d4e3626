"""Test helpers for the gateway: real websocket clients, logins, subprocess gateways."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp
import websockets
from aiohttp import web
from websockets.asyncio.client import ClientConnection

from bot.processes import free_port, listening_url, terminate
from handoff.auth import hash_password
from handoff.server import RunningGateway
from handoff.storage import Storage

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
#: A port nothing listens on: "Rasa does not answer".
CLOSED_RASA = "http://127.0.0.1:9"


class Client:
    """A websocket client that keeps every frame it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: List[Dict[str, Any]] = []
        self._unread: List[Dict[str, Any]] = []

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> "Client":
        ws = await websockets.connect(url, open_timeout=10, **kwargs)
        return cls(ws)

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, data: Any) -> None:
        await self.ws.send(data)

    async def _read(self, timeout: float) -> Dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        frame = json.loads(raw)
        self.received.append(frame)
        return frame

    async def next(self, timeout: float = 10) -> Dict[str, Any]:
        if self._unread:
            return self._unread.pop(0)
        return await self._read(timeout)

    async def expect(
        self,
        type_: str,
        timeout: float = 10,
        where: Optional[Callable[[Dict[str, Any]], bool]] = None,
        **fields: Any,
    ) -> Dict[str, Any]:
        """The first frame (read or still unread) of ``type_`` whose fields match
        (and for which ``where`` holds); frames skipped stay unread."""
        def matches(frame: Dict[str, Any]) -> bool:
            return (
                frame.get("type") == type_
                and all(frame.get(k) == v for k, v in fields.items())
                and (where is None or where(frame))
            )

        for i, frame in enumerate(self._unread):
            if matches(frame):
                return self._unread.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {type_} {fields} within {timeout}s; got {self._unread[-10:]}")
            try:
                frame = await self._read(left)
            except asyncio.TimeoutError:
                raise AssertionError(f"no {type_} {fields} within {timeout}s; got {self._unread[-10:]}") from None
            if matches(frame):
                return frame
            self._unread.append(frame)

    async def expect_message(self, text_part: str, timeout: float = 10, **fields: Any) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.expect("message", max(0.01, deadline - time.monotonic()), **fields)
            if text_part in frame.get("text", ""):
                return frame

    async def quiet(self, within: float = 0.3) -> List[Dict[str, Any]]:
        """Everything that arrives within ``within`` seconds (and was unread)."""
        frames, self._unread = self._unread, []
        try:
            while True:
                frames.append(await self._read(within))
        except asyncio.TimeoutError:
            return frames

    async def close(self) -> None:
        await self.ws.close()


def _ws_url(gw: Any) -> str:
    """A gateway (in this process or not) or its ws:// URL."""
    return gw if isinstance(gw, str) else str(gw.ws_url)


async def shopper(gw: Any, timeout: float = 10, **hello: Any) -> Client:
    """A shopper socket that said hello and got its welcome."""
    client = await Client.connect(_ws_url(gw) + "/ws/shopper")
    await client.send(type="hello", v=1, **hello)
    await client.expect("welcome", timeout=timeout)
    return client


async def handed_off(gw: Any, timeout: float = 10, **hello: Any) -> Client:
    """A shopper whose chat is waiting in a queue (with Rasa on a closed
    port, the gateway hands ``/request_human`` off by itself)."""
    s = await shopper(gw, timeout, **hello)
    await s.send(type="message", text="/request_human")
    await s.expect("state", state="waiting", timeout=timeout)
    return s


async def login(gw: RunningGateway, username: str, password: str) -> Dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(gw.url + "/api/login", json={"username": username, "password": password}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def agent(gw: RunningGateway, username: str, password: str = "correct horse",
                token: Optional[str] = None) -> Client:
    """An agent socket that said hello and got its welcome; with ``token``
    (from :func:`login`) no new login (a reconnect within a grace period)."""
    token = token or (await login(gw, username, password))["token"]
    client = await Client.connect(gw.ws_url + "/ws/agent")
    await client.send(type="hello", v=1, token=token)
    await client.expect("welcome")
    return client


async def claimed_chat(gw: RunningGateway, username: str = "ada", name: str = "Ada") -> Tuple[Client, Client, str, str]:
    """A new agent's socket that claimed a shopper's handed-off chat: (shopper,
    agent, conversation id, the shopper's token)."""
    await add_agent(gw.gateway.config.db_url, username, name)
    a = await agent(gw, username)
    s = await handed_off(gw)
    cid, token = s.received[0]["conversation_id"], s.received[0]["token"]
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    return s, a, cid, token


@functools.lru_cache(maxsize=None)
def password_hash(password: str) -> str:
    """A real Argon2id hash of ``password``, made once per password: each hash
    costs about a quarter of a second of CPU by design, and the tests add
    hundreds of agents (a shared salt changes nothing a login checks)."""
    return hash_password(password)


async def add_agent(db_url: str, username: str, name: str, password: str = "correct horse") -> int:
    storage = Storage(db_url)
    try:
        return (await storage.create_agent(username, name, password_hash(password))).id
    finally:
        await storage.close()


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` served on a free loopback port for the block (a stand-in Rasa,
    a paging endpoint): its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 10, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(every)


class GatewayProcess:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.ws_url = url.replace("http://", "ws://")
        self.log = log

    def stop(self) -> None:
        terminate(self.proc)


def spawn_gateway(
    args: List[str], log: Path, env: Optional[Dict[str, str]] = None, timeout: float = 30
) -> GatewayProcess:
    """``python -m handoff serve ARGS`` until it prints its listening line."""
    port = free_port()
    out = log.open("wb")
    proc = subprocess.Popen(
        [PYTHON, "-m", "handoff", "serve", "--port", str(port), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=out,
        # tests open many chats from 127.0.0.1 (test_hardening tests the limit); chats wait until
        # claimed unless a test turns automatic assignment on
        env={**os.environ, "PYTHONPATH": str(REPO), "KARA_GATEWAY_NEW_CHATS_PER_ADDRESS": "0",
             "KARA_GATEWAY_AUTO_ASSIGN": "0", **(env or {})},
    )
    url = listening_url(proc, timeout)
    if url is None:
        terminate(proc, 0)
        raise AssertionError(f"gateway did not start\n{log.read_text()[-3000:]}")
    assert url == f"http://127.0.0.1:{port}"
    return GatewayProcess(proc, url, log)


