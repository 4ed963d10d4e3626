"""``validate_order_form``: canonical order number, a real email or phone.

Shoppers type order numbers as ``kh204518`` or inside a sentence; the form
stores ``KH-204518`` so the lookup is exact. The contact is stored
canonical (lower-case email, ``0XXXXXXXXXX`` phone). Anything else is
rejected with a hint and the form asks again, but no question repeats
forever: "ok" or "continue" after a question in the middle of the form just
gets the question again, a new order number while the form asks for the
contact is a correction (acknowledged, not rejected), and the third answer in
a row the form cannot use ends it (``action_handle_order`` says so and offers
a person). Once verification is locked (see :mod:`actions.orders_action`) the
form asks for nothing, so the shopper is not made to type details that will
not be checked.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.orders_action import MAX_VERIFICATION_FAILURES, failure_count
from actions.shop.orders import find_contact, normalise_order_number

BAD_ORDER_NUMBER_TEXT = (
    "That doesn't look like an order number. It starts with KH- followed by six digits; "
    "you'll find it in your order confirmation email."
)
BAD_CONTACT_TEXT = "Please give the email address or Nigerian phone number you used when you placed the order."
COMPLAINTS = (BAD_ORDER_NUMBER_TEXT, BAD_CONTACT_TEXT)
#: The answer the form cannot use that ends it (counting from its last start).
MAX_UNUSABLE_ANSWERS = 3
#: Questions the form asks before it stops asking, whatever came in between
#: (off-topic messages and FAQs are answered, then the question comes again).
MAX_ASKS = 6
#: "ok", "continue": the person is ready for the question again, not answering it.
GOING_ON = re.compile(r"^\W*(?:(?:ok(?:ay)?|k|kk|continue|go on|carry on|proceed|yes|yeah|sure|alright|fine|next"
                      r"|ready|go ahead|oya|i dey|sorry)\W*)+$", re.IGNORECASE)


class ValidateOrderForm(FormValidationAction):
    """Normalise and check ``order_number`` and ``order_contact``."""

    def name(self) -> Text:
        return "validate_order_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if failure_count(tracker.get_slot("verification_failures")) >= MAX_VERIFICATION_FAILURES:
            return []  # locked: end the form, action_handle_order says why
        return domain_slots

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        stopping = any(e.get("event") == "slot" and e.get("name") == "requested_slot" and e.get("value") is None
                       for e in events)
        # An off-topic answer that action_off_topic_in_form gave no hint for was the last straw.
        last_straw = off_topic_answer(tracker) and not complained_this_turn(tracker)
        if not stopping and tracker.get_slot("order_contact") is None and (
                last_straw or asks_since_form_start(tracker) >= MAX_ASKS):
            # Asked enough, or answered off the point too often: stop, action_handle_order offers a way on.
            events.append(SlotSet("requested_slot", None))
        return events

    def validate_order_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        number = normalise_order_number(slot_value)
        if number is None:
            return cannot_use(dispatcher, tracker, BAD_ORDER_NUMBER_TEXT, {"order_number": None})
        return {"order_number": number}

    def validate_order_contact(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        contact = find_contact(slot_value)
        if contact is not None:
            return {"order_contact": contact.value}
        corrected = new_order_number(tracker)
        if corrected is not None:  # "no sorry, it's KH-204520": a correction, not a contact
            dispatcher.utter_message(text=f"Got it: order {corrected}.")
            return {"order_contact": None}
        return cannot_use(dispatcher, tracker, BAD_CONTACT_TEXT, {"order_contact": None})


def new_order_number(tracker: Tracker) -> Optional[str]:
    """The order number in the latest message (Rasa's slot mapping has already put
    it in ``order_number``: a correction while the form asks for the contact)."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "order_number":
            number = normalise_order_number(entity.get("value"))
            if number is not None:
                return number
    return None


def _since_form_start(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The bot's messages since the form was last started."""
    said: List[Dict[Text, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == "order_form":
            break
        if event.get("event") == "bot":
            said.append(event)
    return said


def complaints_since_form_start(tracker: Tracker) -> int:
    """How many answers the form has rejected since it was last started."""
    return sum(1 for event in _since_form_start(tracker) if event.get("text") in COMPLAINTS)


def complained_this_turn(tracker: Tracker) -> bool:
    """Did the bot give the form's hint after the latest user message?"""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and event.get("text") in COMPLAINTS:
            return True
    return False


def asks_since_form_start(tracker: Tracker) -> int:
    """How many times the form has asked its questions since it was last started."""
    return sum(1 for event in _since_form_start(tracker)
               if str((event.get("metadata") or {}).get("utter_action", "")).startswith("utter_ask_order_"))


def cannot_use(dispatcher: CollectingDispatcher, tracker: Tracker, complaint: str,
               slots: Dict[Text, Any]) -> Dict[Text, Any]:
    """An answer the form cannot use: the question again, a hint, or the end of the form."""
    text = (tracker.latest_message or {}).get("text") or ""
    if GOING_ON.match(text):
        return slots  # the form asks its question again, without a reproach
    if is_last_straw(tracker):
        return {**slots, "requested_slot": None}  # ends the form; action_handle_order offers a way on
    dispatcher.utter_message(text=complaint)
    return slots


def is_last_straw(tracker: Tracker) -> bool:
    """One more answer the form cannot use ends it: the third, or one after its sixth question."""
    return (complaints_since_form_start(tracker) + 1 >= MAX_UNUSABLE_ANSWERS
            or asks_since_form_start(tracker) >= MAX_ASKS)


class ActionOffTopicInForm(Action):
    """The classifier read a message as out of scope while the form asks. A question
    ("who won the league?") gets the out-of-scope answer; "carry on" gets the question
    again; anything else is an attempt at the answer ("the one with the vitamins"), so
    it gets the form's hint and counts as an answer the form cannot use."""

    def name(self) -> Text:
        return "action_off_topic_in_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        if GOING_ON.match(text):
            return []
        if not off_topic_answer(tracker):
            dispatcher.utter_message(response="utter_out_of_scope")
        elif not is_last_straw(tracker):
            asked = tracker.get_slot("requested_slot")
            dispatcher.utter_message(text=BAD_CONTACT_TEXT if asked == "order_contact" else BAD_ORDER_NUMBER_TEXT)
        return []  # the last straw: the form stops (ValidateOrderForm.run) and action_handle_order says so


#: A question: a question mark, a question word anywhere ("by the way, who won ..."), or
#: the way a question starts. A question is off topic, not an answer.
QUESTION = re.compile(r"\?|\b(?:what|whats|who|whos|whose|where|when|why|how|which|wetin|wia)\b"
                      r"|^\W*(?:is|are|am|can|could|do|does|did|will|would|should|shall|may|tell me|explain"
                      r"|define|give me|write|recommend|any|abeg tell|have|has)\b", re.IGNORECASE)


def off_topic_answer(tracker: Tracker) -> bool:
    """The latest message was read as out of scope, is no question and no "carry on":
    someone trying to answer the form's question."""
    latest = tracker.latest_message or {}
    text = latest.get("text") or ""
    if (latest.get("intent") or {}).get("name") != "out_of_scope" or not text.strip():
        return False
    return not QUESTION.search(text) and not GOING_ON.match(text)
