"""validate_order_form: canonical values, clear hints for garbage, nothing asked when locked."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.order_form import BAD_CONTACT_TEXT, BAD_ORDER_NUMBER_TEXT, ActionOffTopicInForm, ValidateOrderForm

FORM = ValidateOrderForm()
DOMAIN = {"forms": {"order_form": {"required_slots": ["order_number", "order_contact"]}}}


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("KH-204518", "KH-204518"),
        ("kh204518", "KH-204518"),
        ("it's KH 204518 please", "KH-204518"),
        ("204518", None),
        ("KH-204518' OR '1'='1", "KH-204518"),  # the number is in there; the rest is dropped
        ("'; DROP TABLE orders; --", None),
        ("\u202e\u0000garbage", None),
    ],
)
def test_order_number(make_tracker, typed: str, stored) -> None:
    dispatcher = CollectingDispatcher()
    result = FORM.validate_order_number(typed, dispatcher, make_tracker(), DOMAIN)
    assert result == {"order_number": stored}
    assert [m["text"] for m in dispatcher.messages] == ([] if stored else [BAD_ORDER_NUMBER_TEXT])


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("  Adaeze.Okafor@Example.com ", "adaeze.okafor@example.com"),
        ("my email is ada@example.com.", "ada@example.com"),
        ("+234 803 555 0142", "08035550142"),
        ("call 0803-555-0142", "08035550142"),
        ("12345", None),
        ("x' OR '1'='1", None),
        ("", None),
    ],
)
def test_order_contact(make_tracker, typed: str, stored) -> None:
    dispatcher = CollectingDispatcher()
    result = FORM.validate_order_contact(typed, dispatcher, make_tracker(), DOMAIN)
    assert result == {"order_contact": stored}
    assert [m["text"] for m in dispatcher.messages] == ([] if stored else [BAD_CONTACT_TEXT])


def test_locked_form_asks_for_nothing(make_tracker) -> None:
    slots = ["order_number", "order_contact"]
    dispatcher = CollectingDispatcher()
    locked = make_tracker(slots={"verification_failures": 3.0})
    assert asyncio.run(FORM.required_slots(slots, dispatcher, locked, DOMAIN)) == []
    open_ = make_tracker(slots={"verification_failures": 2.0})
    assert asyncio.run(FORM.required_slots(slots, dispatcher, open_, DOMAIN)) == slots


def test_locked_form_deactivates_through_the_sdk(make_tracker, run_action) -> None:
    tracker = make_tracker(slots={"verification_failures": 3.0, "requested_slot": "order_number"}, intent="track_order")
    messages, events = run_action(FORM, tracker, DOMAIN)
    assert {"event": "slot", "timestamp": None, "name": "requested_slot", "value": None} in events


# ------------------------------------------------------ no question forever

def _rejections(count: int) -> list:
    """A form started, then ``count`` answers it rejected."""
    events = [{"event": "active_loop", "name": "order_form"}]
    for _ in range(count):
        events += [{"event": "user", "text": "hmm"}, {"event": "bot", "text": BAD_CONTACT_TEXT}]
    return events


@pytest.mark.parametrize("typed", ["ok", "Continue", "okay!", "go on", "yes"])
def test_going_on_after_a_question_gets_the_question_again_without_a_reproach(make_tracker, typed: str) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=typed, events=_rejections(1))
    assert FORM.validate_order_contact(typed, dispatcher, tracker, DOMAIN) == {"order_contact": None}
    assert dispatcher.messages == []


def test_the_third_unusable_answer_ends_the_form(make_tracker) -> None:
    dispatcher = CollectingDispatcher()
    second = FORM.validate_order_contact("no idea", dispatcher, make_tracker(text="no idea", events=_rejections(1)),
                                         DOMAIN)
    assert second == {"order_contact": None}
    assert [m["text"] for m in dispatcher.messages] == [BAD_CONTACT_TEXT]
    dispatcher = CollectingDispatcher()
    third = FORM.validate_order_contact("still no", dispatcher, make_tracker(text="still no", events=_rejections(2)),
                                        DOMAIN)
    assert third == {"order_contact": None, "requested_slot": None}  # the form ends here
    assert dispatcher.messages == []  # action_handle_order says what happens next


def test_rejections_count_from_the_forms_last_start(make_tracker) -> None:
    events = _rejections(2) + [{"event": "active_loop", "name": None}] + _rejections(1)
    dispatcher = CollectingDispatcher()
    result = FORM.validate_order_number("abc", dispatcher, make_tracker(text="abc", events=events), DOMAIN)
    assert result == {"order_number": None}
    assert [m["text"] for m in dispatcher.messages] == [BAD_ORDER_NUMBER_TEXT]


def test_a_new_order_number_while_asked_for_the_contact_is_a_correction(make_tracker) -> None:
    tracker = make_tracker(text="sorry, the order is KH-204520 not 519", events=_rejections(0))
    tracker.latest_message["entities"] = [{"entity": "order_number", "value": "KH-204520"}]
    dispatcher = CollectingDispatcher()
    assert FORM.validate_order_contact(tracker.latest_message["text"], dispatcher, tracker, DOMAIN) == {
        "order_contact": None}
    assert [m["text"] for m in dispatcher.messages] == ["Got it: order KH-204520."]


def test_the_form_stops_asking_after_its_sixth_question_whatever_came_between(make_tracker) -> None:
    asked = [{"event": "active_loop", "name": "order_form"}]
    for _ in range(5):
        asked += [{"event": "bot", "text": "?", "metadata": {"utter_action": "utter_ask_order_contact"}},
                  {"event": "user", "text": "what is the weather"},
                  {"event": "bot", "text": "Sorry, that's outside ...", "metadata": {"utter_action": "utter_out_of_scope"}}]
    domain = {**DOMAIN, "slots": {}}
    fifth = asyncio.run(FORM.run(CollectingDispatcher(), make_tracker(events=list(asked)), domain))
    assert {"event": "slot", "name": "requested_slot", "value": None, "timestamp": None} not in fifth
    asked.append({"event": "bot", "text": "?", "metadata": {"utter_action": "utter_ask_order_contact"}})
    sixth = asyncio.run(FORM.run(CollectingDispatcher(), make_tracker(events=asked), domain))
    assert [e for e in sixth if e.get("name") == "requested_slot"][-1]["value"] is None  # the form ends


@pytest.mark.parametrize("typed, said", [
    ("who won the league last night?", "utter_out_of_scope"),  # a question: the out-of-scope answer
    ("what is the capital of Ghana", "utter_out_of_scope"),
    ("by the way who won the match", "utter_out_of_scope"),  # the question word is not first
    ("the one with the vitamins", BAD_ORDER_NUMBER_TEXT),  # an attempt at the answer: the hint
    ("carry on", None),  # the question again, nothing else
])
def test_off_topic_while_the_form_asks(make_tracker, typed: str, said) -> None:
    tracker = make_tracker(text=typed, intent="out_of_scope", slots={"requested_slot": "order_number"},
                           events=_rejections(0))
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionOffTopicInForm().run(dispatcher, tracker, DOMAIN))
    got = [m.get("response") or m.get("text") for m in dispatcher.messages]
    assert got == ([said] if said else [])


def test_the_third_off_topic_answer_ends_the_form(make_tracker) -> None:
    tracker = make_tracker(text="the blue one", intent="out_of_scope", slots={"requested_slot": "order_contact"},
                           events=_rejections(2) + [{"event": "user", "text": "the blue one"}])
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionOffTopicInForm().run(dispatcher, tracker, DOMAIN))
    assert dispatcher.messages == []  # no third reproach
    events = asyncio.run(FORM.run(CollectingDispatcher(), tracker, {**DOMAIN, "slots": {}}))
    assert [e for e in events if e.get("name") == "requested_slot"][-1]["value"] is None


def test_an_off_topic_answer_with_its_hint_counts_once(make_tracker) -> None:
    events = _rejections(1) + [{"event": "user", "text": "the green one"},
                               {"event": "bot", "text": BAD_CONTACT_TEXT}]  # the second, just given
    tracker = make_tracker(text="the green one", intent="out_of_scope", slots={"requested_slot": "order_contact"},
                           events=events)
    result = asyncio.run(FORM.run(CollectingDispatcher(), tracker, {**DOMAIN, "slots": {}}))
    assert not [e for e in result if e.get("name") == "requested_slot" and e.get("value") is None]
