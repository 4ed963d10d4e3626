"""action_order_details: details outside the form go on with the request in hand,
and the options question is never asked twice in a row."""
from __future__ import annotations

from rasa_sdk.events import FollowupAction, SlotSet

from actions.order_details import ActionOrderDetails, request_in_text


def _options_event():
    return {"event": "bot", "text": "Thanks! What would you like to do with that order?",
            "metadata": {"utter_action": "utter_order_options"}}


def test_first_bare_number_offers_the_options(run_action, make_tracker) -> None:
    tracker = make_tracker(intent="inform", text="KH-204518", slots={"order_number": "KH-204518"})
    messages, events = run_action(ActionOrderDetails(), tracker)
    assert [m["response"] for m in messages] == ["utter_order_options"] and events == []


def test_details_again_after_the_options_track_the_order(run_action, make_tracker, user) -> None:
    events = [user("KH-204518", "inform"), _options_event(), user("KH-204518", "inform")]
    tracker = make_tracker(intent="inform", text="KH-204518", events=events)
    messages, returned = run_action(ActionOrderDetails(), tracker)
    assert messages == []
    assert SlotSet("order_request", "track") in returned and FollowupAction("order_form") in returned


def test_a_correction_goes_on_with_the_request_in_hand(run_action, make_tracker) -> None:
    tracker = make_tracker(intent="inform", text="no, the other one KH-204526",
                           slots={"order_request": "refund", "order_number": "KH-204526"})
    messages, returned = run_action(ActionOrderDetails(), tracker)
    assert messages == [] and FollowupAction("order_form") in returned
    assert SlotSet("order_verified", False) in returned
    assert not any(e.get("name") == "order_request" for e in returned)


def test_words_in_the_message_name_the_request() -> None:
    assert request_in_text("track KH-204518 ada@example.com") == "track"
    assert request_in_text("KH-204518 I want my money back") == "refund"
    assert request_in_text("please cancel KH-204519") == "cancel"
    assert request_in_text("return KH-204522") == "return"
    assert request_in_text("KH-204518") is None
