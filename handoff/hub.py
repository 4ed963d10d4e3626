"""The relay: which websockets of this process belong to whom, and fan-out.

Every frame for a shopper or an agent is published on the :mod:`bus`
(``c:<conversation>``, ``a:<agent>``, ``agents``), never written straight to
a socket, so it reaches the right sockets whichever process they are on. This
process subscribes to ``c:<id>`` while it has a socket of that conversation and
to ``a:<id>`` while it has a socket of that agent; frames arrive as ready JSON
text and are written with :func:`websockets.broadcast` (no awaiting, no
per-connection task, one serialisation for all sockets). A burst of relayed
messages travels as one payload (frames joined by newlines, see
:meth:`Hub.publish`) and is written with one transport write per socket.

``close-agent`` (payload ``[agent id, close code, reason]``) closes that
agent's sockets on every process (:meth:`Hub.close_agent`: a disabled account).

A sender's own socket gets its message back the same way: that echo, with the
stored ``id`` and ``ts``, is the acknowledgement. Clients de-duplicate by
message ``id`` (a message may arrive both live and in a resumed history).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.protocol import Side, State

from .bus import Bus
from .frames import Frame, dumps, for_agent

logger = logging.getLogger(__name__)

QUEUES_TOPIC = "queues"
AGENTS_TOPIC = "agents"
CLOSE_AGENT_TOPIC = "close-agent"
#: between the frames of a payload that carries several (see :meth:`Hub.publish`)
SEPARATOR = "\n"
#: topics whose payload is not frames for sockets (never joined, see :meth:`Hub.send`)
_SINGLE = frozenset((QUEUES_TOPIC, CLOSE_AGENT_TOPIC))


class Hub:
    def __init__(
        self,
        bus: Bus,
        on_queues_changed: Callable[[], None],
        on_missed: Optional[Callable[[float], None]] = None,
    ) -> None:
        self.bus = bus
        self._on_queues_changed = on_queues_changed
        #: the bus was away from ``since`` (a ``time.time()``) until now (see :mod:`handoff.bus`)
        self._on_missed = on_missed
        self._shoppers: Dict[str, Set[Any]] = {}
        self._agents: Dict[int, Set[Any]] = {}
        self._held: Dict[Any, List[str]] = {}
        #: supervisors' sockets reading a chat without joining it (handoff/supervise.py)
        self._watchers: Dict[str, Set[Any]] = {}
        self._closing: Set["asyncio.Future[None]"] = set()

    async def start(self) -> None:
        await self.bus.subscribe(QUEUES_TOPIC)
        await self.bus.subscribe(AGENTS_TOPIC)
        await self.bus.subscribe(CLOSE_AGENT_TOPIC)
        await self.bus.start(self._deliver, self._on_missed)

    # -- local sockets -----------------------------------------------------

    async def add_shopper(self, conversation_id: str, socket: Any) -> None:
        sockets = self._shoppers.setdefault(conversation_id, set())
        sockets.add(socket)
        if len(sockets) == 1:
            await self.bus.subscribe(f"c:{conversation_id}")

    async def remove_shopper(self, conversation_id: str, socket: Any) -> None:
        sockets = self._shoppers.get(conversation_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self._shoppers[conversation_id]
            if conversation_id not in self._watchers:
                await self.bus.unsubscribe(f"c:{conversation_id}")

    async def watch(self, conversation_id: str, socket: Any) -> None:
        """An agent socket reads the chat's messages (what its shopper sees, as
        agent ``message`` frames) without joining: it listens on the
        conversation's topic, nothing is published for it."""
        if conversation_id not in self._shoppers and conversation_id not in self._watchers:
            await self.bus.subscribe(f"c:{conversation_id}")
        self._watchers.setdefault(conversation_id, set()).add(socket)

    async def unwatch(self, conversation_id: str, socket: Any) -> None:
        sockets = self._watchers.get(conversation_id)
        if sockets is None or socket not in sockets:
            return
        sockets.discard(socket)
        if not sockets:
            del self._watchers[conversation_id]
            if conversation_id not in self._shoppers:
                await self.bus.unsubscribe(f"c:{conversation_id}")

    async def unwatch_all(self, socket: Any) -> None:
        """The socket closed: stop its views."""
        for conversation_id in [cid for cid, sockets in self._watchers.items() if socket in sockets]:
            await self.unwatch(conversation_id, socket)

    async def add_agent(self, agent_id: int, socket: Any) -> int:
        """Returns how many sockets this agent now has on this process."""
        sockets = self._agents.setdefault(agent_id, set())
        sockets.add(socket)
        if len(sockets) == 1:
            await self.bus.subscribe(f"a:{agent_id}")
        return len(sockets)

    async def remove_agent(self, agent_id: int, socket: Any) -> int:
        """Returns how many sockets this agent still has on this process."""
        sockets = self._agents.get(agent_id)
        if sockets is None:
            return 0
        sockets.discard(socket)
        if sockets:
            return len(sockets)
        del self._agents[agent_id]
        await self.bus.unsubscribe(f"a:{agent_id}")
        return 0

    def local_conversations(self) -> Iterable[str]:
        return list(self._shoppers)

    def local_agents(self) -> Iterable[int]:
        return list(self._agents)

    def shopper_sockets(self, conversation_id: str) -> Set[Any]:
        return self._shoppers.get(conversation_id, set())

    def agent_sockets(self, agent_id: Optional[int] = None) -> Iterable[Any]:
        """Every agent socket of this process, or one agent's."""
        if agent_id is not None:
            return self._agents.get(agent_id, set())
        return [socket for sockets in self._agents.values() for socket in sockets]

    # -- sending -----------------------------------------------------------

    async def send(self, *events: Tuple[str, Frame]) -> None:
        """Publish frames: each event is (topic, frame). Frames in a row for
        the same topic travel as one payload (:meth:`publish`): a socket gets
        them in one transport write, not one system call (and one wake-up of
        its client) a frame; the bot's ``typing`` off and its messages, say."""
        if len(events) == 1:
            topic, frame = events[0]
            await self.bus.publish((topic, dumps(frame)))
            return
        payloads: List[Tuple[str, str]] = []
        for topic, frame in events:
            text = dumps(frame)
            if payloads and payloads[-1][0] == topic and topic not in _SINGLE:
                payloads[-1] = (topic, payloads[-1][1] + SEPARATOR + text)
            else:
                payloads.append((topic, text))
        await self.bus.publish(*payloads)

    async def publish(self, events: List[Tuple[str, str]]) -> None:
        """Publish (topic, payload) pairs, in order, in one bus round trip. A
        payload is one ready JSON frame, or several joined by newlines
        (:data:`SEPARATOR`): compact JSON never holds a raw newline, and one
        bus event for a burst of frames costs far less than one each."""
        await self.bus.publish(*events)

    @staticmethod
    def shopper_topic(conversation_id: str) -> str:
        return f"c:{conversation_id}"

    @staticmethod
    def agent_topic(agent_id: int) -> str:
        return f"a:{agent_id}"

    @staticmethod
    def to_shopper(conversation_id: str, frame: Frame) -> Tuple[str, Frame]:
        return f"c:{conversation_id}", frame

    @staticmethod
    def to_agent(agent_id: int, frame: Frame) -> Tuple[str, Frame]:
        return f"a:{agent_id}", frame

    @staticmethod
    def to_agents(frame: Frame) -> Tuple[str, Frame]:
        return AGENTS_TOPIC, frame

    async def queues_changed(self) -> None:
        await self.bus.publish((QUEUES_TOPIC, ""))

    async def close_agent(self, agent_id: int, code: int, reason: str) -> None:
        """Close every socket of ``agent_id``, on every process, with ``code``."""
        await self.bus.publish((CLOSE_AGENT_TOPIC, json.dumps([agent_id, code, reason])))

    def _close_local_agent(self, payload: str) -> None:
        try:
            agent_id, code, reason = json.loads(payload)
        except ValueError:
            return
        for socket in list(self._agents.get(agent_id, ())):
            closing = asyncio.ensure_future(socket.close(code, reason))
            self._closing.add(closing)  # held until done (the loop keeps only weak references)
            closing.add_done_callback(self._closed)

    def _closed(self, done: "asyncio.Future[None]") -> None:
        self._closing.discard(done)
        if not done.cancelled() and done.exception() is not None:  # already closing: nothing to do
            logger.debug("closing an agent's socket failed", exc_info=done.exception())

    def hold(self, socket: Any) -> None:
        """Keep frames for ``socket`` back until :meth:`release` (its welcome
        must be the first frame it gets, yet it listens before that)."""
        self._held[socket] = []

    def release(self, socket: Any) -> None:
        """Write the frames held for ``socket``, in order, and stop holding."""
        for text in self._held.pop(socket, ()):
            self.write((socket,), text)

    def write(self, sockets: Iterable[Any], text: str) -> None:
        """Write one ready frame to local sockets without waiting."""
        if self._held:
            ready = []
            for socket in sockets:
                held = self._held.get(socket)
                if held is None:
                    ready.append(socket)
                else:
                    held.append(text)
            sockets = ready
        broadcast(sockets, text)  # skips (and logs) a socket busy with a fragmented send

    def _deliver(self, topic: str, payload: str) -> None:
        if topic == QUEUES_TOPIC:
            self._on_queues_changed()
            return
        if topic == CLOSE_AGENT_TOPIC:
            self._close_local_agent(payload)
            return
        if topic.startswith("c:"):
            if self._watchers:
                self._to_watchers(topic[2:], payload)
            sockets: Any = self._shoppers.get(topic[2:], ())
        elif topic.startswith("a:"):
            try:
                agent_id = int(topic[2:])
            except ValueError:
                return
            sockets = self._agents.get(agent_id, ())
        elif topic == AGENTS_TOPIC:
            sockets = self.agent_sockets()
        else:
            return
        if not sockets:
            return
        if SEPARATOR in payload:  # several frames (see :meth:`publish`)
            self.write_many(sockets, payload.split(SEPARATOR))
        else:
            self.write(sockets, payload)

    def _to_watchers(self, conversation_id: str, payload: str) -> None:
        """The chat's messages, as agents get them, to the sockets watching it."""
        watchers = self._watchers.get(conversation_id)
        if not watchers:
            return
        texts = [for_agent(text, conversation_id) for text in payload.split(SEPARATOR)
                 if text.startswith('{"type":"message"')]
        if texts:
            self.write_many(watchers, texts)

    def write_many(self, sockets: Iterable[Any], texts: List[str]) -> None:
        """Write several ready frames, in order, to local sockets without
        waiting: one transport write per socket (:func:`write_texts`)."""
        for socket in sockets:
            held = self._held.get(socket) if self._held else None
            if held is not None:
                held.extend(texts)
            else:
                write_texts(socket, texts)


def write_texts(socket: ServerConnection, texts: List[str]) -> None:
    """Text frames to one socket in one transport write (a burst of relayed
    messages costs one ``send`` system call, not one per frame), with
    :func:`websockets.asyncio.server.broadcast`'s rules: nothing if the
    socket is not open, skipped while it sends a fragmented message.

    A server's text frame with no extension is a two-to-ten-byte header and
    the UTF-8 text as it is (RFC 6455 5.2: unmasked, FIN, opcode 1): those
    are written here, at a tenth of what the protocol's ``send_text`` costs
    a frame (a ``Frame``, its checks and serialisation: 8% of the gateway's
    relay CPU). With an extension (the gateway negotiates none) the frames
    are the sans-I/O protocol's own, as ``tests/handoff/test_hub.py`` holds them."""
    protocol = socket.protocol
    if protocol.state is not State.OPEN:
        return
    if socket.send_in_progress is not None or protocol.expect_continuation_frame:
        logger.warning("broadcast skipped a busy socket")
        return
    if protocol.extensions or protocol.side is not Side.SERVER:
        for text in texts:
            protocol.send_text(text.encode("utf-8"))
        socket.transport.write(b"".join(protocol.data_to_send()))
        return
    parts = protocol.data_to_send()  # whatever the protocol has queued goes first
    for text in texts:
        payload = text.encode("utf-8")
        parts.append(_text_header(len(payload)))
        parts.append(payload)
    socket.transport.write(b"".join(parts))


#: the header of an unmasked final text frame of each payload length below 126 bytes
_SHORT_HEADERS = [bytes((0x81, length)) for length in range(126)]


def _text_header(length: int) -> bytes:
    """RFC 6455 5.2: FIN + text opcode, then the payload length (7 bits, or 126
    and 16 bits, or 127 and 64 bits); no mask bit, no masking key (a server's)."""
    if length < 126:
        return _SHORT_HEADERS[length]
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")
