"""A bare ``websockets`` echo server: the relay benchmark's yardstick.

    python -m bench.echo_server --port P

Same library and version as the gateway, compression off like the gateway,
one process; prints ``echo listening`` when ready.
"""
from __future__ import annotations

import argparse
import asyncio

import websockets


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
    try:
        asyncio.run(main(parser.parse_args().port))
    except KeyboardInterrupt:
        pass
