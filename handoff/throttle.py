"""How often one client address or one username may do something.

Guessing costs an attacker nothing unless somebody counts: logins (per
username and per client address) and new conversations (per client address)
are counted in fixed windows in the live state
(:meth:`~handoff.live_state.QueueStore.count`: Redis when configured, so every
gateway process counts together; memory otherwise). Over the limit, the
request is refused with how long until the window ends; once it has ended
the counter is gone and the same person gets in.

A limit of 0 turns a throttle off. The client address is the TCP peer, or
the last ``X-Forwarded-For`` address when the peer is a trusted proxy
(``--trusted-proxy``); behind an untrusted proxy every client shares the
proxy's address and its limits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from .live_state import QueueStore


@dataclass(frozen=True)
class Limit:
    #: the counter's name in the live state
    name: str
    #: how many per window; 0: unlimited
    limit: int
    window_s: float


class Throttled(Exception):
    """Refused by a :class:`Limit`; ``retry_after_s`` until its window ends."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"throttled for {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s

    @property
    def retry_after(self) -> int:
        """Whole seconds, at least 1 (what HTTP's ``Retry-After`` takes)."""
        return max(1, math.ceil(self.retry_after_s))


class Throttle:
    def __init__(self, store: QueueStore) -> None:
        self.store = store

    async def take(self, limit: Limit, key: str) -> float:
        """Count one for ``key``: 0.0 when it is within ``limit``, else the
        seconds until its window ends."""
        if limit.limit <= 0:
            return 0.0
        hits, left = await self.store.count(f"{limit.name}:{key}", limit.window_s)
        return 0.0 if hits <= limit.limit else max(left, 0.001)

    async def take_all(self, *taken: Tuple[Limit, str]) -> None:
        """Count one for each (limit, key); raise :class:`Throttled` when any
        is over (with the longest wait)."""
        wait = 0.0
        for limit, key in taken:
            wait = max(wait, await self.take(limit, key))
        if wait:
            raise Throttled(wait)

    async def give_back(self, limit: Limit, key: str) -> None:
        """Undo one count (a login that succeeded does not count)."""
        if limit.limit > 0:
            await self.store.count(f"{limit.name}:{key}", limit.window_s, add=-1)


def client_address(peer: object, forwarded_for: Optional[str], trusted_proxies: Sequence[str]) -> str:
    """The address a request is counted under (see module docs). ``peer`` is
    the socket's peer name (``(host, port, ...)``) or None."""
    host = peer[0] if isinstance(peer, tuple) and peer else "unknown"
    host = str(host)
    if forwarded_for and host in trusted_proxies:
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last[:64]
    return host
