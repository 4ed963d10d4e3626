"""Every frame the gateway sends, one builder per frame type of ``PROTOCOL.md``.

:mod:`handoff.protocol` parses what clients send; this module shapes what the
gateway sends (to shoppers, to agents, and the emergency page to the webhook),
so a frame type's fields are written down once, here, in the order
``PROTOCOL.md`` lists them. The parts of the gateway (:mod:`handoff.service`
and the modules it delegates to) call these builders and never write a frame
dict themselves.

A frame is a plain JSON object (:data:`Frame`); :func:`dumps` serialises it,
:func:`message_json` is the relay's hot path for the ``message`` frame. This
module imports nothing of :mod:`handoff.protocol` (which re-exports
:data:`VERSION`, :func:`dumps` and the ``error`` builders under their earlier
names), so both import in either order.
"""
from __future__ import annotations

import datetime as dt
import json
import json.encoder
import time
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .contract import QUEUES
from .live_state import QueueEntry
from .storage import MessageRecord

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


# -- shopper endpoint ----------------------------------------------------


def shopper_welcome(
    conversation_id: str,
    token: str,
    role: str,
    line: str,
    state: str,
    history: List[Frame],
    *,
    queue: Optional[str] = None,
    agent_name: Optional[str] = None,
) -> Frame:
    """``welcome`` to a shopper: ``queue`` when waiting, ``agent`` when with an agent."""
    frame: Frame = {
        "type": "welcome",
        "v": VERSION,
        "conversation_id": conversation_id,
        "token": token,
        "role": role,
        "line": line,
        "state": state,
        "history": history,
    }
    if queue is not None:
        frame["queue"] = queue
    elif agent_name is not None:
        frame["agent"] = {"name": agent_name}
    return frame


def state(value: str, *, queue: Optional[str] = None, agent_name: Optional[str] = None) -> Frame:
    """``state``: ``queue`` when waiting, ``agent`` when with an agent."""
    frame: Frame = {"type": "state", "state": value}
    if queue is not None:
        frame["queue"] = queue
    elif agent_name is not None:
        frame["agent"] = {"name": agent_name}
    return frame


def bot_typing(on: bool) -> Frame:
    return {"type": "typing", "who": "bot", "on": on}


def agent_typing(on: bool, name: str) -> Frame:
    """The agent's ``typing``, to the shopper."""
    return {"type": "typing", "who": "agent", "on": on, "name": name}


def seen(up_to: str) -> Frame:
    """The agent has read the shopper's messages up to the message ``up_to``."""
    return {"type": "seen", "up_to": up_to}


def queue(name: str, position: int, estimated_wait_s: int) -> Frame:
    return {"type": "queue", "queue": name, "position": position, "estimated_wait_s": estimated_wait_s}


def agent_joined(name: str) -> Frame:
    return {"type": "agent_joined", "agent": {"name": name}}


def rating_request() -> Frame:
    return {"type": "rating_request"}


def rating_saved(score: int) -> Frame:
    return {"type": "rating_saved", "score": score}


def offline() -> Frame:
    return {"type": "offline"}


def ticket_saved(ticket_id: int, reply_within: str) -> Frame:
    """``reply_within``: the policy's general response window (``24-48 hours``), for the widget's card."""
    return {"type": "ticket_saved", "ticket_id": ticket_id, "reply_within": reply_within}


def paged() -> Frame:
    return {"type": "paged"}


# -- agent endpoint ------------------------------------------------------


def queues_body(
    snapshot: Mapping[str, List[QueueEntry]], present: Optional[Mapping[str, bool]] = None
) -> Dict[str, List[Frame]]:
    """Every queue's entries, as ``queues`` and the agent's ``welcome`` show them;
    ``present`` (the welcome's): each entry's ``shopper_present``."""
    now = time.time()
    body = {name: [entry.frame(now) for entry in snapshot.get(name, [])] for name in QUEUES}
    if present is not None:
        for entry in (e for entries in body.values() for e in entries):
            entry["shopper_present"] = present.get(entry["conversation_id"], True)
    return body


def queues(snapshot: Mapping[str, List[QueueEntry]]) -> Frame:
    return {"type": "queues", "queues": queues_body(snapshot)}


def agent_welcome(
    agent_id: int, name: str, role: str, snapshot: Mapping[str, List[QueueEntry]], chats: List[Frame],
    present: Optional[Mapping[str, bool]] = None, status: str = "online", agents: Optional[List[Frame]] = None,
) -> Frame:
    """``agents``: who is online now, :func:`roster_agent` each (then ``agent_status`` frames)."""
    return {
        "type": "welcome",
        "v": VERSION,
        "agent": {"id": agent_id, "name": name, "role": role, "status": status},
        "queues": queues_body(snapshot, present),
        "chats": chats,
        "agents": agents or [],
    }


def roster_agent(agent_id: int, name: str, status: str) -> Frame:
    """An agent online, in ``welcome.agents`` (whom a chat can be transferred to)."""
    return {"id": agent_id, "name": name, "status": status}


def handoff(entry: QueueEntry) -> Frame:
    """A chat starts waiting (new, transferred or requeued)."""
    return {"type": "handoff", "entry": entry.frame()}


def chat(
    conversation_id: str,
    role: Optional[str],
    line: Optional[str],
    claimed_at: Optional[dt.datetime],
    entry: Optional[QueueEntry],
    transcript: List[MessageRecord],
    sla_due: Optional[str],
    shopper_present: bool = True,
    pending: Optional[QueueEntry] = None,
) -> Frame:
    """A chat as ``claimed`` and the agent's ``welcome.chats`` show it
    (``sla_due``: until a person answered, :mod:`handoff.countdown`;
    ``shopper_present``: :mod:`handoff.presence`; ``transfer_pending``: the
    owner transferred it and keeps it until it is taken)."""
    return {
        "conversation_id": conversation_id,
        "role": role,
        "line": line,
        "claimed_at": iso(claimed_at) if claimed_at else None,
        "sla_due": sla_due,
        "shopper_present": shopper_present,
        "handoff": {
            "queue": entry.queue if entry else None,
            "reason": entry.reason if entry else None,
            "summary": entry.summary if entry else "",
            "context": entry.context if entry else {},
        },
        "transcript": messages(transcript),
        "transfer_pending": _transfer(pending) if pending is not None else None,
    }


def _transfer(entry: QueueEntry) -> Frame:
    frame = entry.frame()
    return {"queue": entry.queue, "offered_to": frame["offered_to"]}


def transfer_pending(entry: QueueEntry) -> Frame:
    """To the owner: their transfer waits in ``queue`` (offered to an agent,
    or to anyone once ``offered_to`` is null); they keep the chat meanwhile."""
    return {"type": "transfer_pending", "conversation_id": entry.conversation_id, **_transfer(entry)}


def agent_status(agent_id: int, name: str, status: str) -> Frame:
    """An agent's status changed (online, away, busy), they connected, or are
    ``offline`` (their last socket closed): to every agent."""
    return {"type": "agent_status", "agent": {"id": agent_id, "name": name}, "status": status}


def live_chats(chats: List[Frame], agents: List[Frame], ref: Optional[str]) -> Frame:
    """A supervisor's view of the desk: every waiting and claimed chat, every agent online."""
    return with_ref({"type": "live_chats", "chats": chats, "agents": agents}, ref)


def live_chat(
    entry: QueueEntry, state: str, owner: Optional[Tuple[int, Optional[str]]], pending: Optional[QueueEntry] = None
) -> Frame:
    """One chat of ``live_chats``: its entry, ``state`` (waiting, agent), owner, pending transfer."""
    return {
        "conversation_id": entry.conversation_id,
        "state": state,
        "agent": {"id": owner[0], "name": owner[1]} if owner is not None else None,
        "entry": entry.frame(),
        "transfer_pending": _transfer(pending) if pending is not None else None,
    }


def reassigned(
    conversation_id: str, agent_id: Optional[int], name: Optional[str], queue: Optional[str], ref: Optional[str]
) -> Frame:
    """The answer to a supervisor's ``reassign``: to that agent (claimed) or queue (pending)."""
    agent = {"id": agent_id, "name": name} if agent_id is not None else None
    return with_ref({"type": "reassigned", "conversation_id": conversation_id, "agent": agent, "queue": queue}, ref)


def desk_agent(agent_id: int, name: str, status: str, chats: int, capacity: int) -> Frame:
    """One agent of ``live_chats``: status, chats owned, capacity."""
    return {"id": agent_id, "name": name, "status": status, "chats": chats, "capacity": capacity}


def watching(chat_frame: Frame, ref: Optional[str]) -> Frame:
    """A supervisor opened a chat read-only (``watch``): its live messages follow."""
    return with_ref({"type": "watching", "chat": chat_frame}, ref)


def claimed(chat_frame: Frame, ref: Optional[str]) -> Frame:
    return with_ref({"type": "claimed", "chat": chat_frame}, ref)


def shopper_typing(conversation_id: str, on: bool) -> Frame:
    """The shopper's ``typing``, to the agent."""
    return {"type": "typing", "conversation_id": conversation_id, "who": "shopper", "on": on}


def presence(conversation_id: str, present: bool) -> Frame:
    """The shopper of a waiting or claimed chat left (their last socket closed) or came back."""
    return {"type": "presence", "conversation_id": conversation_id, "shopper": "present" if present else "left"}


def chat_ended(conversation_id: str, why: str) -> Frame:
    return {"type": "chat_ended", "conversation_id": conversation_id, "why": why}


def sla_alert(
    kind: str,
    entry: QueueEntry,
    state: str,
    agent: Optional[Tuple[int, Optional[str]]],
    sla_due: Optional[str],
    **extra: int,
) -> Frame:
    """``sla_alert`` to supervisors (and the chat's agent): ``breach``,
    ``silent`` or ``requeued`` (handoff/escalation.py); ``extra``:
    ``overdue_s`` or ``silent_s``."""
    return {
        "type": "sla_alert",
        "kind": kind,
        "conversation_id": entry.conversation_id,
        "queue": entry.queue,
        "reason": entry.reason,
        "summary": entry.summary,
        "state": state,
        "agent": {"id": agent[0], "name": agent[1]} if agent is not None else None,
        "sla_due": sla_due,
        **extra,
    }


# -- outside the websockets ------------------------------------------------


def login_answer(token: str, agent_id: int, name: str, role: str) -> Frame:
    """The body of ``POST /api/login``'s 200 (``role``: the console's Reports link)."""
    return {"token": token, "agent": {"id": agent_id, "name": name, "role": role}}


def page(entry: QueueEntry, escalation: Optional[str] = None) -> Frame:
    """The emergency page posted to ``--page-webhook`` (no transcript, no contact
    details); ``escalation`` says why a page is sent again (handoff/escalation.py)."""
    frame: Frame = {
        "type": "page",
        "conversation_id": entry.conversation_id,
        "handoff_id": entry.handoff_id,
        "queue": entry.queue,
        "reason": entry.reason,
        "summary": entry.summary,
        "waited_s": int(time.time() - entry.enqueued_at),
    }
    if escalation is not None:
        frame["escalation"] = escalation
    return frame
