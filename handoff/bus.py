"""Cross-process events: text payloads published on named topics.

Topics (see :mod:`handoff.hub` for who listens to which):

* ``c:<conversation id>``: frames for the shopper sockets of a conversation;
* ``a:<agent id>``: frames for every socket of one agent;
* ``agents``: frames for every agent socket;
* ``queues``: "the queues changed" (payload unused), every process refreshes.

A process only receives topics it subscribed to. :class:`MemoryBus` delivers
in-process, synchronously; :class:`RedisBus` goes through Redis pub/sub on
channels ``<prefix>:ev:<topic>`` with one subscriber connection per process
(never one per websocket). Pub/sub keeps nothing for a subscriber that is
away: when the subscriber connection comes back (Redis restarted, the
network blinked) the bus says since when it was away, and the gateway sends
its sockets what they missed from the database (``Gateway.replay_missed``).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Optional, Protocol, Set, Tuple


logger = logging.getLogger(__name__)

#: Called with (topic, payload) for every event of a subscribed topic.
Handler = Callable[[str, str], None]
#: Called with a ``time.time()`` when the subscriber is back after losing its
#: connection: events published from then until now may have been missed.
Resubscribed = Callable[[float], None]


class Bus(Protocol):
    async def start(self, handler: Handler, resubscribed: Optional[Resubscribed] = None) -> None:
        """Begin delivering events of subscribed topics to ``handler``."""

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    async def publish(self, *events: Tuple[str, str]) -> None:
        """Publish (topic, payload) pairs, in order."""

    async def close(self) -> None: ...


class MemoryBus:
    """One process: publishing calls the handler at once."""

    def __init__(self) -> None:
        self._handler: Optional[Handler] = None
        self._topics: Set[str] = set()

    async def start(self, handler: Handler, resubscribed: Optional[Resubscribed] = None) -> None:
        self._handler = handler  # nothing between publisher and handler to lose: never resubscribes

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)

    async def publish(self, *events: Tuple[str, str]) -> None:
        handler = self._handler
        if handler is None:
            return
        for topic, payload in events:
            if topic in self._topics:
                handler(topic, payload)

    async def close(self) -> None:
        self._handler = None


class RedisBus:
    """Redis pub/sub: one publishing client and one subscriber connection."""

    def __init__(self, url: str, *, prefix: str = "kara") -> None:
        self._channel_prefix = f"{prefix}:ev:"
        from .live_state_redis import connect, connect_once

        self._redis = connect(url)
        # The subscriber must not reconnect by itself (redis-py retries by
        # default): a silent reconnect would hide the gap that _read replays.
        self._subscriber = connect_once(url)
        self._pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        self._handler: Optional[Handler] = None
        self._resubscribed: Optional[Resubscribed] = None
        self._task: Optional["asyncio.Task[None]"] = None

    async def start(self, handler: Handler, resubscribed: Optional[Resubscribed] = None) -> None:
        """Needs at least one subscription first (the reader stops with none)."""
        self._handler = handler
        self._resubscribed = resubscribed
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def subscribe(self, topic: str) -> None:
        await self._pubsub.subscribe(self._channel_prefix + topic)

    async def unsubscribe(self, topic: str) -> None:
        await self._pubsub.unsubscribe(self._channel_prefix + topic)

    async def publish(self, *events: Tuple[str, str]) -> None:
        if len(events) == 1:
            topic, payload = events[0]
            await self._redis.publish(self._channel_prefix + topic, payload)
            return
        pipe = self._redis.pipeline(transaction=False)
        for topic, payload in events:
            pipe.publish(self._channel_prefix + topic, payload)
        await pipe.execute()

    async def _read(self) -> None:
        cut = len(self._channel_prefix)
        lost_at: Optional[float] = None  # when the subscriber connection failed, until it is back
        while True:
            try:
                if lost_at is not None:
                    # Connecting re-subscribes every channel (redis-py's PubSub.on_connect);
                    # what was published while we were away is gone: say since when.
                    connection = self._pubsub.connection
                    if connection is not None:
                        await connection.connect()
                    since, lost_at = lost_at, None
                    if self._resubscribed is not None:
                        self._resubscribed(since)
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                if lost_at is None:
                    lost_at = time.time()
                    logger.warning("redis bus: subscriber connection failed, retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message" or self._handler is None:
                continue
            try:
                self._handler(message["channel"][cut:], message["data"])
            except Exception:
                logger.exception("redis bus: event handler failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        # (redis-py leaves PubSub.aclose untyped)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        for client in (self._subscriber, self._redis):
            await client.aclose()
            await client.connection_pool.disconnect()

