"""What every server frame shares, and the frames of both endpoints.

The protocol version, :data:`Frame` and :func:`dumps`, the ``error`` frame,
and the ``message`` frame (:func:`message_json` is the relay's hot path).
The package :mod:`handoff.frames` re-exports every name of its modules.
"""
from __future__ import annotations

import datetime as dt
import json
import json.encoder
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional

from ..storage import MessageRecord

#: Protocol version spoken by this gateway (``hello.v``, ``welcome.v``; also
#: :data:`handoff.protocol.VERSION`, which client frames are checked against).
VERSION = 1
#: the code of an ``error`` that is our fault (:attr:`handoff.protocol.Code.INTERNAL`)
INTERNAL_ERROR = "internal_error"

#: a server frame (and the JSON objects inside one: a chat, a queue entry)
Frame = Dict[str, Any]

#: One encoder for every frame: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(frame: Mapping[str, Any]) -> str:
    """Serialise a server frame (compact, UTF-8 kept as is)."""
    return _ENCODER.encode(frame)


def with_ref(frame: Frame, ref: Optional[str]) -> Frame:
    """``frame`` answering a client frame that carried ``ref``."""
    return dict(frame, ref=ref) if ref is not None else frame


@lru_cache(maxsize=256)
def iso(ts: dt.datetime) -> str:
    """``2026-12-01T13:02:58.123Z``. Cached: the messages of a burst share one
    timestamp, and formatting it costs more than the rest of their frame."""
    return ts.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- both endpoints ------------------------------------------------------


def error(
    code: str,
    message: str,
    *,
    field: Optional[str] = None,
    ref: Optional[str] = None,
    retry_after_ms: Optional[int] = None,
) -> Frame:
    """``error`` (PROTOCOL.md "Errors")."""
    frame: Frame = {"type": "error", "code": code, "message": message}
    if field is not None:
        frame["field"] = field
    if ref is not None:
        frame["ref"] = ref
    if retry_after_ms is not None:
        frame["retry_after_ms"] = retry_after_ms
    return frame


def internal_error(ref: Optional[str] = None) -> Frame:
    """Our failure, not the client's: nothing about it is told but that."""
    return error(INTERNAL_ERROR, "Something went wrong on our side; please try again.", ref=ref)


#: senders whose message frame names the agent (a private note is an agent's too)
_NAMED = ("agent", "note")


def message_frame(message: MessageRecord, conversation_id: bool = False) -> Frame:
    """A stored message as the ``message`` frame (``conversation_id``: for agents)."""
    frame: Frame = {
        "type": "message",
        "id": message.id,
        "sender": message.sender,
        "text": message.text,
        "ts": iso(message.created_at),
    }
    if message.extra:
        for key in ("buttons", "image", "custom", "attachment"):
            if key in message.extra:
                frame[key] = message.extra[key]
    if message.agent_name and message.sender in _NAMED:
        frame["agent_name"] = message.agent_name
    if message.client_id:
        frame["client_id"] = message.client_id
    if conversation_id:
        frame["conversation_id"] = message.conversation_id
    return frame


def agent_copy(frame: Frame, conversation_id: str) -> Frame:
    """A ``message`` frame as the agent gets it (with ``conversation_id``)."""
    return dict(frame, conversation_id=conversation_id)


def messages(records: List[MessageRecord], conversation_id: bool = False) -> List[Frame]:
    """A history or transcript: ``message`` frames, oldest first."""
    return [message_frame(m, conversation_id) for m in records]


_json_str = json.encoder.encode_basestring  # a str as JSON, UTF-8 kept as is (like dumps)


def message_json(message: MessageRecord) -> str:
    """``dumps(message_frame(message))``, built as text: the relay's hot path
    (a dict and the generic encoder cost about three times as much here).
    Messages with ``extra`` take the generic way; ``tests/handoff/
    test_frames.py`` holds the two equal."""
    if message.extra:
        return dumps(message_frame(message))
    text = (
        f'{{"type":"message","id":{_json_str(message.id)},"sender":{_json_str(message.sender)},'
        f'"text":{_json_str(message.text)},"ts":"{iso(message.created_at)}"'
    )
    if message.agent_name and message.sender in _NAMED:
        text += ',"agent_name":' + _json_str(message.agent_name)
    if message.client_id:
        text += ',"client_id":' + _json_str(message.client_id)
    return text + "}"


def for_agent(text: str, conversation_id: str) -> str:
    """A :func:`message_json` text with ``conversation_id`` (the agent's copy),
    equal to ``dumps(message_frame(m, True))`` without a second serialisation."""
    return text[:-1] + ',"conversation_id":"' + conversation_id + '"}'  # a conversation id is hex
