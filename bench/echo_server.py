"""A bare ``websockets`` echo server: the relay benchmark's yardstick.

    python -m bench.echo_server --port P

Same library and version as the gateway, compression off and the same event
loop (uvloop, or ``--loop asyncio``) like the gateway, one process; prints
``echo listening`` when ready.
"""
from __future__ import annotations

import argparse
import asyncio

import websockets

from handoff.cli import LOOPS, event_loop_policy


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


async def main(port: int) -> None:
    async with websockets.serve(echo, "127.0.0.1", port, compression=None, ping_interval=None):
        print("echo listening", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=LOOPS, default="uvloop")
    args = parser.parse_args()
    asyncio.set_event_loop_policy(event_loop_policy(args.loop))
    try:
        asyncio.run(main(args.port))
    except KeyboardInterrupt:
        pass
