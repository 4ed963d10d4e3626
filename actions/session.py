"""``action_session_start``: who is talking, on which line.

Replaces Rasa's default session start. Like the default it emits
``SessionStarted``, carries the previous session's slots over (unless the
domain's ``session_config`` says not to) and ends with ``action_listen``. In
between it sets ``role`` and ``line`` from the message metadata the gateway
sends (``{"role": ..., "line": ...}``; unknown values are ignored, never
trusted). The policy facts are no slots: Rasa fills ``{support_email}`` and
friends from ``policy.yml`` when it renders a response (``bot/rasa_nlg.py``).

It reads the tracker and changes nothing, so the project's Rasa processes
run it in process (``bot/local_actions.py``); keep it that way.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

ROLES = ("shopper", "vendor", "provider")
LINES = ("chat", "emergency")
METADATA_SLOT = "session_started_metadata"


def session_metadata(tracker: Tracker) -> Mapping[str, Any]:
    """Metadata of the message that started the session (slot first, then message)."""
    metadata = tracker.get_slot(METADATA_SLOT)
    if not isinstance(metadata, Mapping):
        metadata = (tracker.latest_message or {}).get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _choice(value: Any, allowed: tuple) -> Optional[str]:
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if value in allowed else None


def carried_over_slots(tracker: Tracker, domain: Mapping[str, Any]) -> List[EventType]:
    """``SlotSet`` for every slot of the domain set in the previous session, as
    Rasa's default does (not the policy facts a session of an older domain set)."""
    config = domain.get("session_config") if isinstance(domain, Mapping) else None
    if isinstance(config, Mapping) and config.get("carry_over_slots_to_new_session") is False:
        return []
    slots = domain.get("slots") if isinstance(domain, Mapping) else None
    values: Dict[str, Any] = {}
    for event in tracker.applied_events():  # restarts and rewinds already undone
        if event.get("event") == "reset_slots":
            values.clear()
        elif event.get("event") == "slot" and event.get("name") != METADATA_SLOT:
            values[event["name"]] = event.get("value")
    return [SlotSet(name, value) for name, value in values.items()
            if not isinstance(slots, Mapping) or name in slots]


class ActionSessionStart(Action):
    """Start a session with the role and line of the metadata in slots."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        events.extend(carried_over_slots(tracker, domain))
        metadata = session_metadata(tracker)
        role = _choice(metadata.get("role"), ROLES)
        line = _choice(metadata.get("line"), LINES)
        if role is not None:
            events.append(SlotSet("role", role))
        if line is not None:
            events.append(SlotSet("line", line))
        events.append(ActionExecuted("action_listen"))
        return events
