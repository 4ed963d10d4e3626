"""The handoff payload: the one contract between the assistant and the gateway.

When the assistant decides a person must take over, it sends, in the same turn
as its "what happens next" text, a Rasa ``json_message`` of this exact shape::

    {"handoff": {"queue": "security" | "disputes" | "emergency" | "general",
                 "reason": "<short>",
                 "priority": <int, emergency highest>,
                 "summary": "<one line for the agent>",
                 "context": {<role, order number, other slots>}}}

Reasons the assistant sends: ``security_issue``, ``dispute``, ``malpractice``,
``provider_emergency`` (the provider emergency line), ``medical_emergency``
(anyone describing a medical emergency; queue ``emergency``),
``adverse_reaction`` (a mild reaction to a product; queue ``general``),
``requested_human``, ``not_understood`` (a second misunderstanding in a row).
Context keys: ``role``, ``line``, ``order_number``, ``order_verified``,
``intent``, ``confidence``, ``verification_failures``, ``language`` (``en``,
``pcm`` Pidgin, ``yo``, ``ha``, ``ig``: the language the shopper wrote in; the
summary says it too, e.g. ``in Yoruba``) and, from ``action_emergency``,
``adverse_reaction`` (bool: a reaction to a product, recorded for the vendor),
and, since 2026-12-06 and only when ``order_verified``, ``verified_contact``:
the email (lower case) or phone (``0XXXXXXXXXX``) the order was verified with
(the gateway keeps it to list the shopper's past conversations to agents,
:mod:`handoff.shopper_keys`; an older gateway ignores it).

The action server builds it with :func:`handoff_payload`; the gateway reads it
back with :func:`parse_handoff`. This module imports only the standard library
so both sides can depend on it.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Mapping, Optional

#: Queue name -> priority. Higher is served first; emergency is the highest.
QUEUE_PRIORITY: Dict[str, int] = {
    "emergency": 3,
    "security": 2,
    "disputes": 1,
    "general": 0,
}
QUEUES = tuple(QUEUE_PRIORITY)  # in serving order: emergency first

#: The reason ``action_fallback`` hands off with after two misunderstandings in a
#: row (the operations reports count these as questions the assistant missed).
NOT_UNDERSTOOD = "not_understood"

#: An order number as people write it (``KH-204518``, ``kh 204518``), found
#: inside a sentence; the shop reads orders with it, reports mask it.
ORDER_NUMBER = re.compile(r"\bKH[-\s]?(\d{6})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Handoff:
    """A request for a person, as the assistant sends it."""

    queue: str
    reason: str
    summary: str
    context: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.queue not in QUEUE_PRIORITY:
            raise ValueError(f"unknown handoff queue {self.queue!r}")

    @property
    def priority(self) -> int:
        return QUEUE_PRIORITY[self.queue]


def handoff_payload(handoff: Handoff) -> Dict[str, Any]:
    """The ``json_message`` the assistant sends (keys exactly as the contract)."""
    body = asdict(handoff)
    return {
        "handoff": {
            "queue": body["queue"],
            "reason": body["reason"],
            "priority": handoff.priority,
            "summary": body["summary"],
            "context": body["context"],
        }
    }


def parse_handoff(custom: Any) -> Optional[Handoff]:
    """Read a bot message's ``custom`` payload; None when it is not a handoff.

    Tolerant of what it does not need (an unknown queue becomes ``general``)
    so that a newer assistant never strands a shopper with an older gateway.
    """
    if not isinstance(custom, Mapping) or not isinstance(custom.get("handoff"), Mapping):
        return None
    body = custom["handoff"]
    queue = body.get("queue")
    context = body.get("context")
    return Handoff(
        queue=queue if queue in QUEUE_PRIORITY else "general",
        reason=str(body.get("reason") or "handoff"),
        summary=str(body.get("summary") or ""),
        context=dict(context) if isinstance(context, Mapping) else {},
    )
