"""``validate_order_form``: canonical order number, a real email or phone.

Shoppers type order numbers as ``kh204518`` or inside a sentence; the form
stores ``KH-204518`` so the lookup is exact. The contact is stored
canonical (lower-case email, ``0XXXXXXXXXX`` phone). Anything else is
rejected with a hint and the form asks again. Once verification is locked
(see :mod:`actions.orders_action`) the form asks for nothing, so the shopper
is not made to type details that will not be checked.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
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

    def validate_order_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        number = normalise_order_number(slot_value)
        if number is None:
            dispatcher.utter_message(text=BAD_ORDER_NUMBER_TEXT)
        return {"order_number": number}

    def validate_order_contact(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        contact = find_contact(slot_value)
        if contact is None:
            dispatcher.utter_message(text=BAD_CONTACT_TEXT)
            return {"order_contact": None}
        return {"order_contact": contact.value}
