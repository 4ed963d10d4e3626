"""The frames a shopper's socket gets (PROTOCOL.md "Shopper endpoint")."""
from __future__ import annotations

from typing import List, Optional

from .base import VERSION, Frame


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
