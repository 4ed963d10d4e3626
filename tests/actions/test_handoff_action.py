"""action_handoff / action_fallback: the text the user sees and the contract payload."""
from __future__ import annotations

import pytest

from actions.handoff_action import ActionFallback, ActionHandoff
from actions.policy import template_vars
from handoff.contract import QUEUE_PRIORITY, parse_handoff

PAYLOAD_KEYS = {"queue", "reason", "priority", "summary", "context"}
CONTEXT_KEYS = {"role", "line", "order_number", "order_verified", "intent", "confidence", "verification_failures",
                "language"}


def split(messages):
    """(texts, handoff payloads) from the dispatcher's messages."""
    texts = [m["text"] for m in messages if m.get("text")]
    payloads = [m["custom"]["handoff"] for m in messages if m.get("custom")]
    return texts, payloads


@pytest.mark.parametrize(
    "intent, queue, reason, says",
    [
        ("report_security_issue", "security", "security_issue", ["change your password now", "{security_email}"]),
        ("report_dispute", "disputes", "dispute", ["{dispute_mediation_time}", "{vendor_evidence_deadline}"]),
        ("report_malpractice", "disputes", "malpractice", ["referred to the relevant regulatory bodies"]),
        ("provider_emergency", "emergency", "provider_emergency", ["on-call healthcare support team, available {always_open}"]),
        ("request_human", "general", "requested_human", ["a person", "{general_response_time}"]),
        ("ask_payments", "general", "ask_payments", ["a person"]),
    ],
)
def test_queue_text_and_payload_per_intent(run_action, make_tracker, intent, queue, reason, says) -> None:
    tracker = make_tracker(
        intent=intent,
        text="Please help, something is wrong with my account",
        slots={"role": "shopper", "line": "chat", "verification_failures": 1.0},
    )
    messages, events = run_action(ActionHandoff(), tracker)
    assert events == []
    texts, payloads = split(messages)
    assert len(texts) == 1 and len(payloads) == 1
    facts = template_vars()
    for fragment in says:
        assert fragment.format(**facts) in texts[0]
    payload = payloads[0]
    assert set(payload) == PAYLOAD_KEYS
    assert (payload["queue"], payload["reason"], payload["priority"]) == (queue, reason, QUEUE_PRIORITY[queue])
    assert set(payload["context"]) == CONTEXT_KEYS
    assert payload["context"]["intent"] == intent and payload["context"]["confidence"] == 0.93
    assert payload["context"]["verification_failures"] == 1
    assert parse_handoff({"handoff": payload}).queue == queue  # the gateway reads it back


def test_summary_is_one_line_with_role_reason_message_and_order(run_action, make_tracker) -> None:
    long_message = "The vendor sent\nthe wrong blood pressure monitor " + "and it does not work at all " * 10
    tracker = make_tracker(
        intent="report_dispute",
        text=long_message,
        slots={"role": "vendor", "order_number": "KH-204518", "order_verified": True},
    )
    _, [payload] = split(run_action(ActionHandoff(), tracker)[0])
    summary = payload["summary"]
    assert "\n" not in summary
    assert summary.startswith("vendor | dispute | in English | \"The vendor sent the wrong blood pressure monitor")
    assert summary.endswith("| order KH-204518")
    quoted = summary.split('"')[1]
    assert len(quoted) <= 140 and quoted.endswith("\u2026")
    assert payload["context"]["order_number"] == "KH-204518" and payload["context"]["order_verified"] is True


def test_button_payload_is_not_the_summarised_message(run_action, make_tracker, user) -> None:
    events = [user("my refund never came", "request_refund"), user("/request_human", "request_human")]
    tracker = make_tracker(intent="request_human", text="/request_human", events=events, slots={})
    _, [payload] = split(run_action(ActionHandoff(), tracker)[0])
    assert '"my refund never came"' in payload["summary"]
    assert payload["summary"].startswith("unknown role | requested human | in English")
    assert payload["context"]["role"] is None


def test_first_misunderstanding_gets_the_help_response(run_action, make_tracker, user) -> None:
    events = [user("hello", "greet"), user("blorp zzz", "nlu_fallback")]
    tracker = make_tracker(intent="nlu_fallback", text="blorp zzz", events=events)
    messages, _ = run_action(ActionFallback(), tracker)
    assert [m["response"] for m in messages] == ["utter_fallback"]
    assert split(messages)[1] == []


def test_second_misunderstanding_in_a_row_hands_off(run_action, make_tracker, user) -> None:
    events = [
        user("hello", "greet"),
        user("blorp zzz", "nlu_fallback"),
        {"event": "action", "name": "action_fallback"},
        {"event": "bot", "text": "help text"},
        {"event": "action", "name": "action_listen"},
        user("qwerty uiop", "nlu_fallback"),
    ]
    tracker = make_tracker(intent="nlu_fallback", text="qwerty uiop", events=events, slots={"role": "shopper"})
    texts, [payload] = split(run_action(ActionFallback(), tracker)[0])
    assert (payload["queue"], payload["reason"]) == ("general", "not_understood")
    assert texts[0].startswith("Sorry, I still didn't understand that.")
    assert '"qwerty uiop"' in payload["summary"]


def test_misunderstandings_not_in_a_row_do_not_hand_off(run_action, make_tracker, user) -> None:
    events = [
        user("blorp", "nlu_fallback"),
        user("where is my order", "track_order"),
        user("qwerty", "nlu_fallback"),
    ]
    tracker = make_tracker(intent="nlu_fallback", text="qwerty", events=events)
    messages, _ = run_action(ActionFallback(), tracker)
    assert [m["response"] for m in messages] == ["utter_fallback"]


def test_a_new_session_resets_the_count(run_action, make_tracker, user) -> None:
    events = [user("blorp", "nlu_fallback"), {"event": "session_started"}, user("qwerty", "nlu_fallback")]
    tracker = make_tracker(intent="nlu_fallback", text="qwerty", events=events)
    messages, _ = run_action(ActionFallback(), tracker)
    assert [m["response"] for m in messages] == ["utter_fallback"]


def test_emergency_line_opened_by_payload_quotes_nothing(run_action, make_tracker) -> None:
    tracker = make_tracker(intent="provider_emergency", text="/provider_emergency",
                           slots={"role": "provider", "line": "emergency"})
    _, [payload] = split(run_action(ActionHandoff(), tracker)[0])
    assert payload["summary"] == "provider | provider emergency | in English"
    assert payload["context"]["line"] == "emergency" and payload["priority"] == QUEUE_PRIORITY["emergency"]


def test_verified_contact_is_the_one_the_order_was_verified_with(run_action, make_tracker) -> None:
    def slot(name, value):
        return {"event": "slot", "name": name, "value": value}

    events = [slot("order_number", "KH-204518"), slot("order_contact", "ADA@Example.com"),
              slot("order_verified", True),
              slot("order_contact", "someone.else@example.com")]  # typed later, not verified
    tracker = make_tracker(intent="request_human", text="a person please", events=events,
                           slots={"role": "shopper", "order_number": "KH-204518", "order_verified": True,
                                  "order_contact": "someone.else@example.com"})
    _, payloads = split(run_action(ActionHandoff(), tracker)[0])
    assert payloads[0]["context"]["verified_contact"] == "ada@example.com"
    by_phone = make_tracker(intent="request_human", text="a person", events=[
        slot("order_contact", "+234 803 746 2283"), slot("order_verified", True)],
        slots={"order_verified": True})
    assert split(run_action(ActionHandoff(), by_phone)[0])[1][0]["context"]["verified_contact"] == "08037462283"
    unverified = make_tracker(intent="request_human", text="a person", events=[
        slot("order_contact", "ada@example.com"), slot("order_verified", False)], slots={"order_verified": False})
    assert "verified_contact" not in split(run_action(ActionHandoff(), unverified)[0])[1][0]["context"]
