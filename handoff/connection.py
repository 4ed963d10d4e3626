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
"""
from __future__ import annotations

import asyncio
from typing import Any

from websockets.legacy.server import WebSocketServerProtocol
from websockets.typing import Data


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
