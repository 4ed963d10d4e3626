"""End to end: the trained assistant, its action server and a seeded shop
database, talked to through Rasa's REST channel exactly as the gateway does."""
from __future__ import annotations

from typing import Dict, List

import pytest
import yaml

from actions.policy import template_vars
from bot import paths
from tests.bot.facts import stated_facts
from tests.bot.rest import RestShopper, handoffs

FACTS = template_vars()
ROLES = ["shopper", "vendor", "provider"]
HANDOFF_KEYS = {"queue", "reason", "priority", "summary", "context"}


def _faq_intents() -> List[str]:
    """Intents that a rule answers with a response straight away."""
    rules = yaml.safe_load((paths.DATA / "rules.yml").read_text())["rules"]
    intents = []
    for rule in rules:
        steps = rule.get("steps", [])
        if (len(steps) == 2 and "intent" in steps[0] and not rule.get("condition")
                and str(steps[1].get("action", "")).startswith("utter_")):
            intents.append(steps[0]["intent"])
    return sorted(set(intents))


def _demo_order(status: str) -> Dict:
    demo = yaml.safe_load(paths.DEMO_SHOP.read_text())
    return next(o for o in demo["orders"] if o["status"] == status)


@pytest.fixture
def shopper(rasa_stack) -> RestShopper:
    return RestShopper(rasa_stack.rasa_url, role="shopper")


@pytest.mark.parametrize("role", ROLES)
def test_every_answer_states_only_policy_facts(rasa_stack, role: str) -> None:
    """Each FAQ answer, for each role: filled in, and every email, phone number
    and window it states is one of policy.yml's."""
    allowed = stated_facts("\n".join(FACTS.values()))
    intents = _faq_intents()
    assert len(intents) >= 25
    for intent in intents:
        text = RestShopper(rasa_stack.rasa_url, role=role).texts(f"/{intent}")
        assert text.strip(), f"no answer to {intent}"
        assert "{" not in text, f"unfilled placeholder in the answer to {intent}: {text}"
        stated = stated_facts(text)
        for kind, values in stated.items():
            assert values <= allowed[kind], f"{intent} ({role}) states {values - allowed[kind]}"


@pytest.mark.parametrize("role, mailbox", [("shopper", "support_email"),
                                           ("vendor", "vendor_support_email"),
                                           ("provider", "provider_support_email")])
def test_email_answer_depends_on_the_role_from_metadata(rasa_stack, role: str, mailbox: str) -> None:
    text = RestShopper(rasa_stack.rasa_url, role=role).texts("what email address can I write to?")
    assert FACTS[mailbox] in text


def test_role_stated_in_conversation_changes_the_answer(rasa_stack) -> None:
    person = RestShopper(rasa_stack.rasa_url, role=None)
    person.texts("hello")
    person.texts("I'm a vendor on Kara")
    assert FACTS["vendor_support_email"] in person.texts("which email do I contact for support?")


def test_questions_in_natural_language(shopper: RestShopper) -> None:
    assert FACTS["refund_processing_time"] in shopper.texts("how long do refunds take?")
    assert FACTS["phone"] in shopper.texts("abeg wetin be your phone number")
    assert FACTS["company_address"] in shopper.texts("where is your office located?")


def test_track_a_verified_order(shopper: RestShopper) -> None:
    order = _demo_order("shipped")
    assert "order number" in shopper.texts("where is my order?").lower()
    assert "email" in shopper.texts(order["number"]).lower()
    answer = shopper.texts(order["customer"])
    shipment = order["shipments"][0]
    assert order["number"] in answer
    assert shipment["carrier"] in answer and shipment["tracking_number"] in answer
    assert order["items"][0]["product"] in answer


def test_wrong_email_and_unknown_order_get_the_same_answer(rasa_stack) -> None:
    order = _demo_order("shipped")
    wrong = RestShopper(rasa_stack.rasa_url, role="shopper")
    wrong.texts("track my order")
    wrong.texts(order["number"])
    wrong_answer = wrong.texts("someone.else@example.com")
    unknown = RestShopper(rasa_stack.rasa_url, role="shopper")
    unknown.texts("track my order")
    unknown.texts("KH-999999")
    unknown_answer = unknown.texts("someone.else@example.com")
    assert "no order matches" in wrong_answer.lower()
    assert wrong_answer == unknown_answer
    assert order["shipments"][0]["tracking_number"] not in wrong_answer


def test_three_failed_checks_lock_out_and_offer_a_person(shopper: RestShopper) -> None:
    order = _demo_order("shipped")
    answers = []
    for attempt in range(3):
        shopper.texts("track my order")
        shopper.texts(order["number"])
        answers.append(shopper.texts(f"guess{attempt}@example.com"))
    assert "person" in answers[-1].lower()
    # Now even the right email is not checked any more.
    shopper.texts("track my order")
    locked = shopper.texts(order["number"]) + shopper.texts(order["customer"])
    assert order["shipments"][0]["tracking_number"] not in locked


def test_security_issue_hands_off_with_the_contract_payload(shopper: RestShopper) -> None:
    messages = shopper.say("someone hacked my account and placed orders I did not make")
    text = "\n".join(m.get("text") or "" for m in messages)
    assert "password" in text.lower()
    [handoff] = handoffs(messages)
    assert set(handoff) == HANDOFF_KEYS
    assert handoff["queue"] == "security"
    assert handoff["context"]["role"] == "shopper"
    assert isinstance(handoff["priority"], int) and handoff["summary"]


def test_malpractice_mentions_regulators_and_goes_to_disputes(rasa_stack) -> None:
    patient = RestShopper(rasa_stack.rasa_url, role="shopper")
    messages = patient.say("the doctor I booked on Kara was negligent and gave me the wrong treatment")
    text = "\n".join(m.get("text") or "" for m in messages).lower()
    assert "regulat" in text
    assert handoffs(messages)[0]["queue"] == "disputes"


def test_provider_emergency_line_has_the_highest_priority(rasa_stack) -> None:
    provider = RestShopper(rasa_stack.rasa_url, role="provider", line="emergency")
    emergency = handoffs(provider.say("/provider_emergency"))[0]
    person = handoffs(RestShopper(rasa_stack.rasa_url, role="shopper").say("/request_human"))[0]
    assert emergency["queue"] == "emergency" and person["queue"] == "general"
    assert emergency["priority"] > person["priority"]
    assert emergency["context"]["line"] == "emergency"


def test_asking_for_a_person_hands_off(shopper: RestShopper) -> None:
    assert handoffs(shopper.say("abeg let me talk to a real human agent"))[0]["queue"] == "general"


def test_out_of_scope_gets_help_not_a_handoff(shopper: RestShopper) -> None:
    messages = shopper.say("who won the football match yesterday?")
    assert handoffs(messages) == []
    assert "order" in "\n".join(m.get("text") or "" for m in messages).lower()


def test_gibberish_once_helps_twice_hands_off(shopper: RestShopper) -> None:
    first = shopper.say("sdfkj qwpoe zmxnv")
    assert handoffs(first) == [] and first
    second = shopper.say("lkjhg asdpoi qwe")
    assert handoffs(second)[0]["queue"] == "general"
