"""The relay writes a burst's text frames itself: byte for byte what websockets would
write; the frames of one ``Hub.send`` for one socket go out in one write."""
from __future__ import annotations

from typing import Any, List

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from handoff.bus import MemoryBus
from handoff.frames import dumps
from handoff.hub import Hub, write_texts


class _Transport:
    def __init__(self) -> None:
        self.written: List[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class _Socket:
    """What write_texts and websockets' broadcast read of a websockets ServerConnection."""

    def __init__(self, protocol: ServerProtocol) -> None:
        self.protocol = protocol
        self.transport = _Transport()
        self.send_in_progress: Any = None

    def send_data(self) -> None:
        """websockets' own (what ``broadcast`` calls): one write per chunk the protocol has."""
        for data in self.protocol.data_to_send():
            self.transport.write(data)


def _open(extensions: Any = ()) -> ServerProtocol:
    protocol = ServerProtocol()
    protocol.state = State.OPEN
    protocol.extensions = list(extensions)
    return protocol


def _by_websockets(texts: List[str], extensions: Any = ()) -> bytes:
    protocol = _open(extensions)
    for text in texts:
        protocol.send_text(text.encode("utf-8"))
    return b"".join(protocol.data_to_send())


TEXTS = ["", "a", "x" * 125, "x" * 126, "y" * 127, "é" * 63, "€" * 42, "z" * 65535, "z" * 65536, "😀" * 20000,
         '{"type":"message","text":"line\\nbreak"}']


def test_frames_are_websockets_own() -> None:
    socket = _Socket(_open())
    write_texts(socket, TEXTS)  # type: ignore[arg-type]
    assert socket.transport.written == [_by_websockets(TEXTS)]


def test_a_client_reads_them_back() -> None:
    socket = _Socket(_open())
    write_texts(socket, TEXTS)  # type: ignore[arg-type]
    reader = StreamReader()
    reader.feed_data(socket.transport.written[0])
    reader.feed_eof()
    for text in TEXTS:
        frame = _parsed(reader)
        assert frame.opcode is Opcode.TEXT and frame.fin and frame.data.decode("utf-8") == text


def _parsed(reader: StreamReader) -> Frame:
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        while True:
            next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame


def test_queued_protocol_data_goes_first() -> None:
    protocol = _open()
    protocol.send_ping(b"p")
    socket = _Socket(protocol)
    write_texts(socket, ["after"])  # type: ignore[arg-type]
    expected = _open()
    expected.send_ping(b"p")
    expected.send_text(b"after")
    assert socket.transport.written == [b"".join(expected.data_to_send())]


def test_with_an_extension_websockets_builds_them() -> None:
    deflate = PerMessageDeflate(False, False, 15, 15)
    socket = _Socket(_open([deflate]))
    write_texts(socket, ["compressed " * 20, "twice"])  # type: ignore[arg-type]
    assert socket.transport.written == [_by_websockets(["compressed " * 20, "twice"],
                                                       [PerMessageDeflate(False, False, 15, 15)])]


@pytest.mark.parametrize("state", [State.CONNECTING, State.CLOSING, State.CLOSED])
def test_nothing_to_a_socket_that_is_not_open(state: State) -> None:
    protocol = _open()
    protocol.state = state
    socket = _Socket(protocol)
    write_texts(socket, ["x"])  # type: ignore[arg-type]
    assert socket.transport.written == []


def test_a_busy_socket_is_skipped() -> None:
    socket = _Socket(_open())
    socket.send_in_progress = object()
    write_texts(socket, ["x"])  # type: ignore[arg-type]
    assert socket.transport.written == []


class _Bus(MemoryBus):
    """A memory bus that also keeps what was published."""

    def __init__(self) -> None:
        super().__init__()
        self.published: List[Any] = []

    async def publish(self, *events: Any) -> None:
        self.published.append(events)
        await super().publish(*events)


async def test_frames_in_a_row_for_one_socket_are_one_write() -> None:
    """The bot's typing off and its messages (or an echo and the typing on):
    one payload on the bus, one transport write to the socket (one system
    call, one wake-up of the client), in order; a frame for another topic
    in between keeps the order of the topics."""
    bus = _Bus()
    hub = Hub(bus, lambda: None)
    await hub.start()
    shopper, agent = _Socket(_open()), _Socket(_open())
    await hub.add_shopper("c1", shopper)
    await hub.add_agent(7, agent)
    off = {"type": "typing", "who": "bot", "on": False}
    messages = [{"type": "message", "id": str(i), "text": f"m{i}"} for i in range(3)]
    await hub.send(Hub.to_shopper("c1", off), *(Hub.to_shopper("c1", m) for m in messages))
    assert shopper.transport.written == [_by_websockets([dumps(f) for f in [off, *messages]])]
    assert bus.published[-1] == (("c:c1", "\n".join(dumps(f) for f in [off, *messages])),)

    shopper.transport.written.clear()
    note = {"type": "note", "text": "n"}
    await hub.send(Hub.to_shopper("c1", messages[0]), Hub.to_agent(7, note), Hub.to_shopper("c1", messages[1]))
    assert [topic for topic, _ in bus.published[-1]] == ["c:c1", "a:7", "c:c1"]
    assert shopper.transport.written == [_by_websockets([dumps(messages[0])]), _by_websockets([dumps(messages[1])])]
    assert agent.transport.written == [_by_websockets([dumps(note)])]
