"""Per-connection rate limit: a token bucket, a few bytes, no task or timer.

Each websocket holds one :class:`TokenBucket`; every client frame takes a
token. An empty bucket refuses the frame (``rate_limited`` error with
``retry_after_ms``, nothing stored) without touching other connections.
"""
from __future__ import annotations

import time
from typing import Optional


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self, now: Optional[float] = None) -> int:
        """0 when a frame may pass, else milliseconds until one may."""
        if self.rate <= 0:
            return 0
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0
        return max(1, int((1.0 - self.tokens) / self.rate * 1000 + 0.999))
