"""A medical emergency described after the assistant has handed the chat off.

The assistant screens every message it sees for a medical emergency
(``actions/safety.py``), but once a chat waits for a person or is with one,
Rasa is paused and sees nothing the shopper writes. The gateway runs the same
screen (standard library only, so both environments can import it) on those
messages, so that "whatever else is going on in the conversation" includes a
queue: the shopper gets the emergency guidance at once, and a chat waiting in
another queue moves to the front of the emergency queue with reason
``medical_emergency`` (which pages the on-call person when nobody is online).
A chat already with an agent stays with that agent, who sees the guidance the
shopper was given.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable

from actions.policy import load_policy
from actions.safety import is_emergency

#: the handoff reason the assistant uses for the same thing (handoff/contract.py)
REASON = "medical_emergency"
QUEUE = "emergency"

# Numbers come from policy.yml (emergency_numbers), never written here.
_GUIDANCE = (
    "If someone's life may be in danger, call {emergency_number} now (in Lagos also "
    "{emergency_number_lagos}), or go to the nearest hospital. Do not wait for this chat."
)
MOVED_TEXT = "You are now first in line for our emergency team."


def described(texts: Iterable[str]) -> bool:
    """Whether any of these shopper messages describes a medical emergency."""
    return any(is_emergency(text) for text in texts)


@lru_cache(maxsize=1)
def guidance() -> str:
    """The emergency guidance, with the numbers of ``policy.yml``."""
    return _GUIDANCE.format(**load_policy().template_vars())
