"""Shopper presence: whether a waiting or claimed chat's shopper still has the page open.

A shopper may have several sockets (tabs), on several gateway processes; the
count of them is kept in the shared live state (:meth:`QueueStore.count`,
memory or Redis), so the *last* socket closing anywhere is seen as the
shopper leaving. On each change between none and some, every agent gets a
``presence`` frame (PROTOCOL.md "Shopper presence"), but only while the chat
waits for or is with a person: the queue card and the chat's header show
"Shopper left" until they come back. Advisory only: a gateway process that
dies without closing its sockets leaves its count up (the shopper looks
present) until the counter's window ends.
"""
from __future__ import annotations

from . import frames
from .core import GatewayCore
from .hub import Hub
from .live_state import AGENT, WAITING

#: the counter of a conversation's open shopper sockets, across processes
KEY = "shopper-sockets:"
#: the counter's window (it does not slide): longer than any chat stays open
WINDOW_S = 7 * 24 * 3600.0


class ShopperPresence:
    """Counts a conversation's shopper sockets and tells agents when it goes to or from none."""

    def __init__(self, core: GatewayCore) -> None:
        self.core = core

    async def joined(self, cid: str) -> None:
        count, _ = await self.core.live.count(KEY + cid, WINDOW_S, 1)
        if count == 1:
            await self._announce(cid, True)

    async def left(self, cid: str) -> None:
        count, _ = await self.core.live.count(KEY + cid, WINDOW_S, -1)
        if count == 0:
            await self._announce(cid, False)

    async def present(self, cid: str) -> bool:
        count, _ = await self.core.live.count(KEY + cid, WINDOW_S, 0)
        return count > 0

    async def _announce(self, cid: str, present: bool) -> None:
        live = await self.core.live.get(cid)
        if live.state in (WAITING, AGENT):  # with the bot or closed nobody is watching
            await self.core.hub.send(Hub.to_agents(frames.presence(cid, present)))
