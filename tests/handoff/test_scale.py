"""Idle connections are cheap, and dead ones are found by the keepalive loop."""
from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys

import psutil

from .helpers import CLOSED_RASA, Client, shopper

CLIENTS = r'''
import asyncio, json, sys, websockets
async def main():
    conns = []
    for i in range(int(sys.argv[2])):
        ws = await websockets.connect(sys.argv[1], compression=None)
        await ws.send(json.dumps({"type": "hello", "v": 1}))
        await ws.recv()
        conns.append(ws)
    print("ready", flush=True)
    sys.stdin.readline()
asyncio.run(main())
'''


async def _open(url: str, count: int) -> asyncio.subprocess.Process:
    """``count`` idle shopper sockets held by another process (so they are not
    counted in the gateway's memory)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENTS, url, str(count), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    assert line == b"ready\n"
    return proc


async def test_idle_connection_memory(gateway_process, tmp_path) -> None:
    """The slope of the gateway's RSS between 1,000 and 1,000 + N idle shopper
    sockets (each said hello), both measured after keepalive rounds."""
    count = int(os.environ.get("KARA_TEST_IDLE_CONNECTIONS", "4000"))
    gw = gateway_process("--db-url", f"sqlite:///{tmp_path / 'gw.db'}", "--rasa-url", CLOSED_RASA,
                         "--ping-interval", "1", "--log-level", "WARNING")
    server = psutil.Process(gw.proc.pid)
    first = await _open(gw.ws_url + "/ws/shopper", 1000)
    await asyncio.sleep(2.5)  # keepalive rounds over every socket
    before = server.memory_info().rss
    more = await _open(gw.ws_url + "/ws/shopper", count)
    await asyncio.sleep(2.5)
    per_connection = (server.memory_info().rss - before) / count
    print(f"{per_connection / 1024:.1f} KiB per idle connection ({count} more connections)")
    assert per_connection <= 20 * 1024
    # still serving
    s = await Client.connect(gw.ws_url + "/ws/shopper")
    await s.send(type="hello", v=1)
    await s.expect("welcome")
    for proc in (first, more):
        proc.stdin.close()
        await proc.wait()


async def test_keepalive_drops_a_silent_peer(make_gateway) -> None:
    gw = await make_gateway(ping_interval=0.3)
    live = await shopper(gw)  # answers pings (websockets does it by itself)
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws/shopper HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 101")
    # never answer: the gateway's pings go unanswered, it drops the socket
    async def until_closed() -> None:
        while await reader.read(1024):
            pass

    await asyncio.wait_for(until_closed(), 5)
    writer.close()
    await live.send(type="rating", score=5, ref="alive")
    assert (await live.expect("error", ref="alive"))["code"] == "bad_state"
