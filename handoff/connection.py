"""The gateway's websocket connection class: ``websockets``' own, made leaner.

:class:`LeanProtocol` changes one thing: :meth:`recv` waits for the next
message on a single future instead of ``asyncio.wait([...])`` (which builds a
set, a waiter and callbacks for every wait). An idle socket spends its life
inside ``recv``, so this is memory per idle connection (~1.4 KiB). (It also
drops the finished keepalive task ``websockets`` starts even with pings off:
the gateway pings from one loop, see :mod:`handoff.keepalive`.) Semantics
are those of ``websockets`` 10.4's ``recv`` (pinned by the lock file; the
attributes used are that version's): messages already queued are returned
even when the connection is closing, then ``ConnectionClosed`` is raised.

:meth:`LeanProtocol.abort_pings` skips the keepalive's shared, finished ping
waiter when a connection is lost (a reset between a ping and its pong).

It adds :meth:`LeanProtocol.write_texts`: several text frames in one
transport write (a burst of relayed messages costs one ``send`` system call,
not one per frame), with :func:`websockets.broadcast`'s rules.
"""
from __future__ import annotations

import asyncio
import struct
from typing import Any, Sequence

from websockets.legacy.protocol import State
from websockets.legacy.server import WebSocketServerProtocol
from websockets.typing import Data

_TEXT_FIN = 0x81  # FIN + opcode text; server frames are not masked (RFC 6455 5.1)


class _Finished:
    """Stands for a finished task: only ``cancel()`` is ever called on it."""

    def cancel(self) -> bool:
        return False


_FINISHED = _Finished()


class LeanProtocol(WebSocketServerProtocol):
    def connection_open(self) -> None:
        super().connection_open()
        if self.ping_interval is None:
            # websockets starts a keepalive task even with pings off; it ends at
            # once, but the attribute would keep the finished task alive.
            self.keepalive_ping_task = _FINISHED  # type: ignore[assignment]

    def abort_pings(self) -> None:
        # The keepalive loop leaves one shared, already answered waiter in
        # ``pings`` (handoff.keepalive). websockets would set an exception on
        # it, which raises inside ``connection_lost`` and stops the teardown
        # half way: the session would wait for a close that never comes.
        for key in [key for key, (waiter, _) in self.pings.items() if waiter.done()]:
            del self.pings[key]
        super().abort_pings()

    def _wake_reader(self, _task: Any) -> None:
        waiter = self._pop_message_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> Data:
        if self._pop_message_waiter is not None:
            raise RuntimeError("cannot call recv while another coroutine is already waiting for the next message")
        while not self.messages:
            if self.transfer_data_task.done():
                await self.ensure_open()  # raises ConnectionClosed with the right code
                continue
            waiter: "asyncio.Future[None]" = self.loop.create_future()
            self._pop_message_waiter = waiter
            self.transfer_data_task.add_done_callback(self._wake_reader)
            try:
                await waiter
            finally:
                self._pop_message_waiter = None
                self.transfer_data_task.remove_done_callback(self._wake_reader)
        message = self.messages.popleft()
        if self._put_message_waiter is not None:
            self._put_message_waiter.set_result(None)
            self._put_message_waiter = None
        return message

    def write_texts(self, texts: Sequence[str]) -> None:
        """Write text frames now, without waiting, in one transport write.

        As :func:`websockets.broadcast` does frame by frame: nothing if the
        connection is not open; ``RuntimeError`` while a fragmented message
        is being sent. The gateway negotiates no extension (compression is
        off), so a server frame is its header and the UTF-8 payload; with an
        extension the frames go through ``websockets`` one by one."""
        if self.state is not State.OPEN:
            return
        if self._fragmented_message_waiter is not None:
            raise RuntimeError("busy sending a fragmented message")
        if self.extensions:
            for text in texts:
                self.write_frame_sync(True, 0x1, text.encode("utf-8"))
            return
        parts = []
        for text in texts:
            data = text.encode("utf-8")
            size = len(data)
            if size < 126:
                parts.append(bytes((_TEXT_FIN, size)))
            elif size < 65536:
                parts.append(struct.pack("!BBH", _TEXT_FIN, 126, size))
            else:
                parts.append(struct.pack("!BBQ", _TEXT_FIN, 127, size))
            parts.append(data)
        self.transport.write(b"".join(parts))
