"""``action_handoff`` and ``action_fallback``: bring in a person, and say what happens.

A handoff is two things in one turn: text telling the user what happens next
and what to do meanwhile, and the ``json_message`` of
:mod:`handoff.contract` that tells the gateway which queue to put the
conversation in. The queue follows the latest intent (security, disputes,
emergency, general); the summary is one line an agent can read at a glance.

``action_fallback`` answers the first misunderstanding with the help text
(``utter_fallback``) and hands off to ``general`` with reason
``not_understood`` when the user is misunderstood twice in a row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.orders_action import failure_count
from actions.policy import template_vars
from actions.shop.orders import parse_contact
from actions.safety import conversation_language, language_name
from handoff.contract import NOT_UNDERSTOOD, Handoff, handoff_payload

FALLBACK_INTENT = "nlu_fallback"
SUMMARY_MESSAGE_LIMIT = 140

#: Latest intent -> (queue, reason). Anything else goes to ``general``.
ROUTES: Mapping[str, Tuple[str, str]] = {
    "report_security_issue": ("security", "security_issue"),
    "report_dispute": ("disputes", "dispute"),
    "report_malpractice": ("disputes", "malpractice"),
    "provider_emergency": ("emergency", "provider_emergency"),
    "request_human": ("general", "requested_human"),
    "medical_emergency": ("emergency", "medical_emergency"),
}

#: Reason -> "what happens next / what to do meanwhile", with policy placeholders.
NEXT_STEPS: Mapping[str, str] = {
    "security_issue": (
        "I'm passing this to our security team; a specialist will join this chat. "
        "Meanwhile, change your password now, sign out of other devices, and never share "
        "one-time codes. You can also write to {security_email}."
    ),
    "dispute": (
        "I'm passing your dispute to our disputes team; a person will join this chat. "
        "We mediate disputes within {dispute_mediation_time}. Meanwhile, keep your order number, "
        "receipts, photos and messages with the other party ready as evidence; vendors must send "
        "theirs within {vendor_evidence_deadline} of the dispute being filed."
    ),
    "malpractice": (
        "I'm passing your report to our disputes team; a person will join this chat. "
        "Cases of professional misconduct or malpractice may be referred to the relevant "
        "regulatory bodies. Meanwhile, keep any records, prescriptions and messages about the case, "
        "and if someone's health is at risk now, go to the nearest hospital."
    ),
    "provider_emergency": (
        "Connecting you to our on-call healthcare support team, available {always_open}; "
        "a person will join this chat shortly. Meanwhile, stay on this page and describe the "
        "situation here. If a life is in immediate danger, follow your emergency procedures "
        "without waiting for this chat."
    ),
    "general": (
        "I'm bringing in a person from our support team; they will join this chat and see "
        "everything you've written. We respond within {general_response_time} at the latest, "
        "usually much sooner on live chat. Meanwhile, you can keep typing here, or email "
        "{support_email}."
    ),
}
NOT_UNDERSTOOD_PREFIX = "Sorry, I still didn't understand that. "


@dataclass(frozen=True)
class Route:
    queue: str
    reason: str


def route_for(intent: Optional[str]) -> Route:
    """Queue and reason for the latest intent (``general`` for anything unlisted)."""
    if intent in ROUTES:
        queue, reason = ROUTES[intent]  # type: ignore[index]
        return Route(queue, reason)
    return Route("general", intent or "unknown")


def next_steps_text(route: Route, facts: Mapping[str, str]) -> str:
    """The user-facing text for ``route``, with policy facts filled in."""
    key = route.reason if route.reason in NEXT_STEPS else route.queue
    text = NEXT_STEPS.get(key, NEXT_STEPS["general"]).format(**facts)
    if route.reason == NOT_UNDERSTOOD:
        text = NOT_UNDERSTOOD_PREFIX + text
    return text


def last_user_text(tracker: Tracker) -> str:
    """What the user last typed; button payloads (``/request_human``) are skipped,
    so a conversation opened by ``/provider_emergency`` has no message to quote."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            text = (event.get("text") or "").strip()
            if text and not text.startswith("/"):
                return text
    latest = ((tracker.latest_message or {}).get("text") or "").strip()
    return "" if latest.startswith("/") else latest


def user_texts(tracker: Tracker) -> List[str]:
    """Everything the user typed this conversation (button payloads skipped)."""
    texts = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"]
    return [t for t in texts if t.strip() and not t.startswith("/")]


def one_line(text: str, limit: int = SUMMARY_MESSAGE_LIMIT) -> str:
    """Whitespace collapsed, cut at ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "\u2026"


def verified_contact(tracker: Tracker) -> Optional[str]:
    """The email or phone (canonical) the order was verified with, None unless it is
    verified: the ``order_contact`` value when ``order_verified`` was last set true
    (a contact typed after that, e.g. for another question, is not the verified one)."""
    if tracker.get_slot("order_verified") is not True:
        return None
    contact: Any = None
    verified: Any = None
    for event in tracker.events:
        if event.get("event") != "slot":
            continue
        if event.get("name") == "order_contact":
            contact = event.get("value")
        elif event.get("name") == "order_verified" and event.get("value") is True:
            verified = contact
    found = parse_contact(verified)
    return found.value if found is not None else None


def build_handoff(tracker: Tracker, route: Route, extra: Optional[Mapping[str, Any]] = None) -> Handoff:
    """The contract payload: one-line summary and the context an agent needs
    (``extra`` adds or overrides context keys, e.g. ``adverse_reaction``)."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    role = tracker.get_slot("role") or "unknown role"
    order_number = (extra or {}).get("order_number") or tracker.get_slot("order_number")
    language = conversation_language(user_texts(tracker))
    parts = [str(role), route.reason.replace("_", " "), f"in {language_name(language)}"]
    message = one_line(last_user_text(tracker))
    if message:
        parts.append(f'"{message}"')
    if order_number:
        parts.append(f"order {order_number}")
    context: Dict[str, Any] = {
        "role": tracker.get_slot("role"),
        "line": tracker.get_slot("line"),
        "order_number": order_number,
        "order_verified": bool(tracker.get_slot("order_verified")),
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "verification_failures": failure_count(tracker.get_slot("verification_failures")),
        "language": language,
        **(extra or {}),
    }
    contact = verified_contact(tracker)
    if contact is not None:  # the gateway lists the shopper's past conversations by it
        context["verified_contact"] = contact
    return Handoff(queue=route.queue, reason=route.reason, summary=" | ".join(parts), context=context)


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, route: Route) -> None:
    """Utter the next-steps text and, in the same turn, the handoff payload."""
    dispatcher.utter_message(text=next_steps_text(route, template_vars()))
    dispatcher.utter_message(json_message=handoff_payload(build_handoff(tracker, route)))


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user turns in a row were ``nlu_fallback`` (this session)."""
    count = 0
    for event in reversed(tracker.applied_events()):
        kind = event.get("event")
        if kind in ("session_started", "restart"):
            break
        if kind != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name != FALLBACK_INTENT:
            break
        count += 1
    if count == 0 and ((tracker.latest_message or {}).get("intent") or {}).get("name") == FALLBACK_INTENT:
        count = 1  # tracker without events: the latest message is the only evidence
    return count


class ActionHandoff(Action):
    """Route to a human queue by the latest intent."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        hand_off(dispatcher, tracker, route_for(intent))
        return []


class ActionFallback(Action):
    """Help text on the first misunderstanding, a person on the second in a row."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if consecutive_fallbacks(tracker) >= 2:
            hand_off(dispatcher, tracker, Route("general", NOT_UNDERSTOOD))
        else:
            dispatcher.utter_message(response="utter_fallback")
        return []
