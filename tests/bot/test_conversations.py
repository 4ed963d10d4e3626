"""Whole conversations against the running assistant (issue 11): emergencies win
over everything, medical advice and out-of-domain questions are declined without
a person, details in one message, typed button titles, negation, repeated
misunderstanding, Yoruba / Hausa / Igbo, the order form interrupted, corrected
and used twice. Every message here is written for this test (none is a
training example)."""
from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from typing import Any, Dict, List

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from actions.policy import template_vars
from actions.shop.models import AdverseReactionReport
from bot import paths
from tests.bot.rest import RestShopper, handoffs

FACTS = template_vars()
DEMO = yaml.safe_load(paths.DEMO_SHOP.read_text())


def order(status: str) -> Dict[str, Any]:
    return next(o for o in DEMO["orders"] if o["status"] == status)


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def assert_emergency(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The emergency guidance with both numbers and a person on the emergency queue, nothing else."""
    said = texts(messages)
    assert FACTS["emergency_number"] in said and FACTS["emergency_number_lagos"] in said, said
    assert "nearest hospital" in said, said
    assert FACTS["phone_hours"] not in said and "didn't quite get that" not in said, said
    assert not any(m.get("buttons") for m in messages), said  # no menu
    [handoff] = handoffs(messages)
    assert (handoff["queue"], handoff["reason"]) == ("emergency", "medical_emergency"), handoff
    return handoff


@pytest.fixture
def shopper(rasa_stack) -> RestShopper:
    return RestShopper(rasa_stack.rasa_url, role="shopper")


# --------------------------------------------------------------------- safety

EMERGENCY_MESSAGES = [
    "help, my little girl swallowed a handful of my iron tablets",
    "my uncle's chest has been very painful for an hour and he is sweating",
    "I think I'm having an allergic reaction, my throat feels tight and I'm wheezing",
    "my son is shaking and jerking on the floor, it looks like a seizure",
    "she fainted in the bathroom and we cannot wake her",
    "the cut on his arm is bleeding heavily through the towel",
    "I have taken an overdose of my sleeping tablets",
    "honestly I just want to end it all tonight",
    "abeg my brother no dey breathe well, e be like say e go die",
    "my mama chest dey pain her seriously",
    "my daughtr is haveing a sezure",
    "ìyá mi ti dákú, kò jí",
    "mahaifiyata ta suma",
    "nwanne m nwoke dara mba",
]


@pytest.mark.parametrize("message", EMERGENCY_MESSAGES)
def test_an_emergency_gets_the_numbers_and_a_person_at_once(rasa_stack, message: str) -> None:
    assert_emergency(RestShopper(rasa_stack.rasa_url, role="shopper").say(message))


@pytest.mark.parametrize("before", [
    ["I'd like to return something", "KH-204518"],      # form asks the contact
    ["I'd like my money back for something"],            # form asks the number
    ["mnbvc lkjhg poiuy"],                               # right after a fallback
    ["what are your phone hours"],                       # after an FAQ answer
])
def test_an_emergency_wins_over_whatever_else_is_going_on(rasa_stack, before: List[str]) -> None:
    person = RestShopper(rasa_stack.rasa_url, role="shopper")
    for text in before:
        person.say(text)
    assert_emergency(person.say("my husband just collapsed and isn't breathing"))
    # The form is gone: the next message is not taken as an order number or contact.
    assert "order number" not in texts(person.say("what do I do now")).lower()


def test_an_emergency_in_yoruba_is_answered_in_yoruba_and_english(shopper: RestShopper) -> None:
    messages = shopper.say("Ẹ jọ̀wọ́, ọmọ mi kò lè mí dáadáa")
    handoff = assert_emergency(messages)
    assert "ilé ìwòsàn" in texts(messages)
    assert handoff["context"]["language"] == "yo" and "Yoruba" in handoff["summary"]


def test_a_reaction_to_an_order_is_an_emergency_recorded_for_the_vendor(rasa_stack) -> None:
    person = RestShopper(rasa_stack.rasa_url, role="shopper")
    number = order("delivered")["number"]
    messages = person.say(f"after taking the capsules from {number} my lips swelled up and I can't breathe well")
    handoff = assert_emergency(messages)
    assert handoff["context"]["adverse_reaction"] is True and handoff["context"]["order_number"] == number
    engine = create_engine(rasa_stack.shop_db_url, future=True)
    with Session(engine) as session:
        rows = session.execute(select(AdverseReactionReport).where(
            AdverseReactionReport.conversation_id == person.sender)).scalars().all()
    engine.dispose()
    assert [(r.order_number, r.severe) for r in rows] == [(number, 1)] and rows[0].vendor_id is not None


@pytest.mark.parametrize("message", [
    "how many tablets of ibuprofen can an adult take in a day",
    "which drug should I buy for my catarrh",
    "is amoxicillin okay to take with alcohol",
])
def test_medical_advice_is_declined_kindly_without_a_person(rasa_stack, message: str) -> None:
    messages = RestShopper(rasa_stack.rasa_url, role="shopper").say(message)
    said = texts(messages).lower()
    assert "pharmacist" in said and "doctor" in said
    assert handoffs(messages) == []


# ------------------------------------------------------------------ out of domain

OUT_OF_DOMAIN = [
    "what's the share price of Zenith Bank this morning",
    "give me the headlines from Abuja today",
    "how do I make ogbono soup",
    "can you explain long division to my son",
    "what's the cheapest way to fly to Nairobi",
    "how do I change my ATM pin at Wema Bank",
    "who is the best striker in the Premier League right now",
    "write me a short poem about the rain",
    "what's the capital of Australia",
    "help me fix my laptop keyboard",
]


@pytest.mark.parametrize("message", OUT_OF_DOMAIN)
def test_out_of_domain_says_what_the_assistant_can_do(rasa_stack, message: str) -> None:
    messages = RestShopper(rasa_stack.rasa_url, role="shopper").say(message)
    said = texts(messages)
    assert "outside what I can help with" in said, said
    assert handoffs(messages) == []
    for fact in ("phone_hours", "vendor_support_email", "security_email"):
        assert FACTS[fact] not in said


# ------------------------------------------------- details, buttons, negation

def test_the_request_and_its_details_in_one_message_are_answered_at_once(shopper: RestShopper) -> None:
    shipped = order("shipped")
    answer = shopper.texts(f"hi, can you track {shipped['number']} for me? my email is {shipped['customer']}")
    assert shipped["shipments"][0]["tracking_number"] in answer
    assert "What would you like to do" not in answer


def test_details_without_a_request_ask_once_then_go_on(shopper: RestShopper) -> None:
    shipped = order("shipped")
    first = shopper.texts(shipped["number"])
    assert "What would you like to do with that order?" in first
    second = shopper.texts(shipped["number"])  # not the same question again
    assert "What would you like to do with that order?" not in second
    assert shipped["shipments"][0]["tracking_number"] in shopper.texts(shipped["customer"])


def _parse(stack: Any, text: str) -> Dict[str, Any]:
    """NLU of ``text`` through Rasa's HTTP API (which wants the stack's token)."""
    token = urllib.parse.quote(stack.rasa_token)
    request = urllib.request.Request(f"{stack.rasa_url}/model/parse?token={token}",
                                     data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _buttons() -> Dict[str, set]:
    """Every button title the assistant shows -> the intents its payloads carry."""
    found: Dict[str, set] = {}
    domain = yaml.safe_load(paths.DOMAIN.read_text())
    for variations in domain["responses"].values():
        for variation in variations:
            for button in variation.get("buttons") or []:
                found.setdefault(button["title"], set()).add(button["payload"][1:].split("{")[0])
    for module in (paths.ROOT / "actions").rglob("*.py"):
        for title, payload in re.findall(r'"title": "([^"]+)", "payload": "/(\w+)"', module.read_text()):
            found.setdefault(title, set()).add(payload)
    return found


def test_typed_button_titles_mean_what_the_click_means(rasa_stack) -> None:
    buttons = _buttons()
    assert len(buttons) >= 25
    wrong = {title: (_parse(rasa_stack, title)["intent"]["name"], intents)
             for title, intents in buttons.items()
             if _parse(rasa_stack, title)["intent"]["name"] not in intents}
    assert wrong == {}


@pytest.mark.parametrize("typed, intent", [("tracking pls", "track_order"), ("refund pls", "request_refund"),
                                           ("cancel it abeg", "request_cancellation"), ("a human", "request_human")])
def test_short_forms_of_button_titles(rasa_stack, typed: str, intent: str) -> None:
    assert _parse(rasa_stack, typed)["intent"]["name"] == intent


def test_not_wanting_a_human_gets_the_answer(shopper: RestShopper) -> None:
    messages = shopper.say("please, no agent, I only need to know how long a refund takes")
    assert handoffs(messages) == []
    assert FACTS["refund_processing_time"] in texts(messages)


def test_not_wanting_a_human_wins_when_the_classifier_is_torn(shopper: RestShopper) -> None:
    # Both "a person" and "refund time" in one message: the fallback classifier's
    # ambiguity rule made this "not understood" before; the negation decides.
    messages = shopper.say("I don't want to talk to any agent, just tell me how long refunds take")
    assert handoffs(messages) == []
    assert FACTS["refund_processing_time"] in texts(messages)


def test_a_second_unintelligible_message_after_a_fallback_hands_off(shopper: RestShopper) -> None:
    first = shopper.say("asdf ghjk")
    assert "didn't quite get that" in texts(first) and handoffs(first) == []
    second = shopper.say("jjjj kkkk")
    assert "Great! What would you like" not in texts(second)
    assert handoffs(second)[0]["reason"] == "not_understood"


# ------------------------------------------------------------ Nigerian languages

@pytest.mark.parametrize("language, greeting, person, track, refund, hacked", [
    ("yo", "Ẹ kú ìrọ̀lẹ́ o", "ẹ jọ̀wọ́ mo fẹ́ bá òṣìṣẹ́ kan sọ̀rọ̀", "mo fẹ́ mọ ibi tí ọjà tí mo rà wà",
     "ọjọ́ mélòó ni ó máa gbà kí owó mi tó padà", "ẹnìkan ti wọlé sí àkántì mi"),
    ("ha", "Sannu, ina kwana", "ina so in yi magana da mutum don Allah", "ina son sanin inda kayana suke",
     "kwana nawa za a dauka kafin a dawo min da kudina", "an yi kutse a asusuna jiya"),
    ("ig", "Ndewo, kedu", "biko achọrọ m ịgwa mmadụ okwu", "biko ebee ka ngwongwo m zụrụ dị",
     "ụbọchị ole ka m ga-echere ego m", "onye ohi abanyela n'akaụntụ m"),
])
def test_yoruba_hausa_igbo(rasa_stack, language, greeting, person, track, refund, hacked) -> None:
    talk = lambda text: RestShopper(rasa_stack.rasa_url, role="shopper").say(text)  # noqa: E731
    hello = texts(talk(greeting))
    assert "Kara Healthmall" in hello and "Welcome to" in hello
    [human] = handoffs(talk(person))
    assert human["queue"] == "general" and human["context"]["language"] == language
    assert "order number" in texts(talk(track)).lower()
    assert FACTS["refund_processing_time"] in texts(talk(refund))
    [security] = handoffs(talk(hacked))
    assert security["queue"] == "security" and security["context"]["language"] == language


# ------------------------------------------------------------ the order form

def test_a_question_mid_form_is_answered_and_the_form_goes_on(shopper: RestShopper) -> None:
    shipped = order("shipped")
    shopper.say("I want to track an order")
    answer = shopper.texts("wait, what's your support email?")
    assert FACTS["support_email"] in answer and "order number" in answer.lower()
    shopper.say(shipped["number"])
    assert shipped["shipments"][0]["tracking_number"] in shopper.texts(shipped["customer"])


def test_the_form_can_be_dropped(shopper: RestShopper) -> None:
    shopper.say("I need to cancel an order")
    stopped = shopper.texts("forget it, I don't have it with me")
    assert "stopped" in stopped
    assert FACTS["refund_processing_time"] in shopper.texts("how long for refunds?")


def test_a_correction_and_a_second_order_in_one_chat(shopper: RestShopper) -> None:
    first, second = DEMO["orders"][0], DEMO["orders"][8]
    assert first["customer"] == second["customer"]
    shopper.say("could you track an order of mine")
    shopper.say(first["number"])
    assert first["number"] in shopper.texts(first["customer"])
    corrected = shopper.texts(f"no sorry, the other order {second['number']}")
    assert second["number"] in corrected and "email" not in corrected.lower()
    assert "anything else" in shopper.texts("thank you, you have been great").lower()
    goodbye = shopper.texts("that's all, bye bye")
    assert FACTS["always_open"] in goodbye and ("Bye" in goodbye or "Take care" in goodbye)


def test_going_on_mid_form_gets_the_question_again_and_no_question_repeats_forever(shopper: RestShopper) -> None:
    placed = order("placed")
    shopper.say("I want to cancel my order")
    shopper.say(placed["number"])
    shopper.say("one moment, is live chat open at night?")
    again = shopper.texts("ok")
    assert "email address or phone number" in again and "Please give" not in again  # asked, not scolded
    # Answers that are no contact (some read as other topics): the form gives up
    # within a few, with a way on, and never asks again after that.
    vague = ["it is on my laptop at home", "the yahoo one probably", "the one with my surname",
             "same as my bank one", "the old one", "the new one"]
    replies = [shopper.say(text) for text in vague]
    stopped = next(i for i, reply in enumerate(replies) if "stopped asking" in texts(reply))
    assert [b["title"] for b in replies[stopped][-1]["buttons"]] == ["Track an order", "Talk to a person"]
    assert all("email address or phone number used" not in texts(reply) for reply in replies[stopped:])
    assert sum(texts(reply).count("Please give the email address") for reply in replies) <= 2
    assert FACTS["refund_processing_time"] in shopper.texts("how long do refunds take?")  # the form is gone


def test_a_new_number_while_the_contact_is_asked_is_a_correction(shopper: RestShopper) -> None:
    first, second = DEMO["orders"][0], DEMO["orders"][8]
    shopper.say("track an order please")
    shopper.say(first["number"])
    corrected = shopper.texts(f"sorry, wrong one, it is {second['number']}")
    assert f"Got it: order {second['number']}" in corrected and "Please give" not in corrected
    assert second["number"] in shopper.texts(second["customer"])
