"""The frames an agent's console gets (PROTOCOL.md "Agent endpoint"), and the
two that leave the websockets: the login answer and the emergency page."""
from __future__ import annotations

import datetime as dt
import time
from typing import Dict, List, Mapping, Optional, Tuple

from ..contract import QUEUES
from ..live_state import QueueEntry
from ..storage import MessageRecord
from .base import VERSION, Frame, iso, messages, with_ref


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
