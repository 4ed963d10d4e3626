"""Holds idle shopper websockets for the idle-connection benchmark.

    python -m bench.idle_clients WS_URL     (commands on stdin)

``open N``: open N more shopper sockets (each sends ``hello`` and reads its
``welcome``), then print ``open TOTAL``. ``count``: print ``alive ALIVE``.
``quit`` (or end of input): close them all and exit. Raises its own open-file
limit first. The sockets answer the gateway's keepalive pings (``websockets``
does) and send nothing else.
"""
from __future__ import annotations

import asyncio
import json
import sys
from typing import List

import websockets

from .system import raise_nofile

BATCH = 100


async def main(url: str) -> None:
    raise_nofile()
    conns: List[websockets.WebSocketClientProtocol] = []
    hello = json.dumps({"type": "hello", "v": 1})
    loop = asyncio.get_running_loop()

    async def one() -> websockets.WebSocketClientProtocol:
        ws = await websockets.connect(url, compression=None, ping_interval=None, open_timeout=60,
                                      close_timeout=1)
        await ws.send(hello)
        await asyncio.wait_for(ws.recv(), 60)
        return ws

    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "open":
            left = int(line[1])
            while left > 0:
                batch = min(BATCH, left)
                conns += await asyncio.gather(*(one() for _ in range(batch)))
                left -= batch
            print(f"open {len(conns)}", flush=True)
        elif line[0] == "count":
            print(f"alive {sum(1 for c in conns if c.open)}", flush=True)
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
