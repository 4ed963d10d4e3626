"""Server frames built from stored records (the ``message`` frame and friends).

:mod:`handoff.protocol` parses what clients send; this module shapes what the
gateway sends that comes from storage, so both stay in one place each.
"""
from __future__ import annotations

import datetime as dt
import json.encoder
from functools import lru_cache
from typing import Any, Dict, Optional

from .protocol import dumps
from .storage import MessageRecord

Frame = Dict[str, Any]


@lru_cache(maxsize=256)
def iso(ts: dt.datetime) -> str:
    """``2026-12-01T13:02:58.123Z``. Cached: the messages of a burst share one
    timestamp, and formatting it costs more than the rest of their frame."""
    return ts.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_frame(message: MessageRecord, conversation_id: bool = False) -> Frame:
    """A stored message as the protocol's ``message`` frame."""
    frame: Frame = {
        "type": "message",
        "id": message.id,
        "sender": message.sender,
        "text": message.text,
        "ts": iso(message.created_at),
    }
    if message.extra:
        for key in ("buttons", "image", "custom"):
            if key in message.extra:
                frame[key] = message.extra[key]
    if message.agent_name and message.sender == "agent":
        frame["agent_name"] = message.agent_name
    if message.client_id:
        frame["client_id"] = message.client_id
    if conversation_id:
        frame["conversation_id"] = message.conversation_id
    return frame


_json_str = json.encoder.encode_basestring  # a str as JSON, UTF-8 kept as is (like protocol.dumps)


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
    if message.agent_name and message.sender == "agent":
        text += ',"agent_name":' + _json_str(message.agent_name)
    if message.client_id:
        text += ',"client_id":' + _json_str(message.client_id)
    return text + "}"


def bot_message(conversation_id: str, reply: Dict[str, Any]) -> Optional[MessageRecord]:
    text = reply.get("text")
    extra: Dict[str, Any] = {}
    buttons = reply.get("buttons")
    if isinstance(buttons, list):
        extra["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons
            if isinstance(b, dict)
        ]
    if isinstance(reply.get("image"), str):
        extra["image"] = reply["image"]
    if reply.get("custom") is not None:
        extra["custom"] = reply["custom"]
    if not isinstance(text, str):
        text = ""
    if not text and not extra:
        return None
    return MessageRecord(conversation_id=conversation_id, sender="bot", text=text, extra=extra or None)
