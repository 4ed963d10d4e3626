"""``action_order_details``: an order number (or contact) given outside the order form.

Asking "what would you like to do with that order?" is right once, never in a
loop. When the conversation already has a request (track, refund, return,
cancel), a new number is a correction or a second order: the same request
goes on with it. When the options were just offered and the person answers
with details again, the order is tracked (the most common request, and one
that changes nothing). Otherwise the options are offered. A message whose
words name the request ("track KH-204518 ada@...") goes to it whatever came
before.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_action import last_user_text
from actions.orders_action import REQUESTS

OPTIONS_RESPONSE = "utter_order_options"  # also named literally below (the validator test looks)

#: Words that say which request a message with order details is, in case the
#: classifier read it as details only. First match wins (cancel before track).
REQUEST_WORDS = (
    ("cancel", re.compile(r"\bcancel", re.IGNORECASE)),
    ("return", re.compile(r"\breturn", re.IGNORECASE)),
    ("refund", re.compile(r"\brefund|\bmoney back|\bmy money\b", re.IGNORECASE)),
    ("track", re.compile(r"\btrack|\bwhere\b|\bstatus\b|\bdeliver|\barriv|\bshipped\b|\breach\b|\bcheck\b",
                         re.IGNORECASE)),
)


def request_in_text(text: str) -> Optional[str]:
    """``track``, ``refund``, ``return`` or ``cancel`` when the words say so."""
    for request, pattern in REQUEST_WORDS:
        if pattern.search(text):
            return request
    return None


def options_just_offered(tracker: Tracker) -> bool:
    """Was the options question the bot's last answer before this message?"""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif kind == "bot" and seen_user:
            return (event.get("metadata") or {}).get("utter_action") == OPTIONS_RESPONSE
    return False


class ActionOrderDetails(Action):
    """Go on with the request in hand, or offer the options once."""

    def name(self) -> str:
        return "action_order_details"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        said = request_in_text(last_user_text(tracker))
        if said is not None:
            return [SlotSet("order_request", said), SlotSet("order_verified", False),
                    FollowupAction("order_form")]
        request = tracker.get_slot("order_request")
        if request in REQUESTS:
            return [SlotSet("order_verified", False), FollowupAction("order_form")]
        if options_just_offered(tracker):
            return [SlotSet("order_request", "track"), SlotSet("order_verified", False),
                    FollowupAction("order_form")]
        dispatcher.utter_message(response="utter_order_options")
        return []
