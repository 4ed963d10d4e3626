"""The client frames of the websocket protocol, version 1, as typed records.

One frozen dataclass per frame type a client sends (PROTOCOL.md "Shopper
endpoint" and "Agent endpoint"); :func:`handoff.protocol.parse_frame` makes
them from the JSON text, checked field by field against the frame tables of
:mod:`handoff.protocol`, which re-exports every name here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union


@dataclass(frozen=True)
class ShopperHello:
    v: int
    token: Optional[str] = None
    role: str = "shopper"
    line: str = "chat"
    ref: Optional[str] = None
    #: the widget's random id of this browser (since 2026-12-06; handoff/shopper_keys.py)
    browser: Optional[str] = None


@dataclass(frozen=True)
class ShopperMessage:
    text: str
    client_id: Optional[str] = None
    #: the client says this is the message's first sending (revision 2026-12-06): no attempt
    #: before it can have been stored, so the assistant is asked without looking for one
    first: bool = False
    ref: Optional[str] = None


@dataclass(frozen=True)
class ShopperTyping:
    on: bool
    ref: Optional[str] = None


@dataclass(frozen=True)
class Rating:
    score: int
    comment: Optional[str] = None
    ref: Optional[str] = None


@dataclass(frozen=True)
class Ticket:
    email: str
    text: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class AgentHello:
    v: int
    token: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class Claim:
    conversation_id: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class AgentMessage:
    conversation_id: str
    text: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class AgentTyping:
    conversation_id: str
    on: bool
    ref: Optional[str] = None


@dataclass(frozen=True)
class Transfer:
    conversation_id: str
    queue: str
    note: Optional[str] = None
    #: offered to this agent (revision 2026-12-06); the owner keeps the chat until it is taken
    agent_id: Optional[int] = None
    ref: Optional[str] = None


@dataclass(frozen=True)
class Status:
    """The agent's status: online, away, busy (revision 2026-12-06)."""

    status: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class ListChats:
    """A supervisor asks for every live chat (revision 2026-12-06)."""

    ref: Optional[str] = None


@dataclass(frozen=True)
class Watch:
    """A supervisor reads a chat without joining (revision 2026-12-06)."""

    conversation_id: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class Unwatch:
    conversation_id: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class Reassign:
    """A supervisor gives a chat to an agent or a queue (revision 2026-12-06)."""

    conversation_id: str
    agent_id: Optional[int] = None
    queue: Optional[str] = None
    ref: Optional[str] = None


@dataclass(frozen=True)
class Note:
    """A private note: agents only (protocol revision 1.1)."""

    conversation_id: str
    text: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class Handback:
    conversation_id: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class Close:
    conversation_id: str
    ref: Optional[str] = None


@dataclass(frozen=True)
class Seen:
    """The owning agent has read the chat up to message ``up_to`` (revision 1.1)."""

    conversation_id: str
    up_to: str
    ref: Optional[str] = None


ShopperFrame = Union[ShopperHello, ShopperMessage, ShopperTyping, Rating, Ticket]
AgentFrame = Union[
    AgentHello, Claim, AgentMessage, AgentTyping, Transfer, Handback, Close, Note, Seen, Status, ListChats, Watch,
    Unwatch, Reassign,
]
ClientFrame = Union[ShopperFrame, AgentFrame]
