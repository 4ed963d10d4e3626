"""The relay writes a burst's text frames itself: byte for byte what websockets would write."""
from __future__ import annotations

from typing import Any, List

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from handoff.hub import write_texts


class _Transport:
    def __init__(self) -> None:
        self.written: List[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class _Socket:
    """What write_texts reads of a websockets ServerConnection."""

    def __init__(self, protocol: ServerProtocol) -> None:
        self.protocol = protocol
        self.transport = _Transport()
        self.send_in_progress: Any = None


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
