"""validate_order_form: canonical values, clear hints for garbage, nothing asked when locked."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.order_form import BAD_CONTACT_TEXT, BAD_ORDER_NUMBER_TEXT, ValidateOrderForm

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
