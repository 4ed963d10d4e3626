"""``action_emergency``: a medical emergency or a reaction to a product.

An emergency gets, in one turn, the guidance (call the emergency numbers of
``policy.yml`` or go to the nearest hospital; in the shopper's language when
it is Yoruba, Hausa or Igbo, always followed by English) and a person on the
``emergency`` queue, reason ``medical_emergency``. A reaction to a product is
recorded for follow-up with the vendor (``adverse_reaction_reports``); when
it is severe it is an emergency like any other, otherwise the shopper is told
to stop using the product and see a pharmacist, and a person on ``general``
follows up (reason ``adverse_reaction``). Both handoffs carry
``adverse_reaction`` and the order number when known.

The order form, if it was running, was already stopped by the rule.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Mapping, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import safety
from actions.handoff_action import Route, build_handoff, last_user_text, user_texts
from actions.policy import template_vars
from actions.shop import db
from actions.shop.orders import normalise_order_number
from actions.shop.reactions import record_reaction
from handoff.contract import handoff_payload

logger = logging.getLogger(__name__)

EMERGENCY_ROUTE = Route("emergency", "medical_emergency")
REACTION_ROUTE = Route("general", "adverse_reaction")
EMERGENCY_INTENT = "medical_emergency"
REACTION_INTENT = "report_adverse_reaction"

EMERGENCY_TEXT = (
    "This sounds like a medical emergency. Call {emergency_number} now (in Lagos you can also call "
    "{emergency_number_lagos}), or go to the nearest hospital straight away. If someone is unconscious "
    "or not breathing, call first and stay with them. I'm connecting you to a person from our team "
    "right now; you can keep typing here."
)
SELF_HARM_TEXT = (
    "I'm really sorry you're feeling this way, and I'm glad you told me. You don't have to face this "
    "alone. If you might act on these thoughts or are in danger now, call {emergency_number} (in Lagos "
    "also {emergency_number_lagos}) or go to the nearest hospital, and if you can, stay with someone you "
    "trust. I'm connecting you to a person from our team right now."
)
SEVERE_REACTION_PREFIX = "Stop taking or using the product now. "
MILD_REACTION_TEXT = (
    "I'm sorry you're having a reaction. Please stop using the product now and speak to a pharmacist or "
    "doctor about it. If it gets worse (swelling of the face or throat, trouble breathing, fainting), call "
    "{emergency_number} (in Lagos also {emergency_number_lagos}) or go to the nearest hospital at once. "
    "I've recorded the reaction for follow-up with the vendor, and a person from our team will join "
    "this chat."
)
RECORDED_TEXT = "I've also recorded the reaction for follow-up with the vendor."

#: The emergency guidance in Yoruba, Hausa and Igbo (the English text follows it).
EMERGENCY_IN: Mapping[str, str] = {
    "yo": (
        "Èyí dàbí pàjáwìrì ìlera. Ẹ pe {emergency_number} báyìí (ní Èkó, ẹ tún lè pe "
        "{emergency_number_lagos}), tàbí kí ẹ lọ sí ilé ìwòsàn tó sún mọ́ yín jù lọ lẹ́sẹ̀kẹsẹ̀. "
        "Mo ń so yín pọ̀ mọ́ ẹnìkan láti ọ̀dọ̀ wa báyìí."
    ),
    "ha": (
        "Wannan yana kama da gaggawar lafiya. Ku kira {emergency_number} yanzu (a Legas kuma za ku iya "
        "kiran {emergency_number_lagos}), ko ku je asibiti mafi kusa nan take. Ina hada ku da wani "
        "daga cikin ma'aikatanmu yanzu."
    ),
    "ig": (
        "Nke a dị ka ihe mberede ahụike. Kpọọ {emergency_number} ugbu a (na Legọs, ị nwekwara ike ịkpọ "
        "{emergency_number_lagos}), ma ọ bụ gaa n'ụlọ ọgwụ kacha nso ozugbo. Ana m ejikọ gị na onye "
        "ọrụ anyị ugbu a."
    ),
}


def emergency_text(message: str, language: str, facts: Mapping[str, str], *, reaction: bool) -> str:
    """The guidance: the shopper's language first when we have it, then English."""
    if safety.is_self_harm(message):
        english = SELF_HARM_TEXT
    else:
        english = (SEVERE_REACTION_PREFIX if reaction else "") + EMERGENCY_TEXT
    if reaction:
        english = f"{english} {RECORDED_TEXT}"
    local = EMERGENCY_IN.get(language)
    text = f"{local}\n\n{english}" if local else english
    return text.format(**facts)


def order_number_of(tracker: Tracker, message: str) -> Optional[str]:
    """The order the message names, else the one this conversation is about."""
    return normalise_order_number(message) or tracker.get_slot("order_number") or None


class ActionEmergency(Action):
    """Emergency guidance and a person at once; reactions recorded for the vendor."""

    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        message = last_user_text(tracker)
        found = safety.screen(message)
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        # A reaction also when a medicine is named in a conversation about an order
        # ("now her face is swollen from those tablets" after a return).
        reaction = (found.adverse_reaction or intent == REACTION_INTENT
                    or (safety.mentions_product(message) and bool(tracker.get_slot("order_number"))))
        severe = found.emergency or intent == EMERGENCY_INTENT
        language = safety.conversation_language(user_texts(tracker))
        order_number = order_number_of(tracker, message) if reaction else tracker.get_slot("order_number")
        facts = template_vars()
        route = EMERGENCY_ROUTE if severe else REACTION_ROUTE
        if severe:
            dispatcher.utter_message(text=emergency_text(message, language, facts, reaction=reaction))
        else:
            dispatcher.utter_message(text=MILD_REACTION_TEXT.format(**facts))
        extra: Dict[str, Any] = {"adverse_reaction": reaction}
        if order_number:
            extra["order_number"] = order_number
        handoff = build_handoff(tracker, route, extra)
        dispatcher.utter_message(json_message=handoff_payload(handoff))
        if reaction:
            await asyncio.to_thread(self._record, tracker.sender_id, message, order_number, severe, language)
        return []

    @staticmethod
    def _record(conversation_id: Optional[str], message: str, order_number: Optional[str], severe: bool,
                language: str) -> None:
        # A database that is down must not cost the shopper the emergency
        # answer (the handoff carries the same facts for the agent).
        try:
            with db.session_factory()() as session, session.begin():
                record_reaction(session, description=message, order_number=order_number,
                                conversation_id=conversation_id, severe=severe, language=language)
        except SQLAlchemyError:
            logger.exception("could not record an adverse reaction for conversation %s", conversation_id)
