"""One keepalive loop per process instead of one ping task per websocket.

``websockets`` would run a keepalive task in every connection, and each of its
pings allocates futures; with thousands of idle sockets that costs more memory
than the sockets themselves. So the gateway turns it off and runs
:func:`keepalive`: every ``interval`` seconds it writes one ping frame to
every open socket, and fails (code 1011) the ones that did not answer the
previous round's ping, i.e. within one interval.

It allocates nothing per socket: the ping payload is the round number, and
the entry it leaves in the socket's ``pings`` table (which ``websockets``
10.4 clears when the pong arrives) is one shared, already-completed waiter.
(:meth:`handoff.connection.LeanProtocol.abort_pings` skips it when a
connection is lost.) That table and ``write_frame_sync`` are ``websockets`` internals, pinned by
the lock file and covered by ``tests/handoff/test_scale.py``.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import struct
import time
from typing import Optional

from websockets.frames import OP_PING
from websockets.legacy.protocol import State
from websockets.legacy.server import WebSocketServer

logger = logging.getLogger(__name__)


async def keepalive(server: WebSocketServer, interval: float) -> None:
    answered: "asyncio.Future[float]" = asyncio.get_running_loop().create_future()
    answered.set_result(0.0)
    previous: Optional[bytes] = None
    for round_number in itertools.count(1):
        await asyncio.sleep(interval)
        key = struct.pack("!I", round_number & 0xFFFFFFFF)
        entry = (answered, time.perf_counter())
        for socket in list(server.websockets):
            if socket.state is not State.OPEN:
                continue
            if previous is not None and socket.pings.pop(previous, None) is not None:
                logger.info("keepalive: no pong within %.0f s, dropping a connection", interval)
                socket.fail_connection(1011, "keepalive ping timeout")
                continue
            socket.pings[key] = entry  # type: ignore[assignment]
            try:
                socket.write_frame_sync(True, OP_PING, key)
            except Exception:  # a transport closing under us: the next round drops it
                logger.debug("keepalive: ping not written", exc_info=True)
        previous = key
